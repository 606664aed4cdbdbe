using System.Collections.Concurrent;
using System.Threading.Channels;
using Surge.Core;
using Surge.Flow;

namespace Surge.Application;

/// <summary>One step of an order's timeline as the buyer sees it. <see cref="Key"/> identifies the step (stable
/// across rebuilds, so a live stream sends each step once).</summary>
public sealed record TimelineEntry(string Key, string Status, long? AtMs, string Message, string? ShipmentId = null, string? RawCode = null);

/// <summary>
/// The buyer's timeline of an order, rebuilt from what Surge knows: placed (the order), paid and shipment
/// planned (when fulfillment planned it), handed to the carrier (with its tracking number), every tracking event
/// of every shipment, and cancellation. Pure: the same order and shipments give the same entries.
/// </summary>
public static class OrderTimeline
{
    public static List<TimelineEntry> Build(OrderView order, Func<long, IReadOnlyList<ShipmentState>> shipmentsOf,
        Func<string, string?> carrierName, string language)
    {
        var entries = new List<TimelineEntry> { new("placed", "placed", order.PlacedAtMs, Messages.Render(language, "placed")) };
        var shipments = order.SellerOrders.SelectMany(c => shipmentsOf(c.Id)).ToList();
        if (order.Status == OrderStatus.Cancelled)
        {
            var timeout = order.SellerOrders.Any(c => c.CancelReason == CancelReason.PaymentTimeout);
            entries.Add(new TimelineEntry("cancelled", "cancelled", timeout ? order.ExpiresAtMs : null, Messages.Render(language, "cancelled")));
            return entries;
        }
        if (shipments.Count == 0)
        {
            return entries; // paid or not, nothing more is known until fulfillment plans it (milliseconds after payment)
        }
        var paidAt = shipments.Min(s => s.Plan.PlannedAtMs);
        entries.Add(new TimelineEntry("paid", "paid", paidAt, Messages.Render(language, "paid")));
        foreach (var warehouse in shipments.GroupBy(s => s.Plan.WarehouseCode).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            entries.Add(new TimelineEntry($"planned:{warehouse.Key}", "shipment_planned", paidAt,
                Messages.Render(language, "shipment_planned", new Dictionary<string, string?> { ["warehouse"] = warehouse.Key })));
        }
        var later = new List<TimelineEntry>();
        foreach (var shipment in shipments)
        {
            if (shipment.TrackingNumber is { } tracking)
            {
                var carrier = shipment.Plan.CarrierId is { } id ? carrierName(id) ?? id : "";
                later.Add(new TimelineEntry($"dispatched:{shipment.Id}", "handed_to_carrier", shipment.DispatchedAtMs,
                    Messages.Render(language, "handed_to_carrier", new Dictionary<string, string?> { ["carrier"] = carrier, ["tracking_number"] = tracking }),
                    shipment.Id));
            }
            foreach (var update in shipment.Tracking)
            {
                later.Add(new TimelineEntry($"tracking:{update.EventId}", update.Status, update.AtMs,
                    Messages.Render(language, update.Status, new Dictionary<string, string?> { ["description"] = update.Description }),
                    shipment.Id, update.RawCode));
            }
        }
        entries.AddRange(later.OrderBy(e => e.AtMs).ThenBy(e => e.Key, StringComparer.Ordinal));
        return entries;
    }

    /// <summary>True once nothing more will happen to the order (delivered, cancelled, returned).</summary>
    public static bool IsFinal(OrderView order) => order.Status is OrderStatus.Delivered or OrderStatus.Cancelled or OrderStatus.Returned;
}

/// <summary>
/// Wakes the live streams that watch an order when something about it changed (a fact from the journal, a
/// dispatch, a tracking event). A watcher is a channel of capacity one: many changes before it looks coalesce
/// into one wake-up, and it rebuilds the timeline from the source of truth, so nothing can be missed.
/// </summary>
public sealed class OrderWatchers
{
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<Channel<bool>, byte>> _byOrder = new();

    /// <summary>Streams open now.</summary>
    public int Count => _byOrder.Values.Sum(w => w.Count);

    public Watch Subscribe(long parent)
    {
        var channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        _byOrder.GetOrAdd(parent, _ => new ConcurrentDictionary<Channel<bool>, byte>())[channel] = 0;
        return new Watch(this, parent, channel);
    }

    public void Notify(long parent)
    {
        if (_byOrder.TryGetValue(parent, out var watchers))
        {
            foreach (var channel in watchers.Keys)
            {
                channel.Writer.TryWrite(true);
            }
        }
    }

    public sealed class Watch(OrderWatchers owner, long parent, Channel<bool> channel) : IDisposable
    {
        public ChannelReader<bool> Changes => channel.Reader;

        public void Dispose()
        {
            if (owner._byOrder.TryGetValue(parent, out var watchers))
            {
                watchers.TryRemove(channel, out _);
                if (watchers.IsEmpty)
                {
                    owner._byOrder.TryRemove(new KeyValuePair<long, ConcurrentDictionary<Channel<bool>, byte>>(parent, watchers));
                }
            }
        }
    }
}
