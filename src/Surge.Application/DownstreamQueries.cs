using System.Globalization;
using Surge.Flow;

namespace Surge.Application;

/// <summary>One partition's downstream figures: its stage's position and lag, its shipments, its carriers.</summary>
public sealed record PartitionFlowStatus(int Partition, long Position, long LagRecords, double LagSeconds, long Orders, long Shipments,
    IReadOnlyList<CarrierHealth> Carriers);

/// <summary>
/// The downstream of each partition, wherever it runs now: the host answers from the local <see cref="PartitionFlow"/>
/// when this node hosts the partition and asks the node that does otherwise (an Orleans grain call). Every member
/// reaches exactly one partition.
/// </summary>
public interface IPartitionFlows
{
    /// <summary>The shipments of these seller orders (all of this partition), by seller order.</summary>
    Task<IReadOnlyList<ShipmentState>> ShipmentsAsync(int partition, IReadOnlyList<long> sellerOrders);

    /// <summary>Stores tracking events of this partition's shipments; returns how many were new.</summary>
    Task<int> RecordTrackingAsync(int partition, IReadOnlyList<TrackingUpdate> updates);

    Task<IReadOnlyList<ShipmentState>> DeadLettersAsync(int partition, string carrierId);

    Task<int> RedriveShipmentsAsync(int partition, string carrierId, IReadOnlyCollection<string>? shipmentIds);

    Task<PartitionFlowStatus> StatusAsync(int partition);

    Task<(int Pending, int Delivered, int DeadLetters)> NotificationCountsAsync(int partition, long subscription);

    Task<int> RedriveNotificationsAsync(int partition, long subscription);

    /// <summary>The partition's latest notifications of one subscription, newest first.</summary>
    Task<IReadOnlyList<NotificationSummary>> RecentNotificationsAsync(int partition, long subscription, int limit);
}

/// <summary>What became of one notification (of the seller order <c>OrderId</c>): delivered, pending (being tried) or
/// dead-lettered (with the reason).</summary>
public sealed record NotificationSummary(string Id, string Type, long OrderId, long AtMs, NotificationState State, string? Reason);

/// <summary>The downstream as the API sees it: the same answers from every silo, gathered from the partitions that hold
/// them (<see cref="IPartitionFlows"/>).</summary>
public sealed class DownstreamQueries(IPartitionFlows flows, IPartitions partitions, OrderSaga orders)
{
    private IEnumerable<int> All => Enumerable.Range(0, partitions.Count);

    /// <summary>The shipments of an order's seller orders, by seller order (empty lists for those not planned yet).</summary>
    public async Task<Dictionary<long, IReadOnlyList<ShipmentState>>> ShipmentsAsync(OrderView order)
    {
        var byPartition = order.SellerOrders.GroupBy(c => partitions.PartitionOf(c.SellerId));
        var found = await Task.WhenAll(byPartition.Select(g => flows.ShipmentsAsync(g.Key, [.. g.Select(c => c.Id)]))).ConfigureAwait(false);
        var shipments = order.SellerOrders.ToDictionary(c => c.Id, _ => (IReadOnlyList<ShipmentState>)[]);
        foreach (var group in found.SelectMany(f => f).GroupBy(s => s.Plan.OrderId))
        {
            shipments[group.Key] = [.. group.OrderBy(s => s.Plan.Index)];
        }
        return shipments;
    }

