using System.Diagnostics;
using HdrHistogram;
using Surge.Journal;

namespace Surge.Benchmarks;

public sealed record JournalBenchOptions(
    string? Directory = null,
    double PhaseSeconds = 5,
    int Appenders = 64,
    int BurstRecords = 64,
    int SingleRecordAppenders = 2048,
    int RecordBytes = 128);

public sealed record JournalBenchResult(
    int RecordBytes,
    double FsyncP50Ms,
    double FsyncP99Ms,
    int Appenders,
    int BurstRecords,
    double RecordsPerS,
    double RecordsPerGroup,
    double FullLoadAckP50Ms,
    double FullLoadAckP99Ms,
    int SingleRecordAppenders,
    double RecordsPerSOneAtATime,
    double OneAtATimeAckP99Ms,
    double HalfRateRecordsPerS,
    double HalfRateAckP50Ms,
    double AckP99Ms,
    double AckP99MinusFsyncP99Ms,
    double HalfRateCommitP50MsAtMost,
    double HalfRateCommitP99MsAtMost,
    double TargetHalfRateRecordsPerS,
    double TargetHalfRateAckP50Ms,
    double TargetHalfRateAckP99Ms,
    double TargetHalfRateCommitP99MsAtMost,
    double IdealHalfRateAckP50Ms,
    double IdealHalfRateAckP99Ms,
    long CompactEveryBytes,
    long HalfRateRefusedRecords = 0,
    long TargetHalfRateRefusedRecords = 0,
    int PartitionJournals = 0,
    int AppendersPerJournal = 0,
    double PerJournalSyncRecordsPerS = 0,
    double PerJournalSyncAckP50Ms = 0,
    double PerJournalSyncAckP99Ms = 0,
    double SharedCommitRecordsPerS = 0,
    double SharedCommitAckP50Ms = 0,
    double SharedCommitAckP99Ms = 0,
    double SharedCommitGroupsPerRound = 0);

/// <summary>
/// Durable 128-byte records per second through the segment journal, run the way partitions use it:
/// many concurrent appenders, each appending its micro-batch of records and awaiting the last ticket,
/// with a snapshot and compaction every <see cref="CompactEveryBytes"/> as a partition's policy does.
/// Also: appenders that await every single record, ack latency at half the full rate (open loop), and
/// the raw fdatasync latency of the same disk measured in the same run as the baseline.
/// </summary>
public static class JournalBenchmark
{
    public static readonly long CompactEveryBytes = new SnapshotPolicy().SnapshotEveryBytes;

    /// <summary>The durable-records target of the journal (records/s); its half is a second latency point.</summary>
    public const double TargetRecordsPerS = 1_500_000;
    private const long HistogramMaxTicks = 10L * TimeSpan.TicksPerSecond;
    private const double WarmUpSeconds = 3;

