using Orleans.Placement;
using Orleans.Runtime.Placement;
using Surge.Autoscale;

namespace Surge.Server;

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
