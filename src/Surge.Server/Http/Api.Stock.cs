namespace Surge.Server;

// /v1 endpoints: stock levels, receipts and flash sales.
public sealed partial class Api
{
    private void MapStock(IEndpointRouteBuilder v1)
    {
        v1.MapGet("/skus/{sku}/stock", Handler(GetStock)).WithName("getStock").WithSummary("A SKU's stock: on hand, reserved, available, sold, per warehouse").WithTags("stock")
            .Produces<StockResponse>(200).Problems(401, 403, 404, 422)
            .Query("seller_id", ParameterType.String, "Admin key: the seller whose SKU this is (a seller key names itself).");
        v1.MapPost("/stock/receipts", Handler(ReceiveStock)).WithName("receiveStock").WithSummary("Receive units of a SKU into a warehouse").WithTags("stock")
            .Accepts<StockReceiptRequest>("application/json").Example("""{"sku":"mug-blue","warehouse_id":"wh-kr-1","quantity":120}""").Produces<StockResponse>(200).Problems(400, 401, 403, 404, 409, 422, 429, 503)
            .Idempotent(200);
        v1.MapPost("/stock/adjustments", Handler(AdjustStock)).WithName("adjustStock")
            .WithSummary("Add or take out units of a SKU in a warehouse outside an order, with a reason (a count, damage, loss)").WithTags("stock")
            .Accepts<StockAdjustmentRequest>("application/json").Example("""{"sku":"mug-blue","warehouse_id":"wh-kr-1","delta":-3,"reason":"damaged"}""")
            .Produces<StockResponse>(200).Problems(400, 401, 403, 404, 409, 422, 429, 503)
            .Idempotent(200);
        v1.MapPost("/flash-sales", Handler(ConfigureFlashSale)).WithName("configureFlashSale").WithSummary("Put a SKU on flash sale: start time and per-buyer limit").WithTags("stock")
            .Accepts<FlashSaleRequest>("application/json").Example("""{"sku":"mug-blue","starts_at":"2026-11-11T00:00:00Z","per_buyer_limit":2}""").Produces<FlashSaleResponse>(201).Problems(400, 401, 403, 404, 409, 422, 429, 503)
            .Idempotent(201);
    }

    private async Task GetStock(HttpContext context)
    {
        var (seller, sku) = await ResolveSkuAsync(context, (string)context.Request.RouteValues["sku"]!);
        await WriteAsync(context, 200, await StockAsync(seller, sku), ApiJson.Default.StockResponse);
    }

    private async Task<StockResponse> StockAsync(long seller, int sku)
    {
        var view = await Gateway.Grain(Gateway.PartitionOf(seller)).GetSku(sku)
            ?? throw new ApiProblemException(404, RejectReason.UnknownSku.ToCode(), "no such SKU");
        var warehouses = Catalog.Warehouses;
        var cells = view.Stock.Where(c => c.Warehouse < warehouses.Count && (c.OnHand != 0 || c.Reserved != 0 || c.Sold != 0))
            .Select(c => new WarehouseStockBody(warehouses[c.Warehouse], c.OnHand, c.Reserved, c.OnHand - c.Reserved, c.Sold)).ToArray();
        return new StockResponse(view.Code, cells.Sum(c => c.OnHand), cells.Sum(c => c.Reserved), cells.Sum(c => c.Available), cells.Sum(c => c.Sold), cells);
    }