    public static async Task<JournalBenchResult> RunAsync(JournalBenchOptions o, Action<string, double>? progress, CancellationToken token)
    {
        var root = o.Directory ?? Path.Combine(Path.GetTempPath(), "surge-bench-journal");
        var work = Path.Combine(root, $"run-{Environment.ProcessId}-{Environment.TickCount64}");
        Directory.CreateDirectory(work);
        try
        {
            progress?.Invoke("raw fdatasync latency", 0);
            var fsync = MeasureFsync(Path.Combine(work, "fsync"), o.PhaseSeconds);
            progress?.Invoke($"{o.Appenders} appenders × {o.BurstRecords}-record bursts", 0);
            var full = await RunPhaseAsync(Path.Combine(work, "full"), o, o.Appenders, o.BurstRecords, token);
            progress?.Invoke($"{o.SingleRecordAppenders} appenders awaiting every record", 0);
            var single = await RunPhaseAsync(Path.Combine(work, "single"), o, o.SingleRecordAppenders, 1, token);
            var halfRate = full.RecordsPerS / 2;
            progress?.Invoke($"open loop at half rate ({halfRate:F0}/s)", 0);
            var half = await FixedRateAsync(Path.Combine(work, "half"), o, halfRate, token);
            var targetHalf = TargetRecordsPerS / 2;
            progress?.Invoke($"open loop at half the 1.5 M/s target ({targetHalf:F0}/s)", 0);
            var atTargetHalf = await FixedRateAsync(Path.Combine(work, "target-half"), o, targetHalf, token);
            progress?.Invoke("ideal group commit on the raw disk at the same half rate", 0);
            var ideal = MeasureIdealGroupCommit(Path.Combine(work, "ideal"), (o.RecordBytes + RecordFormat.RecordHeaderBytes) * half.RecordsPerS, o.PhaseSeconds);
            var ackP99 = Ms(half.Latency, 99);
            var commitP50 = CommitStats.PercentileMicros(half.Commits, 50) / 1000.0;
            var commitP99 = CommitStats.PercentileMicros(half.Commits, 99) / 1000.0;
            var fsyncP99 = Ms(fsync, 99);
            progress?.Invoke($"{PartitionJournals} journals, each with its own writer and fdatasync", 0);
            var perJournal = await PartitionJournalsAsync(Path.Combine(work, "per-journal"), o, shared: false, token);
            progress?.Invoke($"{PartitionJournals} journals sharing one group commit", 0);
            var sharedCommit = await PartitionJournalsAsync(Path.Combine(work, "shared"), o, shared: true, token);
            return new JournalBenchResult(o.RecordBytes, Ms(fsync, 50), fsyncP99, o.Appenders, o.BurstRecords, full.RecordsPerS,
                full.RecordsPerGroup, Ms(full.Latency, 50), Ms(full.Latency, 99), o.SingleRecordAppenders, single.RecordsPerS,
                Ms(single.Latency, 99), half.RecordsPerS, Ms(half.Latency, 50), ackP99, ackP99 - fsyncP99, commitP50, commitP99,
                atTargetHalf.RecordsPerS, Ms(atTargetHalf.Latency, 50), Ms(atTargetHalf.Latency, 99),
                CommitStats.PercentileMicros(atTargetHalf.Commits, 99) / 1000.0, Ms(ideal, 50), Ms(ideal, 99), CompactEveryBytes,
                half.Refused, atTargetHalf.Refused, PartitionJournals, AppendersPerJournal,
                perJournal.RecordsPerS, Ms(perJournal.Latency, 50), Ms(perJournal.Latency, 99),
                sharedCommit.RecordsPerS, Ms(sharedCommit.Latency, 50), Ms(sharedCommit.Latency, 99), sharedCommit.GroupsPerRound);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Journals of a node, as its partitions use them (the server's default partition count).</summary>
    public const int PartitionJournals = 16;

    /// <summary>Appenders per journal in the many-journal phases, each awaiting every record (a partition's batch of one
    /// command: what small carts spread over many partitions produce).</summary>
    public const int AppendersPerJournal = 4;

    /// <summary><see cref="PartitionJournals"/> journals in sibling directories of one disk, each with
    /// <see cref="AppendersPerJournal"/> appenders that append one record and await it: with a writer thread and an
    /// fdatasync per journal, or with one <see cref="GroupCommitter"/> for all of them (one device flush per round).</summary>
    private static async Task<(double RecordsPerS, LongHistogram Latency, double GroupsPerRound)> PartitionJournalsAsync(
        string directory, JournalBenchOptions o, bool shared, CancellationToken token)
    {
        using var committer = shared ? new GroupCommitter() : null;
        var options = new JournalOptions { SegmentBytesMax = 16L * 1024 * 1024, Committer = committer };
        var journals = Enumerable.Range(0, PartitionJournals)
            .Select(j => SegmentJournal.Open(new DirectoryStorage(Path.Combine(directory, j.ToString("D4"))), options)).ToArray();
        try
        {
            var run = await ClosedLoopAsync(o, PartitionJournals * AppendersPerJournal, i => journals[i % PartitionJournals], burst: 1,
                () => (committer?.Groups ?? 0, committer?.Stats.Commits ?? 0), token);
            var groupsPerRound = committer is null ? 1 : (double)run.Counted.First / Math.Max(1, run.Counted.Second);
            return (run.RecordsPerS, run.Latency, groupsPerRound);
        }
        finally
        {
            foreach (var journal in journals)
            {
                await journal.DisposeAsync();
            }
        }
    }

    /// <summary>Appenders that each append <paramref name="burst"/> records to their journal and await the last one, over
    /// and over: <see cref="WarmUpSeconds"/> of warm-up, then <see cref="JournalBenchOptions.PhaseSeconds"/> measured.
    /// Returns the durable records measured, per second, each burst's latency, and how much the two counters read by
    /// <paramref name="counters"/> grew while measuring.</summary>
    private static async Task<(long Records, double RecordsPerS, LongHistogram Latency, (long First, long Second) Counted)> ClosedLoopAsync(
        JournalBenchOptions o, int appenders, Func<int, SegmentJournal> journalOf, int burst, Func<(long, long)> counters, CancellationToken token)
    {
        var payload = new byte[o.RecordBytes];
        var histograms = new LongHistogram[appenders];
        var counts = new long[appenders];
        var measuring = false;
        var stop = false;
        var tasks = Enumerable.Range(0, appenders).Select(i => Task.Run(async () =>
        {
            var journal = journalOf(i);
            var h = histograms[i] = new LongHistogram(HistogramMaxTicks, 3);
            while (!Volatile.Read(ref stop))
            {
                var start = Stopwatch.GetTimestamp();
                AppendTicket last = default;
                for (var r = 0; r < burst; r++)
                {
                    last = journal.Append(payload);
                }
                await last.Durable.ConfigureAwait(false);
                if (Volatile.Read(ref measuring))
                {
                    h.RecordValue(TicksSince(start));
                    counts[i] += burst;
                }
            }
        }, token)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(WarmUpSeconds), token);
        var before = counters();
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(o.PhaseSeconds), token);
        Volatile.Write(ref measuring, false);
        clock.Stop();
        var after = counters();
        Volatile.Write(ref stop, true);
        await Task.WhenAll(tasks);
        var merged = new LongHistogram(HistogramMaxTicks, 3);
        foreach (var h in histograms)
        {
            merged.Add(h);
        }
        var records = counts.Sum();
        return (records, records / clock.Elapsed.TotalSeconds, merged, (after.Item1 - before.Item1, after.Item2 - before.Item2));
    }

    private static double Ms(LongHistogram h, double percentile) =>
        h.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;

    private static long TicksSince(long timestamp) =>
        (long)((Stopwatch.GetTimestamp() - timestamp) * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency));

    /// <summary>The disk's own latency: 4 KiB appended then fdatasync, repeated.</summary>
    private static LongHistogram MeasureFsync(string directory, double seconds)
    {
        var storage = new DirectoryStorage(directory);
        using var file = storage.Open("fsync.bin", create: true);
        var block = new byte[4096];
        var histogram = new LongHistogram(HistogramMaxTicks, 3);
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency / 2);
        long offset = 0;
        while (Stopwatch.GetTimestamp() < deadline || histogram.TotalCount < 200)
        {
            var start = Stopwatch.GetTimestamp();
            file.Write(offset, block);
            file.Sync();
            histogram.RecordValue(TicksSince(start));
            offset += block.Length;
        }
        return histogram;
    }

