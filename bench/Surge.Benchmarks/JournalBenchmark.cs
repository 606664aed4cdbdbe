using System.Diagnostics;
using HdrHistogram;
using Surge.Journal;

namespace Surge.Benchmarks;

public sealed record JournalBenchOptions(string? Directory = null, double PhaseSeconds = 5, int Appenders = 2048, int RecordBytes = 128);

public sealed record JournalBenchResult(
    int RecordBytes,
    int Appenders,
    double FsyncP50Ms,
    double FsyncP99Ms,
    double RecordsPerS,
    double RecordsPerGroup,
    double FullLoadAckP50Ms,
    double FullLoadAckP99Ms,
    double HalfRateRecordsPerS,
    double HalfRateAckP50Ms,
    double AckP99Ms,
    double AckP99MinusFsyncP99Ms);

/// <summary>
/// Durable records per second through the segment journal with many concurrent appenders, ack latency at
/// full load and at half that rate (open loop), and the raw fdatasync latency of the same disk measured
/// in the same run as the baseline the ack latency is compared with.
/// </summary>
public static class JournalBenchmark
{
    private const long HistogramMaxTicks = 10L * TimeSpan.TicksPerSecond;

    public static async Task<JournalBenchResult> RunAsync(JournalBenchOptions o, Action<string, double>? progress, CancellationToken token)
    {
        var root = o.Directory ?? Path.Combine(Path.GetTempPath(), "surge-bench-journal");
        var work = Path.Combine(root, $"run-{Environment.ProcessId}-{Environment.TickCount64}");
        Directory.CreateDirectory(work);
        try
        {
            progress?.Invoke("raw fdatasync latency", 0);
            var fsync = MeasureFsync(Path.Combine(work, "fsync"), o.PhaseSeconds);
            progress?.Invoke("full load", 0);
            var full = await FullLoadAsync(Path.Combine(work, "full"), o, token);
            var halfRate = full.RecordsPerS / 2;
            progress?.Invoke("half rate", 0);
            var half = await FixedRateAsync(Path.Combine(work, "half"), o, halfRate, token);
            var ackP99 = Ms(half.Latency, 99);
            var fsyncP99 = Ms(fsync, 99);
            return new JournalBenchResult(o.RecordBytes, o.Appenders, Ms(fsync, 50), fsyncP99, full.RecordsPerS, full.RecordsPerGroup,
                Ms(full.Latency, 50), Ms(full.Latency, 99), half.RecordsPerS, Ms(half.Latency, 50), ackP99, ackP99 - fsyncP99);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
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

    private static async Task<(double RecordsPerS, double RecordsPerGroup, LongHistogram Latency)> FullLoadAsync(string directory, JournalBenchOptions o, CancellationToken token)
    {
        await using var journal = SegmentJournal.Open(new DirectoryStorage(directory));
        var payload = new byte[o.RecordBytes];
        var histograms = new LongHistogram[o.Appenders];
        var stop = false;
        var counts = new long[o.Appenders];
        var groupsBefore = journal.GroupCommits;
        var clock = Stopwatch.StartNew();
        var appenders = Enumerable.Range(0, o.Appenders).Select(i => Task.Run(async () =>
        {
            var h = histograms[i] = new LongHistogram(HistogramMaxTicks, 3);
            while (!Volatile.Read(ref stop))
            {
                var start = Stopwatch.GetTimestamp();
                await journal.Append(payload).Durable.ConfigureAwait(false);
                h.RecordValue(TicksSince(start));
                counts[i]++;
            }
        }, token)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(o.PhaseSeconds), token);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(appenders);
        clock.Stop();
        var total = counts.Sum();
        var merged = new LongHistogram(HistogramMaxTicks, 3);
        foreach (var h in histograms)
        {
            merged.Add(h);
        }
        var groups = journal.GroupCommits - groupsBefore;
        return (total / clock.Elapsed.TotalSeconds, (double)total / Math.Max(1, groups), merged);
    }

    /// <summary>Open loop at a fixed rate: records are appended on schedule whether or not earlier ones are
    /// durable yet, and each record's ack latency is the time from its append to its group's completion.</summary>
    private static async Task<(double RecordsPerS, LongHistogram Latency)> FixedRateAsync(string directory, JournalBenchOptions o, double rate, CancellationToken token)
    {
        await using var journal = SegmentJournal.Open(new DirectoryStorage(directory));
        var payload = new byte[o.RecordBytes];
        var histogram = new LongHistogram(HistogramMaxTicks, 3);
        var pending = new List<Task>();
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(o.PhaseSeconds * Stopwatch.Frequency);
        long sent = 0;
        Task? group = null;
        List<long>? stamps = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var due = (long)(rate * (Stopwatch.GetTimestamp() - start) / Stopwatch.Frequency);
            for (; sent < due; sent++)
            {
                var stamp = Stopwatch.GetTimestamp();
                var ticket = journal.Append(payload);
                if (!ReferenceEquals(ticket.Durable, group))
                {
                    group = ticket.Durable;
                    stamps = [];
                    var mine = stamps;
                    pending.Add(group.ContinueWith(_ =>
                    {
                        lock (histogram)
                        {
                            foreach (var s in mine)
                            {
                                histogram.RecordValue(TicksSince(s));
                            }
                        }
                    }, token, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
                }
                lock (histogram)
                {
                    stamps!.Add(stamp);
                }
            }
            await Task.Delay(1, token);
        }
        await Task.WhenAll(pending);
        var seconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        return (sent / seconds, histogram);
    }
}
