using System.Globalization;
using Surge.Core;

namespace Surge.ReadModel;

/// <summary>A line of a seller order as the read model keeps it: the SKU code, the warehouse code, the units and the
/// SKU's price per unit when the order was placed (minor units of the order's currency).</summary>
public readonly record struct OrderLineRow(string Sku, string Warehouse, int Quantity, long UnitPriceMinor);

/// <summary>A seller order as placed (the projector's input for a new row).</summary>
public sealed record PlacedOrder(long OrderId, long ParentId, long SellerId, long BuyerId, long PlacedAtMs, string Currency, OrderLineRow[] Lines);

/// <summary>One change the projector found in a journal record: an order placed, or a seller order's new status.
/// <see cref="Seeded"/>: an order or status taken from an engine's state (seeding), which may be any distance from the last one
/// and may have been written before by a seed cut short.</summary>
public readonly record struct OrderChange(long Sequence, long AtMs, long OrderId, PlacedOrder? Placed, OrderStatus Status, CancelReason Reason)
{
    public bool Seeded { get; init; }

    public static OrderChange Place(long sequence, PlacedOrder order) =>
        new(sequence, order.PlacedAtMs, order.OrderId, order, OrderStatus.PendingPayment, CancelReason.None);

    public static OrderChange To(long sequence, long atMs, long orderId, OrderStatus status, CancelReason reason) =>
        new(sequence, atMs, orderId, null, status, reason);
}

/// <summary>What one step of a partition's projector writes: its changes, in journal order, and the position it reached
/// (the last record it read and that record's time); <see cref="Records"/>: how many journal records it covers.</summary>
public sealed record ProjectionBatch(int Partition, long Sequence, long RecordAtMs, IReadOnlyList<OrderChange> Changes)
{
    public int Records { get; init; }
}

/// <summary>A seller order read from the read model.</summary>
public sealed record OrderRow(long OrderId, long ParentId, int Partition, long SellerId, long BuyerId, OrderStatus Status, CancelReason CancelReason,
    long PlacedAtMs, long UpdatedAtMs, int Units, long AmountMinor, string Currency, IReadOnlyList<OrderLineRow> Lines);

/// <summary>One step of a seller order's status history.</summary>
public readonly record struct StatusStep(OrderStatus Status, CancelReason Reason, long AtMs);

/// <summary>Units and revenue of a SKU's paid seller orders placed on one UTC day (days since 1970-01-01).</summary>
public readonly record struct SkuDay(string Sku, int Day, long Units, long RevenueMinor);

/// <summary>How far the read model is in a partition's journal.</summary>
public readonly record struct ProjectionPosition(int Partition, long Sequence, long RecordAtMs);

/// <summary>Which of a seller's orders a listing wants (every field optional; the date range is on placement time,
/// from inclusive, to exclusive, Unix ms).</summary>
public sealed record OrderFilter(OrderStatus? Status = null, long? FromMs = null, long? ToMs = null, long? BuyerId = null, string? Sku = null);

/// <summary>Where a listing goes on: after the order placed at <see cref="PlacedAtMs"/> with id <see cref="OrderId"/>
/// (listings run oldest first by placement time, then id). Its text form is opaque to clients.</summary>
public readonly record struct OrderCursor(long PlacedAtMs, long OrderId)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{PlacedAtMs}.{OrderId}");

    public static bool TryParse(string text, out OrderCursor cursor)
    {
        cursor = default;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !long.TryParse(text.AsSpan(0, dot), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var at)
            || !long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return false;
        }
        cursor = new OrderCursor(at, id);
        return true;
    }
}

/// <summary>A page of a listing and the cursor of the next one (null: this was the last).</summary>
public sealed record OrderPage(IReadOnlyList<OrderRow> Orders, OrderCursor? Next);

/// <summary>Which statuses count as sold in <c>rm_sku_days</c>: paid or further, not cancelled.</summary>
public static class SoldStatuses
{
    public static bool Counts(OrderStatus status) => status is not (OrderStatus.None or OrderStatus.PendingPayment or OrderStatus.Cancelled);
}