    /// <summary>
    /// The best any group commit could do on this disk at a given byte rate: a zero-filled file, and a loop
    /// that writes every byte due so far in one write, fdatasyncs, and repeats — no records, no locks, no
    /// tasks. The latency of a byte is from when it became due to the end of the sync that covered it.
    /// </summary>
    private static LongHistogram MeasureIdealGroupCommit(string directory, double bytesPerSecond, double seconds)
    {
        var storage = new DirectoryStorage(directory);
        using var file = storage.Open("ideal.bin", create: true);
        var total = (long)(bytesPerSecond * seconds) + (1 << 20);
        var zeros = new byte[1 << 20];
        for (long offset = 0; offset < total; offset += zeros.Length)
        {
            file.Write(offset, zeros);
        }
        file.Sync();
        var data = new byte[64 << 20];
        var histogram = new LongHistogram(HistogramMaxTicks, 3);
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(seconds * Stopwatch.Frequency);
        long written = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var now = Stopwatch.GetTimestamp();
            var due = Math.Min(total, (long)(bytesPerSecond * (now - start) / Stopwatch.Frequency));
            if (due <= written)
            {
                Thread.Yield();
                continue;
            }
            var firstDueAt = start + (long)(written / bytesPerSecond * Stopwatch.Frequency);
            var chunk = (int)Math.Min(due - written, data.Length);
            file.Write(written, data.AsSpan(0, chunk));
            file.Sync();
            histogram.RecordValueWithCount(TicksSince(firstDueAt), Math.Max(1, chunk / 144));
            written += chunk;
        }
        return histogram;
    }

    /// <summary>Snapshots (a few bytes: the records carry no state here) and compacts every
    /// <see cref="CompactEveryBytes"/> of records made durable, like a partition's snapshot policy.</summary>
    private static async Task MaintainAsync(SegmentJournal journal, int recordBytes, Func<bool> running, CancellationToken token)
    {
        var recordsPerSnapshot = CompactEveryBytes / (recordBytes + RecordFormat.RecordHeaderBytes);
        var last = 0L;
        while (running())
        {
            var durable = journal.DurableSequence;
            if (durable - last >= recordsPerSnapshot)
            {
                await journal.WriteSnapshotAsync(durable, s => s.WriteByte(0), token);
                journal.Compact();
                last = durable;
            }
            await Task.Delay(20, token);
        }
    }

    private static async Task<(double RecordsPerS, double RecordsPerGroup, LongHistogram Latency)> RunPhaseAsync(
        string directory, JournalBenchOptions o, int appenders, int burst, CancellationToken token)
    {
        await using var journal = SegmentJournal.Open(new DirectoryStorage(directory));
        var stop = false;
        var maintenance = MaintainAsync(journal, o.RecordBytes, () => !Volatile.Read(ref stop), token);
        // The warm-up lets compaction start freeing segments before the clock runs.
        var run = await ClosedLoopAsync(o, appenders, _ => journal, burst, () => (journal.GroupCommits, 0), token);
        Volatile.Write(ref stop, true);
        await maintenance;
        return (run.RecordsPerS, (double)run.Records / Math.Max(1, run.Counted.First), run.Latency);
    }

    /// <summary>Open loop at a fixed rate: records are appended on schedule (every millisecond, the ones due)
    /// whether or not earlier ones are durable yet. A record's ack latency is taken as the time from the first
    /// append of its batch into the same group to that group's completion (an upper bound), counted from when that
    /// append was due on the schedule, so a generator that fell behind does not hide the wait (no coordinated omission). When the disk falls
    /// behind the rate, the journal refuses appends (backpressure): those records are counted as refused and the
    /// generator goes on with the next ones due, as a server answering 503 would.</summary>
    private static async Task<(double RecordsPerS, LongHistogram Latency, long[] Commits, long Refused)> FixedRateAsync(string directory, JournalBenchOptions o, double rate, CancellationToken token)
    {
        await using var journal = SegmentJournal.Open(new DirectoryStorage(directory));
        var payload = new byte[o.RecordBytes];
        var histogram = new LongHistogram(HistogramMaxTicks, 3);
        var pending = new List<Task>();
        var stop = false;
        var maintenance = MaintainAsync(journal, o.RecordBytes, () => !Volatile.Read(ref stop), token);
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(WarmUpSeconds * Stopwatch.Frequency);
        long[]? commitsBefore = null;
        var deadline = measureFrom + (long)(o.PhaseSeconds * Stopwatch.Frequency);
        long sent = 0, measured = 0, refused = 0;
        Task? group = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var due = (long)(rate * (Stopwatch.GetTimestamp() - start) / Stopwatch.Frequency);
            var groupFirstStamp = 0L;
            var groupRecords = 0;
            for (; sent < due; sent++)
            {
                var stamp = Stopwatch.GetTimestamp();
                AppendTicket ticket;
                try
                {
                    ticket = journal.Append(payload);
                }
                catch (JournalBackpressureException)
                {
                    refused += stamp < measureFrom ? 0 : due - sent;
                    sent = due;
                    break;
                }
                if (stamp < measureFrom)
                {
                    continue;
                }
                commitsBefore ??= journal.Stats.Counts();
                measured++;
                if (!ReferenceEquals(ticket.Durable, group))
                {
                    Track(group, groupFirstStamp, groupRecords);
                    group = ticket.Durable;
                    groupRecords = 0;
                }
                if (groupRecords++ == 0)
                {
                    groupFirstStamp = start + (long)(sent / rate * Stopwatch.Frequency); // when it was due, not when the generator got to it
                }
            }
            Track(group, groupFirstStamp, groupRecords);
            await Task.Delay(1, token);
        }

        // Every record of a group counts with the latency of the group's oldest record: an upper bound that
        // keeps the generator free of per-record bookkeeping.
        void Track(Task? durable, long firstStamp, int records)
        {
            if (durable is null || records == 0)
            {
                return;
            }
            pending.Add(durable.ContinueWith(_ =>
            {
                var latency = TicksSince(firstStamp);
                lock (histogram)
                {
                    histogram.RecordValueWithCount(latency, records);
                }
            }, token, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        }
        await Task.WhenAll(pending);
        var commits = journal.Stats.Counts().Zip(commitsBefore ?? new long[CommitStats.Buckets], (a, b) => a - b).ToArray();
        Volatile.Write(ref stop, true);
        await maintenance;
        return (measured / o.PhaseSeconds, histogram, commits, refused);
    }
}
