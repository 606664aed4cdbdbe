using Surge.ReadModel;

namespace Surge.Server;

/// <summary>
/// The read model as the API sees it: its store (one database for the node, or the cluster's shared one) and how far
/// it is behind any partition, wherever that partition is projected — this node's projection for the partitions it
/// hosts, the hosting silo's (a call to the partition's grain, which answers from figures it keeps, without waiting for
/// a round) for the others.
/// </summary>
public sealed class ReadModelRouting(ReadModelProjection local, Gateway gateway)
{
    /// <summary>How often a wait for a partition projected on another silo asks that silo again.</summary>
    public static readonly TimeSpan RemotePoll = TimeSpan.FromMilliseconds(20);

    public ReadModelStore Store => local.Store;

    /// <summary>How far the read model is behind <paramref name="partition"/>; null when its silo keeps no read model.</summary>
    public async Task<ProjectionStatus?> StatusAsync(int partition)
    {
        if (local.StatusOf(partition) is { } here)
        {
            return here;
        }
        var view = await gateway.Grain(partition).ReadModelStatus();
        return view is null ? null : new ProjectionStatus(view.Partition, view.Position, view.LagRecords, view.LagSeconds);
    }

    /// <summary>How far the read model is behind each of <paramref name="partitions"/> (those whose silo keeps one).</summary>
    public async Task<IReadOnlyList<ProjectionStatus>> StatusAsync(IEnumerable<int> partitions) =>
        [.. (await Task.WhenAll(partitions.Select(StatusAsync))).OfType<ProjectionStatus>()];

    /// <summary>Waits until the read model holds every record of <paramref name="partition"/> that was durable when
    /// called, for at most <paramref name="within"/>; true when it does.</summary>
    public async Task<bool> CatchUpAsync(int partition, TimeSpan within, CancellationToken cancellationToken = default)
    {
        if (local.StatusOf(partition) is not null)
        {
            return await local.CatchUpAsync(partition, within, cancellationToken);
        }
        var deadline = TimeProvider.System.GetTimestamp() + (long)(within.TotalSeconds * TimeProvider.System.TimestampFrequency);
        if (await StatusAsync(partition) is not { } first)
        {
            return false;
        }
        var target = first.Position + first.LagRecords;
        for (var status = first; status.Position < target;)
        {
            if (TimeProvider.System.GetTimestamp() >= deadline)
            {
                return false;
            }
            await Task.Delay(RemotePoll, cancellationToken);
            if (await StatusAsync(partition) is not { } next)
            {
                return false;
            }
            status = next;
        }
        return true;
    }
}