    private async Task ReceiveStock(HttpContext context)
    {
        var principal = Authorize(context, Role.Seller);
        var seller = principal.SellerId;
        // A receipt adds units: a retry with the same Idempotency-Key must not add them twice.
        await IdempotentWriteAsync(context, principal, ApiJson.Default.StockReceiptRequest, ApiJson.Default.StockResponse, async request =>
        {
            var sku = await SellerSkuAsync(seller, request.Sku);
            var warehouse = await WarehouseIndexAsync(request.WarehouseId);
            if (request.Quantity is < 1 or > Limits.StockMovementUnitsMax)
            {
                throw new RequestShapeException($"quantity: 1 to {Limits.StockMovementUnitsMax} units");
            }
            // The key goes into the partition with the receipt: a retry after a crash or through another silo adds nothing.
            var key = context.Request.Headers.TryGetValue("Idempotency-Key", out var given)
                ? IdempotencyKeys.Of($"{principal.Role}:{seller}:stock_receipts", given.ToString(),
                    IdempotencyKeys.RequestHash(FormattableString.Invariant($"{request.Sku}\t{request.WarehouseId}\t{request.Quantity}")),
                    (Options.Clock.GetUtcNow() + Options.Orders.IdempotencyRetention).ToUnixTimeMilliseconds())
                : (IdempotencyKey?)null;
            ApiProblemException.ThrowIf(await state.Skus.ReceiveStockAsync(seller, sku, warehouse, request.Quantity, key));
            return (200, await StockAsync(seller, sku), (string?)null);
        });
    }

    /// <summary>A warehouse's engine index; 404 for one that does not exist.</summary>
    private async Task<int> WarehouseIndexAsync(string id)
    {
        var warehouse = await state.Warehouses.WarehouseIndexAsync(id);
        return warehouse >= 0 ? warehouse : throw new ApiProblemException(404, RejectReason.UnknownWarehouse.ToCode(), $"no warehouse '{id}'");
    }

    /// <summary>Why stock may be adjusted outside an order (<see cref="StockAdjustmentRequest.Reason"/>).</summary>
    public static readonly string[] AdjustmentReasons = ["count_correction", "damaged", "lost", "found", "returned_to_supplier"];

    private async Task AdjustStock(HttpContext context)
    {
        var principal = Authorize(context, Role.Seller);
        var seller = principal.SellerId;
        await IdempotentWriteAsync(context, principal, ApiJson.Default.StockAdjustmentRequest, ApiJson.Default.StockResponse, async request =>
        {
            var sku = await SellerSkuAsync(seller, request.Sku);
            var warehouse = await WarehouseIndexAsync(request.WarehouseId);
            if (request.Delta == 0 || Math.Abs((long)request.Delta) > Limits.StockMovementUnitsMax)
            {
                throw new RequestShapeException($"delta: -{Limits.StockMovementUnitsMax} to {Limits.StockMovementUnitsMax} units, not 0");
            }
            if (!AdjustmentReasons.Contains(request.Reason))
            {
                throw new RequestShapeException($"reason: one of {string.Join(", ", AdjustmentReasons)}");
            }
            // The engine refuses to take out more than is available (insufficient_stock, 409).
            ApiProblemException.ThrowIf(await state.Skus.AdjustStockAsync(seller, sku, warehouse, request.Delta));
            return (200, await StockAsync(seller, sku), (string?)null);
        });
    }

    private async Task ConfigureFlashSale(HttpContext context)
    {
        var principal = Authorize(context, Role.Seller);
        var seller = principal.SellerId;
        await IdempotentWriteAsync(context, principal, ApiJson.Default.FlashSaleRequest, ApiJson.Default.FlashSaleResponse, async request =>
        {
            var sku = await SellerSkuAsync(seller, request.Sku);
            if (request.PerBuyerLimit is < 1 or > Limits.PerBuyerLimitMax)
            {
                throw new RequestShapeException($"per_buyer_limit: 1 to {Limits.PerBuyerLimitMax} units");
            }
            var starts = request.StartsAt.ToUnixTimeMilliseconds();
            ApiProblemException.ThrowIf(await state.Skus.ConfigureFlashSaleAsync(seller, sku, starts, request.PerBuyerLimit));
            sampler.FollowFlashSale(seller, request.Sku, sku);
            return (201, new FlashSaleResponse(request.Sku, request.StartsAt.ToUniversalTime(), request.PerBuyerLimit), (string?)null);
        });
    }
}
