using Surge.Core;

namespace Surge.Flow;

/// <summary>Where a seller order ships to: the country (ISO 3166-1 alpha-2) and the region name when a warehouse
/// is in that region (the engine keeps only regions it has warehouses in; null otherwise).</summary>
public readonly record struct Destination(string Country, string? Region);

/// <summary>Units of one SKU reserved in one warehouse for a paid seller order.</summary>
public sealed record PaidLine(SkuDefinition Sku, WarehouseInfo Warehouse, int Quantity);

/// <summary>A seller order whose payment was confirmed, with everything fulfillment needs, as of that record.</summary>
public sealed record PaidOrder(long OrderId, long ParentId, long SellerId, long BuyerId, long PaidAtMs, Destination Destination,
    IReadOnlyList<PaidLine> Lines);

/// <summary>What happened to a seller order in one journal record.</summary>
public enum FactKind : byte
{
    Placed = 1,
    Paid = 2,
    Cancelled = 3,
    StatusAdvanced = 4,
}

/// <summary>A change of a seller order's status, in journal order: the input of customer and merchant updates.
/// <see cref="AtMs"/> is the time of the batch that made it (the engine's clock, Unix ms).</summary>
public readonly record struct OrderFact(FactKind Kind, long OrderId, OrderStatus Status, CancelReason CancelReason, long AtMs, long SellerId = 0);
