namespace Surge.Client;

// The request and response shapes of the /v1 API (snake_case on the wire). The server reads and writes these same
// records (orders by hand on its hot path, the rest by source-generated System.Text.Json) and describes them in its
// OpenAPI document, so client and server cannot drift apart.

public sealed record CreateSellerRequest(string Name);

public sealed record CreateSellerResponse(string Id, string Name, string ApiKey);

public sealed record CreateKeyRequest(string Name);

public sealed record CreateKeyResponse(string Name, string ApiKey);

public sealed record RotateKeyRequest(int? GraceSeconds = null);

public sealed record RotateKeyResponse(string ApiKey, DateTimeOffset PreviousKeyExpiresAt);

public sealed record WarehouseBody(string Id, string Region, string Country);

public sealed record WarehouseList(WarehouseBody[] Warehouses);

public sealed record DimensionsBody(int LengthMm, int WidthMm, int HeightMm);

public sealed record SkuBody(
    string Sku,
    string Title,
    long PriceMinor,
    string Currency,
    int WeightG,
    string Temperature,
    bool Hazmat = false,
    string? Category = null,
    DimensionsBody? DimensionsMm = null);

public sealed record SkuBatchRequest(SkuBody[] Skus);

public sealed record SkuResponse(string Sku, string SellerId, string Title, string Category, long PriceMinor, string Currency, int WeightG,
    string Temperature, bool Hazmat, FlashSaleBody? FlashSale, CategorySuggestionBody? CategorySuggestion = null);

/// <summary>The category Surge suggested for a SKU created without one: its probability, whether it needs a
/// look (below the server's threshold), or pending while the model loads.</summary>
public sealed record CategorySuggestionBody(string? Category, float? Confidence, bool NeedsReview, bool Pending);

public sealed record CategoryReviewBody(string SellerId, string Sku, CategorySuggestionBody Suggestion);

/// <summary>SKUs to review; <c>classifier</c> is disabled, loading, ready or failed.</summary>
public sealed record CategoryReviewList(string Classifier, CategoryReviewBody[] Skus);

public sealed record FlashSaleBody(DateTimeOffset StartsAt, int PerBuyerLimit);

public sealed record BatchItemResult(int Status, string? Sku = null, ProblemBody? Problem = null);

public sealed record SkuBatchResponse(BatchItemResult[] Results);

public sealed record StockReceiptRequest(string Sku, string WarehouseId, int Quantity);

public sealed record WarehouseStockBody(string WarehouseId, long OnHand, long Reserved, long Available, long Sold);

public sealed record StockResponse(string Sku, long OnHand, long Reserved, long Available, long Sold, WarehouseStockBody[] Warehouses);

public sealed record FlashSaleRequest(string Sku, DateTimeOffset StartsAt, int PerBuyerLimit);

public sealed record FlashSaleResponse(string Sku, DateTimeOffset StartsAt, int PerBuyerLimit);

public sealed record ProblemBody(string Type, string Title, int Status, string Detail, string Code, string? Instance = null, string? TraceId = null);

public sealed record HealthResponse(string Status, int Partitions, int Skus, long Orders);

public sealed record ReadinessCheckBody(string Name, bool Ok, string Detail);

public sealed record ReadinessResponse(string Status, ReadinessCheckBody[] Checks);

// Shapes of the hand-written order JSON, described for the OpenAPI document.
public sealed record ShipToBody(string Country, string Region, string? PostalCode);

public sealed record OrderLineBody(string SellerId, string Sku, int Quantity);

public sealed record PlaceOrderRequest(string BuyerId, ShipToBody ShipTo, OrderLineBody[] Lines);

/// <summary>One order of a batch: an order, and optionally its own idempotency key (a retried batch places only the
/// orders whose keys are new; the others are answered as first placed, with <c>replayed: true</c>).</summary>
public sealed record BatchOrderRequest(string BuyerId, ShipToBody ShipTo, OrderLineBody[] Lines, string? IdempotencyKey);

public sealed record PlaceOrdersRequest(BatchOrderRequest[] Orders);

public sealed record PlacedLineBody(string Sku, int Quantity, string WarehouseId);

public sealed record ShipmentItemBody(string Sku, int Quantity);

/// <summary>A carrier's tracking event: the normalized status and the carrier's own code.</summary>
public sealed record ShipmentTrackingBody(string Status, string RawCode, DateTimeOffset At, string? Description);

/// <summary>A planned shipment (GET /v1/orders/{id} only). carrier_id is absent when no carrier covers the
/// destination and class; problem then says why.</summary>
public sealed record ShipmentBody(string Id, string Status, string? TrackingNumber, string? DeadLetterReason, string ShippingClass, string Temperature, string ServiceLevel, string WarehouseId,
    string? CarrierId, long? PriceMinor, string? Currency, bool? CarrierDegraded, string? Problem, int WeightGrams, DateTimeOffset PlannedAt,
    ShipmentTrackingBody[] Tracking, ShipmentItemBody[] Items);

public sealed record SellerOrderBody(string Id, string SellerId, string Status, string? CancelReason, PlacedLineBody[] Lines,
    ShipmentBody[]? Shipments = null, string? OrderId = null, DateTimeOffset? PlacedAt = null, long? AmountMinor = null, string? Currency = null);

/// <summary>One downstream stage of one partition: how far it got and how far behind it is.</summary>
public sealed record StageStatusBody(string Stage, int Partition, long Position, long LagRecords, double LagSeconds);

public sealed record CarrierStatusBody(string Id, string? Name, string Breaker, int Queued, long Sent, long Failed, long DeadLetters);

public sealed record CarrierList(CarrierStatusBody[] Carriers);

public sealed record DeadLetterBody(string ShipmentId, string SellerOrderId, string Reason, int Attempts);

