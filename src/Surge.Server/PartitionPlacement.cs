using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Surge.Server;

/// <summary>
/// Where each partition grain lives: spread evenly over the active silos, each partition on the silo that ranks
/// highest for it among those with room (rendezvous hashing with loads bounded to ⌊partitions / silos⌋ or one more). Every silo
/// computes the same answer from the same silo list, and a silo joining or leaving moves little more than its own
/// share (a fifth silo joining four moves about 8 of 32 partitions; 6.4 is the least possible). Pure: tested
/// without a cluster.
/// </summary>
public static class PartitionAssignment
{
    /// <summary>For each partition 0..<paramref name="partitions"/>-1, the index in <paramref name="silos"/> of the
    /// silo it belongs on. The silos' order does not matter (they are ranked by their names).</summary>
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
        var keys = silos.Select(s => Fnv(s)).ToArray();
        var assignment = new int[partitions];
        var ranked = new int[silos.Count];
        for (var p = 0; p < partitions; p++)
        {
            for (var s = 0; s < ranked.Length; s++)
            {
                ranked[s] = s;
            }
            Array.Sort(ranked, (a, b) =>
            {
                var order = Score(keys[b], p).CompareTo(Score(keys[a], p));
                return order != 0 ? order : string.CompareOrdinal(silos[a], silos[b]);
            });
            var chosen = ranked.First(s => load[s] < floor || (load[s] == floor && extras > 0));
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

/// <summary>The placement of partition grains: <see cref="PartitionAssignment"/> over the compatible active silos.</summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class PartitionPlacement : PlacementStrategy
{
    public static PartitionPlacement Instance { get; } = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class PartitionPlacementAttribute() : PlacementAttribute(PartitionPlacement.Instance);

/// <summary>Places (and, when a partition grain asks to move, re-places) a partition on the silo
/// <see cref="PartitionAssignment"/> gives it. Answering the silo it is on already means "stay".</summary>
internal sealed class PartitionPlacementDirector(ServerOptions options) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var partition = (int)target.GrainIdentity.GetIntegerKey();
        if (partition < 0 || partition >= options.Partitions)
        {
            return Task.FromResult(context.LocalSilo); // not a partition of this cluster: the grain refuses it on activation
        }
        return Task.FromResult(silos[PartitionAssignment.Assign(options.Partitions, silos.Select(s => s.ToParsableString()).ToArray())[partition]]);
    }
}

/// <summary>The silos a partition may be placed on, as this silo sees them: active in the membership and known to
/// host grains (in the cluster manifest) — the list the placement director is given, so that a partition that
/// decides to move and the director that places it agree on where.</summary>
internal sealed class SiloRoster(IClusterMembershipService membership, IClusterManifestProvider manifest, ILocalSiloDetails local)
{
    /// <summary>This silo, as <see cref="ActiveSilos"/> names it.</summary>
    public string Local { get; } = local.SiloAddress.ToParsableString();

    public IReadOnlyList<string> ActiveSilos()
    {
        var known = manifest.Current.Silos;
        return membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && known.ContainsKey(m.SiloAddress))
            .Select(m => m.SiloAddress.ToParsableString())
            .ToArray();
    }
}
