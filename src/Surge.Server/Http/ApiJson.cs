using System.Text.Json.Serialization;
using Surge.Client;

namespace Surge.Server;

/// <summary>The server's JSON for the /v1 contract: snake_case, unknown fields refused, nullability and required
/// constructor parameters enforced.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateSellerRequest))]
[JsonSerializable(typeof(CreateSellerResponse))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(CreateKeyResponse))]
[JsonSerializable(typeof(RotateKeyRequest))]
[JsonSerializable(typeof(RotateKeyResponse))]
[JsonSerializable(typeof(WarehouseBody))]
[JsonSerializable(typeof(WarehouseList))]
[JsonSerializable(typeof(SkuBody))]
[JsonSerializable(typeof(SkuBatchRequest))]
[JsonSerializable(typeof(SkuResponse))]
[JsonSerializable(typeof(SkuBatchResponse))]
[JsonSerializable(typeof(StockReceiptRequest))]
[JsonSerializable(typeof(StockAdjustmentRequest))]
[JsonSerializable(typeof(MeResponse))]
[JsonSerializable(typeof(SkuList))]
[JsonSerializable(typeof(SkuImportResponse))]
[JsonSerializable(typeof(StockResponse))]
[JsonSerializable(typeof(FlashSaleRequest))]
[JsonSerializable(typeof(FlashSaleResponse))]
[JsonSerializable(typeof(ProblemBody))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ReadinessResponse))]
[JsonSerializable(typeof(PlaceOrderRequest))]
[JsonSerializable(typeof(PlaceOrdersRequest))]
[JsonSerializable(typeof(OrderBody))]
[JsonSerializable(typeof(OrderBatchResponse))]
[JsonSerializable(typeof(SellerOrderPage))]
[JsonSerializable(typeof(SellerSalesResponse))]
[JsonSerializable(typeof(TrackingResponse))]
[JsonSerializable(typeof(TrackingEvent))]
[JsonSerializable(typeof(FlowStatusResponse))]
[JsonSerializable(typeof(CategoryReviewList))]
[JsonSerializable(typeof(SellerForecastResponse))]
[JsonSerializable(typeof(CreateWebhookRequest))]
[JsonSerializable(typeof(WebhookBody))]
[JsonSerializable(typeof(WebhookList))]
[JsonSerializable(typeof(WebhookDeliveryList))]
[JsonSerializable(typeof(CarrierList))]
[JsonSerializable(typeof(DeadLetterList))]
[JsonSerializable(typeof(RedriveRequest))]
[JsonSerializable(typeof(RedriveResponse))]
[JsonSerializable(typeof(TrackingEventsResponse))]
public sealed partial class ApiJson : JsonSerializerContext;
