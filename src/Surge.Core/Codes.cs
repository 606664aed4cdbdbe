namespace Surge.Core;

// Every enum in this file is persisted in journals and snapshots: its numeric values are pinned
// by tests (CodesTests) and must never change. Add new members with new numbers only.

/// <summary>Lifecycle of a seller order. Moves forward only; <see cref="Cancelled"/>, <see cref="Exception"/>
/// and <see cref="Returned"/> are side exits.</summary>
public enum OrderStatus : byte
{
    None = 0,
    PendingPayment = 1,
    Paid = 2,
    Allocated = 3,
    Dispatched = 4,
    InTransit = 5,
    OutForDelivery = 6,
    Delivered = 7,
    Cancelled = 8,
    Exception = 9,
    Returned = 10,
}

/// <summary>Why a command was rejected. Stable codes: the API uses them as problem types.</summary>
public enum RejectReason : byte
{
    None = 0,
    UnknownSku = 1,
    InsufficientStock = 2,
    LimitExceeded = 3,
    SaleNotStarted = 4,
    DuplicateOrder = 5,
    InvalidQuantity = 6,
    OrderNotFound = 7,
    InvalidTransition = 8,
    UnknownWarehouse = 9,
    InvalidArgument = 10,
    CapacityExceeded = 11,
    /// <summary>The idempotency key was used before with a different request.</summary>
    IdempotencyKeyReused = 12,
    /// <summary>The order was final for longer than the retention and left the engine (the read model keeps it).</summary>
    OrderRetired = 13,
}

/// <summary>Why an order was cancelled.</summary>
public enum CancelReason : byte
{
    None = 0,
    Buyer = 1,
    Seller = 2,
    PaymentTimeout = 3,
    Operator = 4,
    ParentAborted = 5,
}

/// <summary>Storage and transport temperature a SKU needs.</summary>
public enum TemperatureClass : byte
{
    Ambient = 0,
    Chilled = 1,
    Frozen = 2,
}

/// <summary>Tag byte of every encoded command (see <see cref="CommandWriter"/> for the layouts).</summary>
public enum CommandKind : byte
{
    UpsertWarehouse = 1,
    UpsertSku = 2,
    ReceiveStock = 3,
    AdjustStock = 4,
    PlaceOrder = 5,
    ConfirmPayment = 6,
    CancelOrder = 7,
    Tick = 8,
    ConfigureFlashSale = 9,
    AdvanceStatus = 10,
    /// <summary>A prefix, not a command of its own: the command after it is applied once per idempotency key
    /// (see <see cref="IdempotencyKey"/>); a repeat is answered with the first answer, without applying it again.</summary>
    Keyed = 11,
    /// <summary>How long a seller order stays in the engine after it became final (delivered, cancelled, returned), and
    /// the id blocks that retirement remembers (see <see cref="CommandWriter.ConfigureRetention"/>).</summary>
    ConfigureRetention = 12,
}

/// <summary>What a state change was. Emitted by the engine, consumed by the shell and downstream readers.</summary>
public enum EventKind : byte
{
    None = 0,
    WarehouseUpserted = 1,
    SkuUpserted = 2,
    StockReceived = 3,
    StockAdjusted = 4,
    OrderPlaced = 5,
    ItemReserved = 6,
    PaymentConfirmed = 7,
    OrderCancelled = 8,
    ReservationExpired = 9,
    FlashSaleConfigured = 10,
    StatusAdvanced = 11,
    /// <summary>A final seller order left the engine (its retention passed).</summary>
    OrderRetired = 12,
}

public static class ReasonCodes
{
    /// <summary>The stable snake_case code of a rejection, as used in API problem types.</summary>
    public static string ToCode(this RejectReason reason) => reason switch
    {
        RejectReason.None => "none",
        RejectReason.UnknownSku => "unknown_sku",
        RejectReason.InsufficientStock => "insufficient_stock",
        RejectReason.LimitExceeded => "limit_exceeded",
        RejectReason.SaleNotStarted => "sale_not_started",
        RejectReason.DuplicateOrder => "duplicate_order",
        RejectReason.InvalidQuantity => "invalid_quantity",
        RejectReason.OrderNotFound => "order_not_found",
        RejectReason.InvalidTransition => "invalid_transition",
        RejectReason.UnknownWarehouse => "unknown_warehouse",
        RejectReason.InvalidArgument => "invalid_argument",
        RejectReason.CapacityExceeded => "capacity_exceeded",
        RejectReason.IdempotencyKeyReused => "idempotency_key_reused",
        RejectReason.OrderRetired => "order_retired",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "unknown reject reason"),
    };

    /// <summary>The snake_case name of a status, as used in the API.</summary>
    public static string ToCode(this OrderStatus status) => status switch
    {
        OrderStatus.PendingPayment => "pending_payment",
        OrderStatus.Paid => "paid",
        OrderStatus.Allocated => "allocated",
        OrderStatus.Dispatched => "dispatched",
        OrderStatus.InTransit => "in_transit",
        OrderStatus.OutForDelivery => "out_for_delivery",
        OrderStatus.Delivered => "delivered",
        OrderStatus.Cancelled => "cancelled",
        OrderStatus.Exception => "exception",
        OrderStatus.Returned => "returned",
        _ => "none",
    };
}
