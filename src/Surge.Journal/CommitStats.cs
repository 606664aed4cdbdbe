using System.Diagnostics;
using System.Numerics;

namespace Surge.Journal;

/// <summary>
/// Durations of group commits (write + fdatasync) in power-of-two microsecond buckets. Lock-free counters,
/// cheap enough for every commit; the shape Prometheus histograms want.
/// </summary>
public sealed class CommitStats
{
    /// <summary>Bucket i counts commits of at most 2^i µs; the last bucket takes everything longer.</summary>
    public const int Buckets = 28;

    private readonly long[] _counts = new long[Buckets];
    private long _commits;
    private long _sumMicros;

    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Total time spent in group commits since open, in microseconds.</summary>
    public long SumMicros => Interlocked.Read(ref _sumMicros);

    internal void Record(long startTimestamp)
    {
        var micros = (long)(Stopwatch.GetElapsedTime(startTimestamp).TotalMicroseconds);
        var bucket = Math.Min(Buckets - 1, micros <= 1 ? 0 : 64 - BitOperations.LeadingZeroCount((ulong)(micros - 1)));
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _sumMicros, micros);
    }

    /// <summary>Copies of the bucket counts.</summary>
    public long[] Counts()
    {
        var counts = new long[Buckets];
        for (var i = 0; i < Buckets; i++)
        {
            counts[i] = Interlocked.Read(ref _counts[i]);
        }
        return counts;
    }

    /// <summary>Upper bound (µs) of the bucket holding the given percentile of commits in <paramref name="counts"/>.</summary>
    public static long PercentileMicros(long[] counts, double percentile)
    {
        var total = counts.Sum();
        if (total == 0)
        {
            return 0;
        }
        var rank = (long)Math.Ceiling(total * percentile / 100);
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return 1L << i;
            }
        }
        return 1L << (counts.Length - 1);
    }
}
