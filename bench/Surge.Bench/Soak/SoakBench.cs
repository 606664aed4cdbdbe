using System.Diagnostics;
using HdrHistogram;
using Surge.Application;
using Surge.Core;
using Surge.Journal;
using Surge.ReadModel;

namespace Surge.Bench.Soak;

/// <summary>What <c>bench soak</c> runs: how many orders, how fast, over how many partitions, on a clock running
/// <see cref="TimeFactor"/> times real time (so holds, deliveries and the retention pass within the run).</summary>
public sealed record SoakOptions(long Orders, int Partitions, double OrdersPerSecond, int Samples, string? Directory)
{
    /// <summary>Simulated seconds per real second: a 1-hour retention passes in 60 s.</summary>
    public const double TimeFactor = 60;

    /// <summary>The retention of final orders (simulated): the server's minimum.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    /// <summary>Rounds per real second: each round is one batch per partition with every lifecycle step due.</summary>
    public const int RoundsPerSecond = 20;

    /// <summary>The points at which the partitions are stopped and recovered, as fractions of the run (10 M, 25 M and 50 M of
    /// the default 50 M).</summary>
    public static readonly double[] RecoverAt = [0.2, 0.5, 1.0];
}

/// <summary>One sample along the run. Byte counts of the engine are its tables' sizes (<see cref="EngineStats.StateBytes"/>).</summary>
public sealed record SoakSample(long OrdersProcessed, double ElapsedS, long EngineBytes, long LiveOrders, long RetiredOrders, long RssBytes,
    long SnapshotBytes, double? RecoveryS, double ReadModelLagS, long ReadModelLagRecords, double ListingP99Ms, double LookupP99Ms);

public sealed record SoakResult(long Orders, int Partitions, double TargetOrdersPerS, double OrdersPerS, long Acknowledged, long InEngines,
    long InReadModel, long Lost, double EngineBytesPerLiveOrder, IReadOnlyList<SoakSample> Samples, IReadOnlyDictionary<string, long> Refused);

/// <summary>
/// The whole lifecycle of many orders on the engine, the journals and the read model, in this process: each round one
/// batch per partition places new orders and moves earlier ones along — paid one round later, then allocated,
/// dispatched and delivered (the statuses the fulfillment stage and the carrier's tracking give them) — and retires
/// them an hour (simulated) after delivery. The read model projects every partition meanwhile, and a reader queries
/// it (a seller's listing, an order by id) as a seller portal would. Sampled along the way: engine bytes, live and
/// retired orders, process RSS, snapshot size, read-model lag and query p99; at 20 %, 50 % and 100 % of the run the
/// partitions are closed and recovered from disk (recovery time; the page cache is warm). At the end every
/// acknowledged order must be in an engine (live or retired) and in the read model.
/// </summary>
public static class SoakBench
{
    private const long Seller0 = 1;
    private const int SkusPerPartition = 100;
    private const int ListingPageOrders = 50;

    /// <summary>How long the final wait for the read model's backlog may go without it shrinking before the run counts
    /// what is missing as lost: longer than any one commit of a backlog takes (over a minute with a 23 GB database on a
    /// busy machine, in the 50 M run).</summary>
    private static readonly TimeSpan CatchUpStallMax = TimeSpan.FromMinutes(10);

