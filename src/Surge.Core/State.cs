using System.Runtime.InteropServices;

namespace Surge.Core;

/// <summary>Stock of one SKU in one warehouse. Invariants: 0 ≤ Reserved ≤ OnHand and Received = OnHand + Sold.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct StockCell
{
    /// <summary>Net units put into this cell by receipts and adjustments.</summary>
    public long Received;
    public long Sold;
    public int OnHand;
    public int Reserved;

    public readonly int Available => OnHand - Reserved;
}

/// <summary>Hot per-SKU state (the descriptive catalog is kept as the <see cref="SkuDefinition"/> last upserted).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct SkuState
{
    public long SellerId;
    public long FlashStartsAtMs;
    public int PerBuyerLimit; // 0 = no limit
    public int Flags;

    public const int FlashSaleFlag = 1;
    public readonly bool IsFlashSale => (Flags & FlashSaleFlag) != 0;
}

/// <summary>One seller order (48 bytes). Its reservations are <see cref="AllocationCount"/> entries of the
/// allocation arena starting at <see cref="AllocationStart"/>; an order always has at least one, and its seller
/// is the seller of their SKUs.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct OrderRecord
{
    public long OrderId;
    public long ParentId;
    public long BuyerId;
    public long ExpiresAtMs;
    public long PlacedAtMs;
    public int AllocationStart;
    public ushort AllocationCount;
    public OrderStatus Status;
    public CancelReason CancelReason;
}

/// <summary>Units of one SKU taken from one warehouse for one order.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct Allocation
{
    public int Sku;
    public short Warehouse;
    /// <summary>Bit 0: these units count against the buyer's flash-sale limit.</summary>
    public byte Flags;
    public byte Reserved0;
    public int Quantity;

    public const byte CountsAgainstLimitFlag = 1;
    public readonly bool CountsAgainstLimit => (Flags & CountsAgainstLimitFlag) != 0;
}

/// <summary>A state change produced by the engine. Fixed 32-byte layout; which fields are meaningful
/// depends on <see cref="Kind"/> (unused ones are zero). <see cref="EventKind.OrderPlaced"/> carries the
/// destination: <see cref="Warehouse"/> is the ship region reference (-1 when no warehouse is in that region,
/// see <see cref="Engine.RegionName"/>) and <see cref="Quantity"/> the packed ship country (<see cref="CountryCode"/>).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct EngineEvent
{
    public long OrderId;
    /// <summary>A time (placed/expired at, Unix ms) or a signed amount, by kind.</summary>
    public long Value;
    public int Sku;
    public int Warehouse;
    public int Quantity;
    public EventKind Kind;
    public OrderStatus Status;
    public CancelReason CancelReason;
    public byte Reserved0;
}

/// <summary>The answer to one command of a batch: accepted (<see cref="Reason"/> is None) or rejected with
/// a stable reason, plus the slice of <see cref="Engine.Events"/> it produced.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct CommandOutcome
{
    /// <summary>The order id, SKU reference or warehouse reference the command was about.</summary>
    public long Ref;
    public int FirstEvent;
    public int EventCount;
    public CommandKind Kind;
    public RejectReason Reason;
    /// <summary>A keyed command seen before: this is the first answer again, and nothing was applied now.</summary>
    public bool Replayed;
    public byte Reserved0;

    public readonly bool Accepted => Reason == RejectReason.None;
}

public sealed record WarehouseInfo(string Code, string Region, string Country);

/// <summary>A read-only copy of a seller order for queries and replies.</summary>
public sealed record OrderSnapshot(
    long OrderId,
    long ParentId,
    long BuyerId,
    long SellerId,
    OrderStatus Status,
    CancelReason CancelReason,
    long PlacedAtMs,
    long ExpiresAtMs,
    IReadOnlyList<Allocation> Allocations);

public readonly record struct StockTotals(long OnHand, long Reserved, long Available, long Sold, long Received);

public readonly record struct EngineStats(
    int Skus,
    int Warehouses,
    int Orders,
    int LiveReservations,
    int Allocations,
    int BuyerLimits,
    long StateBytes,
    long RetiredOrders = 0,
    int RetirementBlocks = 0);

public sealed class InvariantViolationException(string message) : Exception(message);
