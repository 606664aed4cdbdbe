using Orleans.Concurrency;
using Surge.Flow;

namespace Surge.Server;

/// <summary>
/// The application's <see cref="IPartitionFlows"/>: a partition's downstream answered where the partition lives. Reads
/// of a partition this silo hosts come from its unit directly; everything else is a call to the partition's grain,
/// which runs on the silo hosting it (Orleans activates it there if it is not active anywhere).
/// </summary>
public sealed class FlowRouting(Gateway gateway, Downstream local) : IPartitionFlows
{
    public async Task<IReadOnlyList<ShipmentState>> ShipmentsAsync(int partition, IReadOnlyList<long> sellerOrders) =>
        local.Unit(partition) is { } unit
            ? unit.Shipments(sellerOrders)
            : ShipmentWire.ReadShipments((await gateway.Grain(partition).Shipments(sellerOrders.ToArray().AsImmutable())).Value);

    public Task<int> RecordTrackingAsync(int partition, IReadOnlyList<TrackingUpdate> updates) =>
        gateway.Grain(partition).RecordTracking(ShipmentWire.Write(updates).AsImmutable());

    public async Task<IReadOnlyList<ShipmentState>> DeadLettersAsync(int partition, string carrierId) =>
        local.Unit(partition) is { } unit
            ? unit.DeadLetters(carrierId)
            : ShipmentWire.ReadShipments((await gateway.Grain(partition).DeadLetters(carrierId)).Value);

    public Task<int> RedriveShipmentsAsync(int partition, string carrierId, IReadOnlyCollection<string>? shipmentIds) =>
        gateway.Grain(partition).RedriveShipments(carrierId, shipmentIds?.ToArray());

    public async Task<PartitionFlowStatus> StatusAsync(int partition)
    {
        if (local.Unit(partition) is { } unit)
        {
            return unit.Status();
        }
        var view = await gateway.Grain(partition).FlowStatus();
        return new PartitionFlowStatus(view.Partition, view.Position, view.LagRecords, view.LagSeconds, view.Orders, view.Shipments,
            [.. view.Carriers.Select(c => new CarrierHealth(c.CarrierId, c.Breaker, c.Queued, c.Sent, c.Failed, c.DeadLetters))]);
    }

    public async Task<(int Pending, int Delivered, int DeadLetters)> NotificationCountsAsync(int partition, long subscription)
    {
        if (local.Unit(partition) is { } unit)
        {
            return unit.Outbox.Counts(subscription);
        }
        var counts = await gateway.Grain(partition).NotificationCounts(subscription);
        return (counts[0], counts[1], counts[2]);
    }

    public Task<int> RedriveNotificationsAsync(int partition, long subscription) => gateway.Grain(partition).RedriveNotifications(subscription);

    public async Task<IReadOnlyList<NotificationSummary>> RecentNotificationsAsync(int partition, long subscription, int limit) =>
        local.Unit(partition) is { } unit
            ? Summaries(unit.Outbox, subscription, limit)
            : [.. (await gateway.Grain(partition).RecentNotifications(subscription, limit)).Select(n => new NotificationSummary(n.Id, n.Type, n.OrderId, n.AtMs, n.State, n.Reason))];

    internal static NotificationSummary[] Summaries(NotificationOutbox outbox, long subscription, int limit) =>
        [.. outbox.Recent(subscription, limit).Select(r => new NotificationSummary(r.Notification.Id, r.Notification.Type, r.Notification.OrderId,
            r.Notification.AtMs, r.State, r.Reason))];

    internal static FlowStatusView View(PartitionFlowStatus status) => new(status.Partition, status.Position, status.LagRecords, status.LagSeconds,
        status.Orders, status.Shipments, [.. status.Carriers.Select(c => new CarrierHealthView(c.CarrierId, c.Breaker, c.Queued, c.Sent, c.Failed, c.DeadLetters))]);
}