    public static async Task<SoakResult> RunAsync(SoakOptions o, Action<string, double> progress, CancellationToken token)
    {
        var root = Path.Combine(o.Directory ?? Path.GetTempPath(), $"surge-soak-{Environment.ProcessId}-{Environment.TickCount64}");
        Directory.CreateDirectory(root);
        try
        {
            return await RunInAsync(root, o, progress, token);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The simulated clock: <see cref="SoakOptions.TimeFactor"/> times real time from the start.</summary>
    private sealed class FastClock(long startMs) : TimeProvider
    {
        private readonly long _origin = Stopwatch.GetTimestamp();

        public long NowMs => startMs + (long)(Stopwatch.GetElapsedTime(_origin).TotalMilliseconds * SoakOptions.TimeFactor);

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(NowMs);
    }

    private static async Task<SoakResult> RunInAsync(string root, SoakOptions o, Action<string, double> progress, CancellationToken token)
    {
        var clock = new FastClock(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var committer = new GroupCommitter();
        var partitions = new DurablePartition[o.Partitions];
        using var store = ReadModelStore.OpenSqlite(Path.Combine(root, "read-model", "orders.db"));
        await using var projection = new ReadModelProjection(store,
            p => new DirectoryStorage(Path.Combine(root, "read-model", "checkpoints", p.ToString("D4", System.Globalization.CultureInfo.InvariantCulture))),
            new ProjectorOptions { RecordsPerStep = 64 }, clock);
        // The server's journal settings: 16 MiB segments, a snapshot (and compaction) every 64 MiB of journal.
        DurablePartition Recover(int p)
        {
            var journal = SegmentJournal.Open(new DirectoryStorage(Path.Combine(root, "partitions", p.ToString("D4", System.Globalization.CultureInfo.InvariantCulture))),
                new JournalOptions { SegmentBytesMax = new Server.StorageOptions().SegmentBytesMax, Committer = committer });
            var partition = DurablePartition.Recover(journal, new EngineOptions(ExpectedSkus: SkusPerPartition, ExpectedOrders: 1 << 16)); // tables grow as needed
            partition.Policy = new SnapshotPolicy(new Server.StorageOptions().SnapshotEveryBytes);
            return partition;
        }
        for (var p = 0; p < o.Partitions; p++)
        {
            partitions[p] = Recover(p);
            projection.OnPartitionOpened(p, partitions[p].Journal);
        }
        var writer = new CommandWriter(1 << 20);
        for (var p = 0; p < o.Partitions; p++)
        {
            writer.Begin(clock.NowMs).UpsertWarehouse("wh-1", "seoul", "KR").ConfigureRetention((long)SoakOptions.Retention.TotalMilliseconds, Ids.ChildIdBlockBits);
            for (var s = 0; s < SkusPerPartition; s++)
            {
                writer.UpsertSku(new SkuDefinition(Seller0 + p, $"sku-{s}", $"Item {s}", "misc", 300, 10, 10, 10, TemperatureClass.Ambient, false, 1_000 + s, "KRW"))
                    .ReceiveStock(s, 0, Limits.StockMovementUnitsMax); // 100 M units a SKU: never sold out
            }
            await partitions[p].Submit(writer.Written).Durable;
        }
        projection.Start();

        // Lifecycle: orders placed in round r are paid in r+1, allocated in r+2, dispatched in r+3, delivered in r+4.
        OrderStatus[] steps = [OrderStatus.Allocated, OrderStatus.Dispatched, OrderStatus.Delivered];
        var perRound = Math.Max(1, (int)Math.Ceiling(o.OrdersPerSecond / SoakOptions.RoundsPerSecond / o.Partitions));
        var rounds = (o.Orders + (long)perRound * o.Partitions - 1) / ((long)perRound * o.Partitions);
        var placedIn = new long[o.Partitions][][];
        for (var p = 0; p < o.Partitions; p++)
        {
            placedIn[p] = new long[5][];
        }
        long sequence = 0, acknowledged = 0, processed = 0;
        var samples = new List<SoakSample>();
        var sampleEvery = Math.Max(1, o.Orders / Math.Max(1, o.Samples));
        var nextSample = sampleEvery;
        var recoverAt = new Queue<long>(SoakOptions.RecoverAt.Select(f => (long)(f * o.Orders)));
        var started = Stopwatch.StartNew();

        // A seller portal reading the read model meanwhile: listings of a random seller, lookups of a recent order.
        var listing = new LongHistogram(TimeSpan.TicksPerMinute, 3);
        var lookup = new LongHistogram(TimeSpan.TicksPerMinute, 3);
        var readerGate = new Lock();
        using var stopReader = new CancellationTokenSource();
        var recentParent = 0L;
        var reader = Task.Run(async () =>
        {
            var random = new Random(7);
            while (!stopReader.IsCancellationRequested)
            {
                var t = Stopwatch.GetTimestamp();
                store.SellerOrders(Seller0 + random.Next(o.Partitions), new OrderFilter(Status: random.Next(2) == 0 ? OrderStatus.Delivered : null), null, ListingPageOrders);
                var listed = Stopwatch.GetElapsedTime(t).Ticks;
                t = Stopwatch.GetTimestamp();
                store.OrdersOfParent(Interlocked.Read(ref recentParent));
                var looked = Stopwatch.GetElapsedTime(t).Ticks;
                lock (readerGate)
                {
                    listing.RecordValue(Math.Clamp(listed, 1, TimeSpan.TicksPerMinute));
                    lookup.RecordValue(Math.Clamp(looked, 1, TimeSpan.TicksPerMinute));
                }
                try
                {
                    await Task.Delay(5, stopReader.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }, CancellationToken.None);

        double? recovery = null;
        var refused = new Dictionary<string, long>(StringComparer.Ordinal);
        var stopped = TimeSpan.Zero; // spent stopped for recovery: not part of the paced run
        var snapshots = new List<Task>(); // written in the background; awaited before a journal closes
        for (long round = 0; round < rounds && !token.IsCancellationRequested; round++)
        {
            var tickets = new Task[o.Partitions];
            for (var p = 0; p < o.Partitions; p++)
            {
                var slots = placedIn[p];
                var fresh = new long[perRound];
                var now = clock.NowMs;
                writer.Begin(now);
                for (var i = 0; i < perRound; i++)
                {
                    var parent = Ids.Parent(++sequence, 1, p);
                    fresh[i] = Ids.Child(parent, 0);
                    writer.PlaceOrder(fresh[i], parent, sequence % 100_003, Seller0 + p, now + 15 * 60_000, 0, CountryCode.Pack("KR"),
                        [new OrderLine((int)(sequence % SkusPerPartition), 1)]);
                }
                foreach (var id in slots[0] ?? [])
                {
                    writer.ConfirmPayment(id);
                }
                for (var s = 0; s < steps.Length; s++)
                {
                    foreach (var id in slots[s + 1] ?? [])
                    {
                        writer.AdvanceStatus(id, steps[s]);
                    }
                }
                Array.Copy(slots, 0, slots, 1, slots.Length - 1);
                slots[0] = fresh;
                var partition = partitions[p];
                var ticket = partition.Submit(writer.Written);
                var outcomes = partition.Engine.Outcomes;
                for (var i = 0; i < perRound; i++)
                {
                    if (outcomes[i].Accepted)
                    {
                        acknowledged++;
                    }
                    else
                    {
                        refused[outcomes[i].Reason.ToCode()] = refused.GetValueOrDefault(outcomes[i].Reason.ToCode()) + 1;
                    }
                }
                tickets[p] = ticket.Durable;
                if (partition.SnapshotDue)
                {
                    snapshots.Add(partition.SnapshotAsync(token));
                }
            }
            await Task.WhenAll(tickets);
            Interlocked.Exchange(ref recentParent, Ids.ParentOf(placedIn[0][0]![0]));
            processed += (long)perRound * o.Partitions;
            // Paced: round r is due at r / RoundsPerSecond seconds, not counting the stops for recovery.
            var due = TimeSpan.FromSeconds((round + 1) / (double)SoakOptions.RoundsPerSecond) + stopped;
            if (started.Elapsed < due)
            {
                await Task.Delay(due - started.Elapsed, token);
            }
            if (recoverAt.Count > 0 && processed >= recoverAt.Peek())
            {
                recoverAt.Dequeue();
                progress("recovering the partitions from disk", (double)processed / o.Orders);
                var stop = Stopwatch.StartNew();
                await Task.WhenAll(snapshots);
                snapshots.Clear();
                // Recovery time: every partition's journal opened and its engine rebuilt (snapshot + replay), one after
                // the other, as a restarted node does; the read model's projectors close and reopen outside the timing.
                var t = new Stopwatch();
                for (var p = 0; p < o.Partitions; p++)
                {
                    await projection.OnPartitionClosingAsync(p);
                    await partitions[p].Journal.DisposeAsync();
                    t.Start();
                    partitions[p] = Recover(p);
                    t.Stop();
                    projection.OnPartitionOpened(p, partitions[p].Journal);
                }
                recovery = t.Elapsed.TotalSeconds;
                stopped += stop.Elapsed;
                progress("driving the lifecycle", (double)processed / o.Orders);
            }
            if (processed >= nextSample || round == rounds - 1)
            {
                nextSample += sampleEvery;
                samples.Add(Sample(processed, started.Elapsed.TotalSeconds, partitions, projection, clock, recovery, listing, lookup, readerGate));
                recovery = null;
                progress("driving the lifecycle", (double)processed / o.Orders);
            }
        }
        var elapsed = (started.Elapsed - stopped).TotalSeconds;
        await Task.WhenAll(snapshots);
        await stopReader.CancelAsync();
        await reader;

        // Every acknowledged order is in an engine (live or retired) and, once the projection has caught up, in the read model.
        progress("waiting for the read model to catch up", 1);
        // However long the backlog takes, as long as the projection moves: a minute without progress ends the wait.
        var stalled = Stopwatch.StartNew();
        var backlog = long.MaxValue;
        while (projection.Status().Sum(s => s.LagRecords) is var left && left > 0 && stalled.Elapsed < CatchUpStallMax)
        {
            if (left < backlog)
            {
                backlog = left;
                stalled.Restart();
            }
            await Task.Delay(100, token);
        }
        var inEngines = partitions.Sum(p => p.Engine.OrderCount + p.Engine.RetiredOrders);
        var inReadModel = store.CountOrders();
        var lost = Math.Max(acknowledged - inEngines, acknowledged - inReadModel);
        var last = samples.Count > 0 ? samples[^1] : null;
        foreach (var p in partitions)
        {
            await projection.OnPartitionClosingAsync(Array.IndexOf(partitions, p));
            await p.Journal.DisposeAsync();
        }
        committer.Dispose();
        return new SoakResult(o.Orders, o.Partitions, o.OrdersPerSecond, processed / elapsed, acknowledged, inEngines, inReadModel, Math.Max(0, lost),
            last is null || last.LiveOrders == 0 ? 0 : (double)last.EngineBytes / last.LiveOrders, samples, refused);
    }

    private static SoakSample Sample(long processed, double elapsedS, DurablePartition[] partitions, ReadModelProjection projection, FastClock clock,
        double? recovery, LongHistogram listing, LongHistogram lookup, Lock readerGate)
    {
        var stats = partitions.Select(p => p.Engine.Stats()).ToList();
        var lag = projection.Status();
        double listingP99, lookupP99;
        lock (readerGate)
        {
            listingP99 = listing.TotalCount == 0 ? 0 : listing.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond;
            lookupP99 = lookup.TotalCount == 0 ? 0 : lookup.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond;
            listing.Reset();
            lookup.Reset();
        }
        using var self = Process.GetCurrentProcess();
        return new SoakSample(processed, elapsedS, stats.Sum(s => s.StateBytes), stats.Sum(s => (long)s.Orders), stats.Sum(s => s.RetiredOrders), self.WorkingSet64,
            partitions.Sum(p => p.Journal.LatestSnapshot?.Bytes ?? 0), recovery,
            lag.Count == 0 ? 0 : lag.Max(s => s.LagSeconds) / SoakOptions.TimeFactor, lag.Sum(s => s.LagRecords), listingP99, lookupP99);
    }
}
