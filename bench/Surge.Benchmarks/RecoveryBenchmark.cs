using System.Diagnostics;
using Surge.Core;
using Surge.Journal;

namespace Surge.Benchmarks;

public sealed record RecoveryBenchOptions(string? Directory = null, int Orders = 10_000_000, int OrdersPerBatch = 1000, int Seed = 7);

public sealed record RecoveryBenchResult(
    int Orders,
    long JournalBytes,
    long SnapshotBytes,
    long SnapshotSequence,
    long ReplayedRecords,
    double OpenS,
    double SnapshotLoadS,
    double ReplayS,
    double RecoveryS,
    long LiveOrders,
    double BytesPerLiveOrder,
    bool StateMatches,
    double WriteS);

/// <summary>
/// Builds a journal of many live (unpaid) orders through a durable partition with the default snapshot
/// policy, then measures a cold recovery: open + newest snapshot + replay of the tail, and the managed
/// memory the recovered partition holds per live order. The recovered state hash must equal the writer's.
/// </summary>
public static class RecoveryBenchmark
{
    private const int ChunkOrders = 1_000_000;
    private const int BatchesPerAwait = 64;

    public static async Task<RecoveryBenchResult> RunAsync(RecoveryBenchOptions o, Action<string, double>? progress, CancellationToken token)
    {
        var root = o.Directory ?? Path.Combine(Path.GetTempPath(), "surge-bench-recovery");
        var work = Path.Combine(root, $"run-{Environment.ProcessId}-{Environment.TickCount64}");
        try
        {
            var (writerHash, writeSeconds) = await WriteJournalAsync(work, o, progress, token);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
            progress?.Invoke("recovering", 0);
            var clock = Stopwatch.StartNew();
            var journal = SegmentJournal.Open(new DirectoryStorage(work));
            var opened = clock.Elapsed;
            var partition = DurablePartition.Recover(journal);
            clock.Stop();
            var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
            var live = partition.Engine.Stats().LiveReservations;
            var matches = partition.Engine.StateHash() == writerHash;
            var files = new DirectoryInfo(work).GetFiles();
            var report = partition.Recovery;
            var result = new RecoveryBenchResult(o.Orders,
                files.Where(f => f.Name.EndsWith(".seg", StringComparison.Ordinal)).Sum(f => f.Length),
                files.Where(f => f.Name.EndsWith(".snap", StringComparison.Ordinal)).Select(f => f.Length).DefaultIfEmpty(0).Max(),
                report.SnapshotSequence, report.ReplayedRecords, opened.TotalSeconds, report.SnapshotLoad.TotalSeconds,
                report.Replay.TotalSeconds, clock.Elapsed.TotalSeconds, live, (double)(memoryAfter - memoryBefore) / Math.Max(1, live),
                matches, writeSeconds);
            await journal.DisposeAsync();
            GC.KeepAlive(partition);
            return result;
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static async Task<(ulong Hash, double Seconds)> WriteJournalAsync(string directory, RecoveryBenchOptions o,
        Action<string, double>? progress, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        var journal = SegmentJournal.Open(new DirectoryStorage(directory));
        var partition = DurablePartition.Recover(journal, new EngineOptions(ExpectedSkus: MarketplaceCatalog.Skus, ExpectedOrders: o.Orders + 16));
        foreach (var batch in MarketplaceCatalog.Setup())
        {
            await partition.Submit(batch).Durable;
        }
        for (var done = 0; done < o.Orders; done += ChunkOrders)
        {
            progress?.Invoke("writing journal", (double)done / o.Orders);
            var chunk = MarketplaceCatalog.OrderBatches(Math.Min(ChunkOrders, o.Orders - done), o.OrdersPerBatch, o.Seed + done, firstOrderId: done + 1);
            for (var i = 0; i < chunk.Count; i++)
            {
                var ticket = partition.Submit(chunk[i]);
                if (i % BatchesPerAwait == BatchesPerAwait - 1 || i == chunk.Count - 1)
                {
                    await ticket.Durable;
                    if (partition.SnapshotDue)
                    {
                        await partition.SnapshotAsync(token);
                    }
                }
            }
        }
        var hash = partition.Engine.StateHash();
        await journal.DisposeAsync();
        return (hash, clock.Elapsed.TotalSeconds);
    }
}