public sealed record DeadLetterList(DeadLetterBody[] DeadLetters);

public sealed record RedriveRequest(string[]? ShipmentIds = null);

public sealed record RedriveResponse(int Redriven);

public sealed record TrackingEventsResponse(int Accepted, int Duplicates);

/// <summary>A subscription delivers to <c>url</c> (signed webhooks) or to <c>email</c> (messages in <c>language</c>,
/// en, ko or zh); exactly one of the two.</summary>
public sealed record CreateWebhookRequest(string[] EventTypes, string? Url = null, string? Email = null, string? Language = null);

/// <summary>A subscription; <c>secret</c> only in the answer that created it.</summary>
public sealed record WebhookBody(string Id, string? Url, string? Email, string Language, string[] EventTypes, string? Secret = null, int? Pending = null,
    int? Delivered = null, int? DeadLetters = null);

public sealed record WebhookList(WebhookBody[] Webhooks);

public sealed record WeekUnitsBody(string Week, double Units);

public sealed record WeekForecastBody(string Week, double Mean, double Lower95, double Upper95);

/// <summary>One SKU's plan: weekly demand so far, the forecast with 95 % intervals, the week stock runs out
/// (null: not within the horizon) and the units to order now; or, when there is too little history, why not.</summary>
public sealed record SkuForecastBody(string Sku, long Available, WeekUnitsBody[] History, string? Model = null, WeekForecastBody[]? Forecast = null,
    string? StockoutWeek = null, double? ReorderUnits = null, string? Problem = null);

public sealed record SellerForecastResponse(string SellerId, DateTimeOffset GeneratedAt, int HistoryWeeks, int HorizonWeeks, int LeadTimeWeeks,
    double ServiceLevel, SkuForecastBody[] Skus);

public sealed record FlowStatusResponse(StageStatusBody[] Stages, long OrdersPlanned, long ShipmentsPlanned, string[] Carriers);

public sealed record OrderBody(string Id, string Status, DateTimeOffset PlacedAt, DateTimeOffset ExpiresAt, string TrackingToken, SellerOrderBody[] SellerOrders);

public sealed record OrderBatchItem(int Status, string? Id, OrderBody? Order, ProblemBody? Problem, bool? Replayed);

public sealed record OrderBatchResponse(OrderBatchItem[] Results);

/// <summary>A page of a listing; <c>Freshness</c> (listings from the read model) says how far behind the journals it is.</summary>
public sealed record SellerOrderPage(SellerOrderBody[] Orders, string? NextCursor, ListingFreshness? Freshness = null);

/// <summary>How fresh an answer of the read model is: journal records durable but not in it yet, over the partitions
/// the answer covers, and the age of the oldest of them in seconds (0 and 0: up to date).</summary>
public sealed record ListingFreshness(long LagRecords, double LagSeconds);

/// <summary>Units and revenue (minor units) of a SKU's paid seller orders placed in one period (a UTC day, or an ISO week
/// starting on Monday).</summary>
public sealed record SkuSalesBody(string Sku, string Period, long Units, long RevenueMinor);

public sealed record SellerSalesResponse(string SellerId, string Granularity, string From, string To, SkuSalesBody[] Sales, ListingFreshness Freshness);

/// <summary>One step of the buyer's timeline: the status, when (absent when not known), the message in the
/// buyer's language, and for carrier steps the shipment and the carrier's raw code.</summary>
public sealed record TrackingEvent(string Key, string Status, DateTimeOffset? At, string Message, string? ShipmentId = null, string? RawCode = null);

public sealed record TrackingResponse(string OrderId, string Status, DateTimeOffset PlacedAt, string Language, TrackingEvent[] Timeline);

/// <summary>Who the calling key belongs to: its role, and for a seller key the seller.</summary>
public sealed record MeResponse(string Role, string? SellerId = null, string? Name = null);

/// <summary>One of the seller's SKUs with its stock over every warehouse.</summary>
public sealed record SkuListItem(string Sku, string Title, string Category, long PriceMinor, string Currency, int WeightG, string Temperature, bool Hazmat,
    FlashSaleBody? FlashSale, CategorySuggestionBody? CategorySuggestion, long OnHand, long Reserved, long Available, long Sold,
    DimensionsBody? DimensionsMm = null);

/// <summary>A page of the seller's SKUs; <c>next_cursor</c> absent on the last.</summary>
public sealed record SkuList(SkuListItem[] Skus, string? NextCursor);

/// <summary>Units added (positive) or taken out (negative) of a warehouse's stock outside an order, with the reason:
/// count_correction, damaged, lost, found or returned_to_supplier.</summary>
public sealed record StockAdjustmentRequest(string Sku, string WarehouseId, int Delta, string Reason);

/// <summary>What became of one row of an imported spreadsheet (1 = the header): created, updated, refused (code and
/// detail say why) or skipped (a blank row); notes say what was cleaned up on the way (spaces trimmed, commas removed).</summary>
public sealed record SkuImportRow(int Row, string Status, string? Sku = null, string? Code = null, string? Detail = null, string[]? Notes = null);

/// <summary>The row-by-row report of a SKU import (CSV or XLSX).</summary>
public sealed record SkuImportResponse(int Rows, int Created, int Updated, int Refused, int Skipped, string Encoding, SkuImportRow[] Report);

/// <summary>One notification of a subscription: its event, order, when, and whether it was delivered, is still being
/// tried (pending) or was given up on (dead_letter, with the reason).</summary>
public sealed record WebhookDeliveryBody(string Id, string Type, string OrderId, string SellerOrderId, DateTimeOffset At, string State, string? Reason = null);

public sealed record WebhookDeliveryList(WebhookDeliveryBody[] Deliveries);