    /// <summary>Finds the shipments the tracking events name — each in the partition of its seller order — and
    /// returns them by id; a shipment id that is malformed or names no shipment is missing from the answer.</summary>
    public async Task<Dictionary<string, (int Partition, ShipmentState Shipment)>> FindShipmentsAsync(IEnumerable<string> shipmentIds)
    {
        var bySellerOrder = new Dictionary<long, List<string>>();
        foreach (var id in shipmentIds.Distinct(StringComparer.Ordinal))
        {
            if (TryParseShipment(id, out var sellerOrder))
            {
                (bySellerOrder.TryGetValue(sellerOrder, out var list) ? list : bySellerOrder[sellerOrder] = []).Add(id);
            }
        }
        var found = new Dictionary<string, (int, ShipmentState)>(StringComparer.Ordinal);
        foreach (var parent in bySellerOrder.Keys.Select(Ids.ParentOf).Distinct())
        {
            if (await orders.GetAsync(parent).ConfigureAwait(false) is not { } order)
            {
                continue;
            }
            foreach (var child in order.SellerOrders.Where(c => bySellerOrder.ContainsKey(c.Id)))
            {
                var partition = partitions.PartitionOf(child.SellerId);
                foreach (var shipment in await flows.ShipmentsAsync(partition, [child.Id]).ConfigureAwait(false))
                {
                    found[shipment.Id] = (partition, shipment);
                }
            }
        }
        return found;
    }

    /// <summary>Stores tracking events whose shipments <see cref="FindShipmentsAsync"/> found, each in its partition;
    /// returns how many were new.</summary>
    public async Task<int> RecordTrackingAsync(IReadOnlyList<TrackingUpdate> updates, IReadOnlyDictionary<string, (int Partition, ShipmentState Shipment)> shipments)
    {
        var counts = await Task.WhenAll(updates.GroupBy(u => shipments[u.ShipmentId].Partition)
            .Select(g => flows.RecordTrackingAsync(g.Key, [.. g]))).ConfigureAwait(false);
        return counts.Sum();
    }

    /// <summary>A carrier's dead-lettered shipments over every partition, by id.</summary>
    public async Task<List<ShipmentState>> DeadLettersAsync(string carrierId) =>
        [.. (await Task.WhenAll(All.Select(p => flows.DeadLettersAsync(p, carrierId))).ConfigureAwait(false))
            .SelectMany(d => d).OrderBy(s => s.Id, StringComparer.Ordinal)];

    public async Task<int> RedriveShipmentsAsync(string carrierId, IReadOnlyCollection<string>? shipmentIds) =>
        (await Task.WhenAll(All.Select(p => flows.RedriveShipmentsAsync(p, carrierId, shipmentIds))).ConfigureAwait(false)).Sum();

    public async Task<PartitionFlowStatus[]> StatusAsync() => await Task.WhenAll(All.Select(flows.StatusAsync)).ConfigureAwait(false);

    public async Task<(int Pending, int Delivered, int DeadLetters)> NotificationCountsAsync(long subscription)
    {
        var counts = await Task.WhenAll(All.Select(p => flows.NotificationCountsAsync(p, subscription))).ConfigureAwait(false);
        return (counts.Sum(c => c.Pending), counts.Sum(c => c.Delivered), counts.Sum(c => c.DeadLetters));
    }

    /// <summary>A subscription's latest notifications over every partition, newest first, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<NotificationSummary>> RecentNotificationsAsync(long subscription, int limit)
    {
        var found = await Task.WhenAll(All.Select(p => flows.RecentNotificationsAsync(p, subscription, limit))).ConfigureAwait(false);
        return [.. found.SelectMany(f => f).OrderByDescending(n => n.AtMs).ThenByDescending(n => n.Id, StringComparer.Ordinal).Take(limit)];
    }

    public async Task<int> RedriveNotificationsAsync(long subscription) =>
        (await Task.WhenAll(All.Select(p => flows.RedriveNotificationsAsync(p, subscription))).ConfigureAwait(false)).Sum();

    /// <summary>Reads <c>shp_{seller order}_{index}</c>.</summary>
    public static bool TryParseShipment(string id, out long sellerOrder)
    {
        sellerOrder = 0;
        var last = id.LastIndexOf('_');
        return id.StartsWith("shp_", StringComparison.Ordinal) && last > 4
            && long.TryParse(id.AsSpan(4, last - 4), NumberStyles.None, CultureInfo.InvariantCulture, out sellerOrder)
            && int.TryParse(id.AsSpan(last + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }
}
