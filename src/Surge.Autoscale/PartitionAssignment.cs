namespace Surge.Autoscale;

/// <summary>
/// Where each partition lives: spread evenly over the active silos, each partition on the silo that ranks highest for
/// it among those with room (rendezvous hashing with loads bounded to ⌊partitions / silos⌋ or one more). Every silo
/// computes the same answer from the same silo list, and a silo joining or leaving moves little more than its own
/// share (a fifth silo joining four moves about 8 of 32 partitions; 6.4 is the least possible). Pure: the server's
/// placement director and the capacity simulator (`surge sim`) call the same code.
/// </summary>
public static class PartitionAssignment
{
    /// <summary>For each partition 0..<paramref name="partitions"/>-1, the index in <paramref name="silos"/> of the
    /// silo it belongs on. The silos' order does not matter (they are ranked by their names). Costs
    /// O(partitions × silos): 4,096 partitions over 1,000 silos take a few milliseconds.</summary>
    public static int[] Assign(int partitions, IReadOnlyList<string> silos)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partitions);
        if (silos.Count == 0)
        {
            throw new ArgumentException("no silo to place partitions on", nameof(silos));
        }
        // Every silo gets ⌊partitions / silos⌋ or one more; the first (partitions mod silos) to reach the floor may go on.
        var floor = partitions / silos.Count;
        var extras = partitions % silos.Count;
        var load = new int[silos.Count];
        var keys = new ulong[silos.Count];
        for (var s = 0; s < keys.Length; s++)
        {
            keys[s] = Fnv(silos[s]);
        }
        var assignment = new int[partitions];
        for (var p = 0; p < partitions; p++)
        {
            // The highest-ranked silo with room: highest score, then the lower name (ordinal) on a tie.
            var chosen = -1;
            var best = 0UL;
            for (var s = 0; s < keys.Length; s++)
            {
                if (!(load[s] < floor || (load[s] == floor && extras > 0)))
                {
                    continue;
                }
                var score = Score(keys[s], p);
                if (chosen < 0 || score > best || (score == best && string.CompareOrdinal(silos[s], silos[chosen]) < 0))
                {
                    (chosen, best) = (s, score);
                }
            }
            if (load[chosen] == floor)
            {
                extras--;
            }
            load[chosen]++;
            assignment[p] = chosen;
        }
        return assignment;
    }

    /// <summary>The silo (by name) partition <paramref name="partition"/> belongs on.</summary>
    public static string SiloFor(int partition, int partitions, IReadOnlyList<string> silos) => silos[Assign(partitions, silos)[partition]];

    private static ulong Score(ulong siloKey, int partition)
    {
        // SplitMix64 finalizer over the pair: a well-mixed, stable score (string.GetHashCode is randomized per process).
        var z = siloKey ^ ((ulong)partition * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return hash;
    }
}
