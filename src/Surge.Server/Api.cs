using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Surge.Core;

namespace Surge.Server;

/// <summary>The /v1 HTTP API: authentication, validation, and the translation between JSON and engine commands.
/// Every failure leaves as problem+json (see <see cref="Problems.Middleware"/>).</summary>
public sealed partial class Api(ServerState state)
{
    public const int TitleCharsMax = 200;
    public const int CategoryCharsMax = 100;
    public const int SellerNameCharsMax = 200;
    public const int PageOrdersMax = 500;
    public const int PageOrdersDefault = 100;
    public const int PageScanMax = 200_000;

    private ServerOptions Options => state.Options;
    private Gateway Gateway => state.Gateway;
    private Catalog Catalog => state.Catalog;

    public void Map(IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/sellers", Handler(CreateSeller)).WithName("createSeller").WithSummary("Create a seller and its API key (admin)").WithTags("catalog")
            .Accepts<CreateSellerRequest>("application/json").Produces<CreateSellerResponse>(201).Problems(400, 401, 403, 422);
        v1.MapPost("/storefront-keys", Handler(CreateStorefrontKey)).WithName("createStorefrontKey").WithSummary("Create a storefront key that may place orders (admin)").WithTags("catalog")
            .Accepts<CreateKeyRequest>("application/json").Produces<CreateKeyResponse>(201).Problems(400, 401, 403, 422);
        v1.MapPost("/warehouses", Handler(CreateWarehouse)).WithName("createWarehouse").WithSummary("Add a warehouse to every partition (admin)").WithTags("catalog")
            .Accepts<WarehouseBody>("application/json").Produces<WarehouseBody>(201).Produces<WarehouseBody>(200).Problems(400, 401, 403, 409, 422, 503);
        v1.MapGet("/warehouses", Handler(ListWarehouses)).WithName("listWarehouses").WithSummary("List the warehouses").WithTags("catalog")
            .Produces<WarehouseList>(200).Problems(401);
        v1.MapPost("/skus", Handler(UpsertSku)).WithName("upsertSku").WithSummary("Create or update one of the seller's SKUs").WithTags("catalog")
            .Accepts<SkuBody>("application/json").Produces<SkuResponse>(201).Produces<SkuResponse>(200).Problems(400, 401, 403, 409, 422, 429, 503);
        v1.MapPost("/skus/batch", Handler(UpsertSkus)).WithName("upsertSkus").WithSummary("Create or update up to 1,000 of the seller's SKUs").WithTags("catalog")
            .Accepts<SkuBatchRequest>("application/json").Produces<SkuBatchResponse>(200).Problems(400, 401, 403, 422, 429, 503);
        v1.MapGet("/skus/{sku}", Handler(GetSku)).WithName("getSku").WithSummary("A SKU's catalog attributes and flash sale").WithTags("catalog")
            .Produces<SkuResponse>(200).Problems(401, 403, 404, 422);
        v1.MapGet("/skus/{sku}/stock", Handler(GetStock)).WithName("getStock").WithSummary("A SKU's stock: on hand, reserved, available, sold, per warehouse").WithTags("stock")
            .Produces<StockResponse>(200).Problems(401, 403, 404, 422);
        v1.MapPost("/stock/receipts", Handler(ReceiveStock)).WithName("receiveStock").WithSummary("Receive units of a SKU into a warehouse").WithTags("stock")
            .Accepts<StockReceiptRequest>("application/json").Produces<StockResponse>(200).Problems(400, 401, 403, 404, 409, 422, 429, 503);
        v1.MapPost("/flash-sales", Handler(ConfigureFlashSale)).WithName("configureFlashSale").WithSummary("Put a SKU on flash sale: start time and per-buyer limit").WithTags("stock")
            .Accepts<FlashSaleRequest>("application/json").Produces<FlashSaleResponse>(201).Problems(400, 401, 403, 404, 409, 422, 429, 503);
        v1.MapPost("/orders", Handler(PlaceOrder)).WithName("placeOrder").WithSummary("Place an order (one seller order per seller, all or nothing)").WithTags("orders")
            .Accepts<PlaceOrderRequest>("application/json").Produces<OrderBody>(201).Problems(400, 401, 403, 409, 413, 422, 429, 503);
        v1.MapPost("/orders/batch", Handler(PlaceOrders)).WithName("placeOrders").WithSummary("Place up to 1,000 orders; answers in request order").WithTags("orders")
            .Accepts<PlaceOrdersRequest>("application/json").Produces<OrderBatchResponse>(200).Problems(400, 401, 403, 413, 422, 503);
        v1.MapGet("/orders/{id}", Handler(GetOrder)).WithName("getOrder").WithSummary("An order and its seller orders").WithTags("orders")
            .Produces<OrderBody>(200).Problems(401, 403, 404);
        v1.MapPost("/orders/{id}/payment", Handler(PayOrder)).WithName("payOrder").WithSummary("Confirm payment of every seller order of an order").WithTags("orders")
            .Produces<OrderBody>(200).Problems(401, 403, 404, 409, 429, 503);
        v1.MapPost("/orders/{id}/cancel", Handler(CancelOrder)).WithName("cancelOrder").WithSummary("Cancel an order (stock returns)").WithTags("orders")
            .Produces<OrderBody>(200).Problems(401, 403, 404, 409, 429, 503);
        v1.MapGet("/sellers/{id}/orders", Handler(ListSellerOrders)).WithName("listSellerOrders").WithSummary("A seller's orders, oldest first, with a cursor").WithTags("orders")
            .Produces<SellerOrderPage>(200).Problems(401, 403, 404, 422);
        v1.MapGet("/track/{token}", Handler(Track)).WithName("trackOrder").WithSummary("Follow an order by its tracking token (no key needed)").WithTags("tracking").AllowAnonymous()
            .Produces<TrackingResponse>(200).Problems(404);
        v1.MapGet("/track/{token}/events", Handler(TrackEvents)).WithName("trackOrderEvents").AllowAnonymous()
            .WithSummary("The order's timeline as Server-Sent Events, live until it is delivered or cancelled (no key needed)").WithTags("tracking")
            .Produces(200, contentType: "text/event-stream").Problems(404);
        v1.MapGet("/flow", Handler(FlowStatus)).WithName("flowStatus").WithSummary("Downstream stages: position and lag per partition (admin)").WithTags("operations")
            .Produces<FlowStatusResponse>(200).Problems(401, 403);
        v1.MapGet("/category-reviews", Handler(CategoryReviews)).WithName("listCategoryReviews")
            .WithSummary("SKUs whose suggested category needs a look (low confidence) or is still pending; a seller sees its own, admin all or ?seller_id=")
            .WithTags("catalog").Produces<CategoryReviewList>(200).Problems(401, 403, 422);
        MapCarriers(v1);
        MapWebhooks(v1);
        MapForecast(v1);
        app.MapGet("/healthz", Handler(Health)).WithName("health").WithSummary("Readiness of the node").WithTags("operations").Produces<HealthResponse>(200).Problems(503);
    }

    /// <summary>As a <see cref="Delegate"/>, so that the route gets a builder that takes OpenAPI metadata.</summary>
    private static Delegate Handler(Func<HttpContext, Task> handler) => handler;

    // ---- catalog ----

    private async Task CreateSeller(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var request = await ReadAsync(context, ApiJson.Default.CreateSellerRequest);
        var name = Text(request.Name, "name", SellerNameCharsMax);
        var (seller, key) = state.Control.CreateSeller(name);
        context.Response.Headers.Location = "/v1/sellers/" + Ids.Seller(seller.Id);
        await WriteAsync(context, 201, new CreateSellerResponse(Ids.Seller(seller.Id), seller.Name, key), ApiJson.Default.CreateSellerResponse);
    }

    private async Task CreateStorefrontKey(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var request = await ReadAsync(context, ApiJson.Default.CreateKeyRequest);
        var name = Text(request.Name, "name", SellerNameCharsMax);
        var key = state.Control.CreateStorefrontKey(name);
        await WriteAsync(context, 201, new CreateKeyResponse(name, key), ApiJson.Default.CreateKeyResponse);
    }

    private async Task CreateWarehouse(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var request = await ReadAsync(context, ApiJson.Default.WarehouseBody);
        var warehouse = new Warehouse(Code(request.Id, "id"), Text(request.Region, "region", OrderJson.RegionCharsMax), Country(request.Country, "country"));
        if (state.Control.Warehouses.Count >= Limits.WarehousesMax && Catalog.WarehouseIndex(warehouse.Id) < 0)
        {
            throw new ApiProblemException(409, RejectReason.CapacityExceeded.ToCode(), $"at most {Limits.WarehousesMax} warehouses");
        }
        if (!state.Control.AddWarehouse(warehouse, out var created))
        {
            throw new ApiProblemException(409, "warehouse_exists", $"warehouse '{warehouse.Id}' exists with another region or country");
        }
        await state.SyncWarehousesAsync();
        await WriteAsync(context, created ? 201 : 200, new WarehouseBody(warehouse.Id, warehouse.Region, warehouse.Country), ApiJson.Default.WarehouseBody);
    }

    private Task ListWarehouses(HttpContext context)
    {
        Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var list = state.Control.Warehouses.Select(w => new WarehouseBody(w.Id, w.Region, w.Country)).ToArray();
        return WriteAsync(context, 200, new WarehouseList(list), ApiJson.Default.WarehouseList);
    }

    private async Task UpsertSku(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var body = await ReadAsync(context, ApiJson.Default.SkuBody);
        var (status, sku, problem, suggestion) = await UpsertOneAsync(seller, body);
        if (problem is not null)
        {
            throw new ApiProblemException(problem.Status, problem.Code, problem.Detail);
        }
        RecordCategories(seller, [(body, suggestion)]);
        var view = await Gateway.Grain(Gateway.PartitionOf(seller)).GetSku(sku);
        await WriteAsync(context, status, SkuResponse(view!), ApiJson.Default.SkuResponse);
    }

    private async Task UpsertSkus(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var body = await ReadAsync(context, ApiJson.Default.SkuBatchRequest);
        if (body.Skus.Length == 0 || body.Skus.Length > Options.BatchSkusMax)
        {
            throw new RequestShapeException($"skus: 1 to {Options.BatchSkusMax} items");
        }
        var results = await Task.WhenAll(body.Skus.Select(async item =>
        {
            var (status, _, problem, suggestion) = await UpsertOneAsync(seller, item);
            return (Result: new BatchItemResult(status, problem is null ? item.Sku : null, problem), Item: item, Suggestion: suggestion);
        }));
        RecordCategories(seller, results.Where(r => r.Result.Problem is null).Select(r => (r.Item, r.Suggestion)).ToList());
        await WriteAsync(context, 200, new SkuBatchResponse(results.Select(r => r.Result).ToArray()), ApiJson.Default.SkuBatchResponse);
    }

    /// <summary>Keeps the category suggestions of accepted upserts (one fsync), and forgets the suggestions of SKUs
    /// whose seller now gave a category.</summary>
    private void RecordCategories(long seller, IReadOnlyList<(SkuBody Body, CategorySuggestion? Suggestion)> accepted)
    {
        state.Categories.Record(accepted.Where(a => a.Suggestion is not null).Select(a => a.Suggestion!).ToList());
        state.Categories.Clear(accepted.Where(a => !string.IsNullOrEmpty(a.Body.Category)).Select(a => (seller, a.Body.Sku)).ToList());
    }

    /// <summary>Once the category model is ready: suggests a category for every SKU created while it was loading
    /// and upserts it (unless the seller gave one meanwhile).</summary>
    internal async Task ApplyPendingCategoriesAsync(IReadOnlyList<CategorySuggestion> pending)
    {
        foreach (var item in pending)
        {
            if (await Catalog.FindSkuAsync(item.SellerId, item.Sku) is not (>= 0 and var sku)
                || (await Gateway.Grain(Gateway.PartitionOf(item.SellerId)).GetSku(sku))?.Definition() is not { } definition
                || definition.Category.Length > 0)
            {
                continue;
            }
            var suggestion = state.Categories.Suggest(item.SellerId, item.Sku, definition.Title)!;
            var result = await Gateway.Submit(Gateway.PartitionOf(item.SellerId), w => w.UpsertSku(definition with { Category = suggestion.Category }));
            if (result.Outcome.Accepted)
            {
                state.Categories.Record([suggestion]); // right after its upsert: the SKU shows "pending" no longer than that
            }
        }
    }

    private async Task<(int Status, int Sku, ProblemBody? Problem, CategorySuggestion? Suggestion)> UpsertOneAsync(long seller, SkuBody body)
    {
        SkuDefinition definition;
        CategorySuggestion? suggestion = null;
        try
        {
            definition = Definition(seller, body);
            if (definition.Category.Length == 0 && (suggestion = state.Categories.Suggest(seller, definition.Code, definition.Title)) is { Pending: false })
            {
                definition = definition with { Category = suggestion.Category };
            }
        }
        catch (RequestShapeException e)
        {
            return (422, -1, Problems.Body(422, "invalid_request", e.Message), null);
        }
        var existed = await Catalog.FindSkuAsync(seller, definition.Code) >= 0;
        Runtime.CommandResult result;
        try
        {
            result = await Gateway.Submit(Gateway.PartitionOf(seller), w => w.UpsertSku(definition)).WaitAsync(Options.RequestDeadline);
        }
        catch (AdmissionException e)
        {
            return (Problems.StatusOf(e.Kind), -1, Problems.Body(e.Problem), null);
        }
        if (!result.Outcome.Accepted)
        {
            var problem = Problem.Of(result.Outcome.Reason);
            return (Problems.StatusOf(problem.Kind), -1, Problems.Body(problem), null);
        }
        var sku = (int)result.Outcome.Ref;
        Catalog.AddSku(seller, definition.Code, sku);
        return (existed ? 200 : 201, sku, null, suggestion);
    }

    private static SkuDefinition Definition(long seller, SkuBody body)
    {
        var temperature = body.Temperature switch
        {
            "ambient" => TemperatureClass.Ambient,
            "chilled" => TemperatureClass.Chilled,
            "frozen" => TemperatureClass.Frozen,
            _ => throw new RequestShapeException("temperature: one of ambient, chilled, frozen"),
        };
        if (body.PriceMinor is < 0 or > Limits.PriceMinorMax)
        {
            throw new RequestShapeException($"price_minor: 0 to {Limits.PriceMinorMax} minor units");
        }
        if (body.WeightG is < 0 or > Limits.WeightGramsMax)
        {
            throw new RequestShapeException($"weight_g: 0 to {Limits.WeightGramsMax} grams");
        }
        if (!CurrencyCode.IsValid(body.Currency))
        {
            throw new RequestShapeException("currency: an ISO 4217 code such as \"KRW\"");
        }
        var dims = body.DimensionsMm ?? new DimensionsBody(0, 0, 0);
        foreach (var (value, name) in new[] { (dims.LengthMm, "length_mm"), (dims.WidthMm, "width_mm"), (dims.HeightMm, "height_mm") })
        {
            if (value is < 0 or > Limits.DimensionMmMax)
            {
                throw new RequestShapeException($"dimensions_mm.{name}: 0 to {Limits.DimensionMmMax} mm");
            }
        }
        return new SkuDefinition(seller, Code(body.Sku, "sku"), Text(body.Title, "title", TitleCharsMax),
            body.Category is null ? "" : Text(body.Category, "category", CategoryCharsMax), body.WeightG,
            dims.LengthMm, dims.WidthMm, dims.HeightMm, temperature, body.Hazmat, body.PriceMinor, body.Currency);
    }

    private async Task GetSku(HttpContext context)
    {
        var (seller, sku) = await ResolveSkuAsync(context, (string)context.Request.RouteValues["sku"]!);
        var view = await Gateway.Grain(Gateway.PartitionOf(seller)).GetSku(sku)
            ?? throw new ApiProblemException(404, RejectReason.UnknownSku.ToCode(), "no such SKU");
        await WriteAsync(context, 200, SkuResponse(view), ApiJson.Default.SkuResponse);
    }

    private SkuResponse SkuResponse(SkuView view) => new(view.Code, Ids.Seller(view.SellerId), view.Title, view.Category, view.PriceMinor,
        view.Currency, view.WeightGrams, view.Temperature.ToString().ToLowerInvariant(), view.Hazmat,
        view.FlashStartsAtMs is { } starts ? new FlashSaleBody(DateTimeOffset.FromUnixTimeMilliseconds(starts), view.PerBuyerLimit) : null,
        state.Categories.Find(view.SellerId, view.Code) is { } s ? SuggestionBody(s) : null);

    private static CategorySuggestionBody SuggestionBody(CategorySuggestion s) =>
        new(s.Pending ? null : s.Category, s.Pending ? null : MathF.Round(s.Confidence, 4), s.NeedsReview, s.Pending);

    private Task CategoryReviews(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller);
        long? seller = principal.Role == Role.Seller ? principal.SellerId : null;
        if (principal.Role == Role.Admin && context.Request.Query.TryGetValue("seller_id", out var given))
        {
            seller = Ids.TryParseSeller(given.ToString(), out var id) ? id : throw new RequestShapeException("seller_id: a seller id (\"sel_…\")");
        }
        var items = state.Categories.Where(s => (s.NeedsReview || s.Pending) && (seller is null || s.SellerId == seller))
            .OrderBy(s => s.SellerId).ThenBy(s => s.Sku, StringComparer.Ordinal).Take(PageOrdersMax)
            .Select(s => new CategoryReviewBody(Ids.Seller(s.SellerId), s.Sku, SuggestionBody(s))).ToArray();
        return WriteAsync(context, 200, new CategoryReviewList(state.Categories.State.ToString().ToLowerInvariant(), items),
            ApiJson.Default.CategoryReviewList);
    }

    // ---- stock ----

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
        var seller = Authorize(context, Role.Seller).SellerId;
        var request = await ReadAsync(context, ApiJson.Default.StockReceiptRequest);
        var sku = await SellerSkuAsync(seller, request.Sku);
        var warehouse = await state.WarehouseIndexAsync(request.WarehouseId);
        if (warehouse < 0)
        {
            throw new ApiProblemException(404, RejectReason.UnknownWarehouse.ToCode(), $"no warehouse '{request.WarehouseId}'");
        }
        if (request.Quantity is < 1 or > Limits.StockMovementUnitsMax)
        {
            throw new RequestShapeException($"quantity: 1 to {Limits.StockMovementUnitsMax} units");
        }
        await SubmitOrThrowAsync(seller, w => w.ReceiveStock(sku, warehouse, request.Quantity));
        await WriteAsync(context, 200, await StockAsync(seller, sku), ApiJson.Default.StockResponse);
    }

    private async Task ConfigureFlashSale(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var request = await ReadAsync(context, ApiJson.Default.FlashSaleRequest);
        var sku = await SellerSkuAsync(seller, request.Sku);
        if (request.PerBuyerLimit is < 1 or > Limits.PerBuyerLimitMax)
        {
            throw new RequestShapeException($"per_buyer_limit: 1 to {Limits.PerBuyerLimitMax} units");
        }
        var starts = request.StartsAt.ToUnixTimeMilliseconds();
        await SubmitOrThrowAsync(seller, w => w.ConfigureFlashSale(sku, starts, request.PerBuyerLimit));
        state.Dashboard.FollowFlashSale(seller, request.Sku, sku);
        await WriteAsync(context, 201, new FlashSaleResponse(request.Sku, request.StartsAt.ToUniversalTime(), request.PerBuyerLimit),
            ApiJson.Default.FlashSaleResponse);
    }

    private async Task SubmitOrThrowAsync(long seller, Action<CommandWriter> encode)
    {
        var result = await Gateway.Submit(Gateway.PartitionOf(seller), encode).WaitAsync(Options.RequestDeadline);
        if (!result.Outcome.Accepted)
        {
            throw ApiProblemException.Of(Problem.Of(result.Outcome.Reason));
        }
    }

    // ---- orders ----

    private async Task PlaceOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront);
        if (state.Capacity is { } capacity && capacity.Take(1) == 0)
        {
            state.Metrics.Order("silo_capacity");
            throw capacity.Refusal();
        }
        var started = Stopwatch.GetTimestamp();
        var body = await ReadBodyAsync(context);
        await IdempotentAsync(context, principal, body, 201, async () =>
        {
            var result = await WithDeadline(state.Orders.PlaceAsync(OrderJson.ReadOrder(body)));
            state.Metrics.Order(result.Problem?.Code);
            return result;
        });
        state.Metrics.Request("single", Stopwatch.GetElapsedTime(started));
    }

    private async Task PlaceOrders(HttpContext context)
    {
        Authorize(context, Role.Admin, Role.Storefront);
        var started = Stopwatch.GetTimestamp();
        var (rented, length) = await ReadBodyAsync(context, ArrayPool<byte>.Shared);
        List<(OrderRequest? Order, string? Error)> requests;
        try
        {
            requests = OrderJson.ReadBatch(rented.AsSpan(0, length), Options.BatchOrdersMax);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
        var orders = requests.Select(r => r.Order).ToArray();
        var granted = state.Capacity?.Take(orders.Count(o => o is not null)) ?? int.MaxValue;
        var overCapacity = new HashSet<int>();
        for (var i = 0; i < orders.Length; i++)
        {
            if (orders[i] is not null && granted-- <= 0)
            {
                orders[i] = null; // beyond this silo's capacity: answered below without being placed
                overCapacity.Add(i);
            }
        }
        var placing = state.Orders.PlaceManyAsync(orders, i => overCapacity.Contains(i)
            ? new BatchAnswer(0, state.Capacity!.Refusal().Problem)
            : new BatchAnswer(0, new Problem(Refusal.Invalid, "invalid_request", requests[i].Error!)));
        BatchAnswer[]? answers = null;
        try
        {
            answers = await placing.WaitAsync(Options.RequestDeadline, Options.Clock);
        }
        catch (TimeoutException)
        {
            // Answered below as deadline_exceeded, order by order.
        }
        state.Metrics.Orders(requests.Count, i => answers is null ? "deadline_exceeded" : answers[i].Problem?.Code);
        state.Metrics.Request("batch", Stopwatch.GetElapsedTime(started));
        var buffer = new ArrayBufferWriter<byte>(64 + requests.Count * 48);
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        json.WriteStartObject();
        json.WriteStartArray("results"u8);
        for (var i = 0; i < requests.Count; i++)
        {
            json.WriteStartObject();
            if (answers is null)
            {
                json.WriteNumber("status"u8, 503);
                json.WritePropertyName("problem"u8);
                Problems.Write(json, Problems.Body(503, "deadline_exceeded", "not answered within the deadline; the order may still be placed"));
            }
            else if (answers[i].Problem is { } problem)
            {
                var body = Problems.Body(problem);
                json.WriteNumber("status"u8, body.Status);
                json.WritePropertyName("problem"u8);
                Problems.Write(json, body);
            }
            else
            {
                json.WriteNumber("status"u8, 201);
                json.WriteString("id"u8, Ids.Order(answers[i].Id));
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        await WriteRawAsync(context, 200, buffer.WrittenMemory); // with a Content-Length, not chunked
    }

    private async Task GetOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var parent = OrderId(context);
        var order = await state.Orders.GetAsync(parent) ?? throw NotFound(parent);
        if (principal.Role == Role.Seller)
        {
            var own = order.SellerOrders.Where(c => c.SellerId == principal.SellerId).ToArray();
            order = own.Length > 0 ? order with { SellerOrders = own } : throw NotFound(parent);
        }
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            OrderJson.WriteOrder(json, order, Catalog.Warehouses, state.Tokens, state.Flow.Store.ForOrder);
        }
        await WriteRawAsync(context, 200, buffer.WrittenMemory);
    }

    private async Task PayOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront);
        var parent = OrderId(context);
        await IdempotentAsync(context, principal, Encoding.UTF8.GetBytes(context.Request.Path.Value!), 200,
            () => WithDeadline(state.Orders.PayAsync(parent)));
    }

    private async Task CancelOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront);
        var parent = OrderId(context);
        var reason = principal.Role == Role.Admin ? CancelReason.Operator : CancelReason.Buyer;
        await IdempotentAsync(context, principal, Encoding.UTF8.GetBytes(context.Request.Path.Value!), 200,
            () => WithDeadline(state.Orders.CancelAsync(parent, reason)));
    }

    private async Task ListSellerOrders(HttpContext context)
    {
        var seller = RouteSeller(context, "orders");
        var query = context.Request.Query;
        var limit = query.TryGetValue("limit", out var l) ? ParseInt(l, "limit", 1, PageOrdersMax) : PageOrdersDefault;
        var from = query.TryGetValue("cursor", out var c) ? ParseInt(c, "cursor", 0, int.MaxValue) : 0;
        var page = await Gateway.Grain(Gateway.PartitionOf(seller)).ListOrders(seller, from, limit, PageScanMax);
        var warehouses = Catalog.Warehouses;
        var orders = page.Orders.Select(o => new SellerOrderBody(Ids.SellerOrder(o.Id), Ids.Seller(o.SellerId), o.Status.ToCode(),
            o.CancelReason == CancelReason.None ? null : OrderJson.CancelCode(o.CancelReason),
            o.Lines.Select(x => new PlacedLineBody(x.Sku, x.Quantity, x.Warehouse < warehouses.Count ? warehouses[x.Warehouse] : "")).ToArray())).ToArray();
        var next = page.More ? page.NextIndex.ToString(CultureInfo.InvariantCulture) : null;
        await WriteAsync(context, 200, new SellerOrderPage(orders, next), ApiJson.Default.SellerOrderPage);
    }

    private async Task Track(HttpContext context)
    {
        var (parent, order) = await TrackedOrderAsync(context);
        var language = TrackingLanguage(context);
        var timeline = Timeline(order, language).Select(TrackingEventBody).ToArray();
        await WriteAsync(context, 200, new TrackingResponse(Ids.Order(parent), order.Status.ToCode(), DateTimeOffset.FromUnixTimeMilliseconds(order.PlacedAtMs),
            language, timeline), ApiJson.Default.TrackingResponse);
    }

    private async Task<(long Parent, OrderView Order)> TrackedOrderAsync(HttpContext context)
    {
        var token = (string)context.Request.RouteValues["token"]!;
        if (!state.Tokens.TryRead(token, out var parent) || await state.Orders.GetAsync(parent) is not { } order)
        {
            throw new ApiProblemException(404, "unknown_tracking_token", "no order has this tracking token");
        }
        return (parent, order);
    }

    private static string TrackingLanguage(HttpContext context) =>
        Flow.Messages.Language(context.Request.Query.TryGetValue("lang", out var lang) ? lang.ToString() : null,
            context.Request.Headers.AcceptLanguage.ToString());

    private List<TimelineEntry> Timeline(OrderView order, string language) =>
        OrderTimeline.Build(order, state.Flow.Store.ForOrder, id => state.Flow.Rules.Carriers.FirstOrDefault(c => c.Id == id)?.Name, language);

    private static TrackingEvent TrackingEventBody(TimelineEntry e) =>
        new(e.Key, e.Status, e.AtMs is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null, e.Message, e.ShipmentId, e.RawCode);

    /// <summary>Most time one tracking stream stays open; the browser's EventSource reconnects (with Last-Event-ID).</summary>
    public static readonly TimeSpan TrackingStreamMax = TimeSpan.FromMinutes(30);

    /// <summary>A comment line this often keeps proxies from closing an idle stream.</summary>
    public static readonly TimeSpan TrackingHeartbeat = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Server-Sent Events: every timeline step as an <c>event: timeline</c> whose id is its position, then each new
    /// step as it happens; ends once the order is delivered, cancelled or returned (<c>event: end</c>), or after
    /// <see cref="TrackingStreamMax"/>. A reconnect with <c>Last-Event-ID: n</c> resumes after step n.
    /// </summary>
    private async Task TrackEvents(HttpContext context)
    {
        var (parent, order) = await TrackedOrderAsync(context);
        var language = TrackingLanguage(context);
        var sent = int.TryParse(context.Request.Headers["Last-Event-ID"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var last) ? last + 1 : 0;
        using var watch = state.Flow.Watchers.Subscribe(parent);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TrackingStreamMax);
        // Each step is sent once (by key); ids count the steps sent. A step can appear before others already sent
        // (a carrier event that happened earlier but arrived later): it is sent when it appears.
        var sentKeys = Timeline(order, language).Take(sent).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                foreach (var entry in Timeline(order, language))
                {
                    if (!sentKeys.Add(entry.Key))
                    {
                        continue;
                    }
                    var data = JsonSerializer.Serialize(TrackingEventBody(entry), ApiJson.Default.TrackingEvent);
                    await context.Response.WriteAsync($"id: {sent++}\nevent: timeline\ndata: {data}\n\n", timeout.Token);
                }
                if (OrderTimeline.IsFinal(order))
                {
                    await context.Response.WriteAsync($"event: end\ndata: {{\"status\":\"{order.Status.ToCode()}\"}}\n\n", timeout.Token);
                    return;
                }
                await context.Response.Body.FlushAsync(timeout.Token);
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                heartbeat.CancelAfter(TrackingHeartbeat);
                try
                {
                    await watch.Changes.ReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", timeout.Token);
                    continue;
                }
                order = await state.Orders.GetAsync(parent) ?? order;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // the buyer left, or the stream reached its time limit
        }
    }

    private async Task FlowStatus(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var flow = state.Flow;
        var stages = flow.Lags().Select(s => new StageStatusBody("fulfillment", s.Partition, s.Position, s.Lag.Records, Math.Round(s.Lag.Seconds, 3))).ToArray();
        await WriteAsync(context, 200, new FlowStatusResponse(stages, flow.Store.Orders, flow.Store.Count, flow.Rules.Carriers.Select(c => c.Id).ToArray()),
            ApiJson.Default.FlowStatusResponse);
    }

    private async Task Health(HttpContext context)
    {
        var ready = state.Ready;
        await WriteAsync(context, ready ? 200 : 503, new HealthResponse(ready ? "ready" : "starting", Options.Partitions, Catalog.SkuCount,
            state.OrdersAtStart), ApiJson.Default.HealthResponse);
    }

    // ---- helpers ----

    private async Task<OrderResult> WithDeadline(Task<OrderResult> work)
    {
        try
        {
            return await work.WaitAsync(Options.RequestDeadline, Options.Clock);
        }
        catch (TimeoutException)
        {
            return OrderResult.Refused(Refusal.Unavailable, "deadline_exceeded",
                $"not answered within {Options.RequestDeadline.TotalSeconds:0.###} s; it may still complete: retry with the same Idempotency-Key");
        }
    }

    /// <summary>Runs a write on an order under the request's Idempotency-Key (if any, see
    /// <see cref="IdempotencyStore"/>) and answers the order with <paramref name="successStatus"/>, or the problem.</summary>
    private async Task IdempotentAsync(HttpContext context, Principal principal, byte[] body, int successStatus, Func<Task<OrderResult>> run)
    {
        string? scoped = null;
        if (context.Request.Headers.TryGetValue("Idempotency-Key", out var keys))
        {
            var key = keys.ToString();
            if (key.Length is 0 or > IdempotencyStore.KeyCharsMax || key.Any(char.IsControl))
            {
                throw new ApiProblemException(400, "invalid_idempotency_key", $"Idempotency-Key: 1 to {IdempotencyStore.KeyCharsMax} printable characters");
            }
            scoped = $"{principal.Role}:{principal.SellerId}:{context.Request.Path}:{key}";
            switch (state.Idempotency.Begin(scoped, body, out var stored))
            {
                case IdempotencyStore.Verdict.Replay:
                    context.Response.Headers["Idempotent-Replayed"] = "true";
                    if (stored!.Location is not null)
                    {
                        context.Response.Headers.Location = stored.Location;
                    }
                    await WriteRawAsync(context, stored.Status, stored.Body, stored.Status >= 400);
                    return;
                case IdempotencyStore.Verdict.InFlight:
                    throw new ApiProblemException(409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running", TimeSpan.FromSeconds(1));
                case IdempotencyStore.Verdict.Mismatch:
                    throw new ApiProblemException(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request body");
            }
        }
        OrderResult result;
        try
        {
            result = await run();
        }
        catch
        {
            if (scoped is not null)
            {
                state.Idempotency.Abandon(scoped);
            }
            throw;
        }
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            if (result.Order is { } written)
            {
                OrderJson.WriteOrder(json, written, Catalog.Warehouses, state.Tokens);
            }
            else
            {
                Problems.Write(json, Problems.Body(result.Problem!.Value));
            }
        }
        var problem = result.Order is null;
        var status = result.Problem is { } refused ? Problems.StatusOf(refused.Kind) : successStatus;
        string? location = null;
        if (status == 201 && result.Order is { } placed)
        {
            location = "/v1/orders/" + Ids.Order(placed.Id);
            context.Response.Headers.Location = location;
        }
        if (scoped is not null)
        {
            state.Idempotency.Complete(scoped, new StoredResponse(status, buffer.WrittenSpan.ToArray(), location));
        }
        if (status is 429 or 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }
        await WriteRawAsync(context, status, buffer.WrittenMemory, problem);
    }

    private static async Task WriteRawAsync(HttpContext context, int status, ReadOnlyMemory<byte> body, bool problem = false)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = problem ? Problems.ContentType : "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static async Task WriteAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted);
    }

    /// <summary>The caller, from <c>Authorization: Bearer …</c>; 401 without a valid key, 403 when its role may not.</summary>
    private Principal Authorize(HttpContext context, params Role[] allowed)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || header.Length > 300)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            throw new ApiProblemException(401, "unauthorized", "send Authorization: Bearer <api key>");
        }
        var principal = state.Control.Authenticate(header["Bearer ".Length..].Trim());
        if (principal is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            throw new ApiProblemException(401, "unauthorized", "the API key is not valid");
        }
        if (!allowed.Contains(principal.Value.Role))
        {
            throw new ApiProblemException(403, "forbidden", $"a {principal.Value.Role.ToString().ToLowerInvariant()} key may not do this");
        }
        return principal.Value;
    }

    /// <summary>The seller named in the route (<c>{id}</c>) that the caller may see: the admin any, a seller only
    /// itself (403 for another); 404 for no such seller.</summary>
    private long RouteSeller(HttpContext context, string what)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller);
        if (!Ids.TryParseSeller((string)context.Request.RouteValues["id"]!, out var seller) || state.Control.FindSeller(seller) is null)
        {
            throw new ApiProblemException(404, "unknown_seller", "no such seller");
        }
        if (principal.Role == Role.Seller && principal.SellerId != seller)
        {
            throw new ApiProblemException(403, "forbidden", $"a seller key sees only its own {what}");
        }
        return seller;
    }

    /// <summary>A SKU named in a route: a seller's own, or (admin) any seller's given <c>?seller_id=</c>.</summary>
    private async ValueTask<(long Seller, int Sku)> ResolveSkuAsync(HttpContext context, string code)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller);
        var seller = principal.SellerId;
        if (principal.Role == Role.Admin)
        {
            if (!Ids.TryParseSeller(context.Request.Query["seller_id"].ToString(), out seller))
            {
                throw new RequestShapeException("seller_id: required with the admin key (\"sel_…\")");
            }
        }
        return (seller, await SellerSkuAsync(seller, code));
    }

    private async ValueTask<int> SellerSkuAsync(long seller, string code) =>
        await Catalog.FindSkuAsync(seller, code) is var sku and >= 0 ? sku
            : throw new ApiProblemException(404, RejectReason.UnknownSku.ToCode(), $"no SKU '{code}' for this seller");

    private static long OrderId(HttpContext context) =>
        Ids.TryParseOrder((string)context.Request.RouteValues["id"]!, out var parent) ? parent
            : throw new ApiProblemException(404, RejectReason.OrderNotFound.ToCode(), "not an order id");

    private static ApiProblemException NotFound(long parent) => new(404, RejectReason.OrderNotFound.ToCode(), $"no order {Ids.Order(parent)}");

    private static int ParseInt(string? text, string name, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
            : throw new RequestShapeException($"{name}: an integer from {min} to {max}");

    private static string Text(string value, string name, int charsMax) =>
        value.Length > 0 && value.Length <= charsMax && !value.Any(char.IsControl) && Encoding.UTF8.GetByteCount(value) <= Limits.TextBytesMax
            ? value : throw new RequestShapeException($"{name}: 1 to {charsMax} printable characters");

    /// <summary>Whether the API takes <paramref name="value"/> as a code (SKU, warehouse, …): 1 to
    /// <see cref="Limits.CodeBytesMax"/> UTF-8 bytes, no spaces or control characters.</summary>
    public static bool IsCode(string value) =>
        value.Length > 0 && Encoding.UTF8.GetByteCount(value) <= Limits.CodeBytesMax && !value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c));

    private static string Code(string value, string name) =>
        IsCode(value)
            ? value : throw new RequestShapeException($"{name}: 1 to {Limits.CodeBytesMax} bytes, no spaces or control characters");

    private static string Country(string value, string name) =>
        value.Length == 2 && char.IsAsciiLetterUpper(value[0]) && char.IsAsciiLetterUpper(value[1])
            ? value : throw new RequestShapeException($"{name}: an ISO 3166-1 alpha-2 code such as \"KR\"");

    /// <summary>The request body (JSON only), at most <see cref="ServerOptions.RequestBodyBytesMax"/> bytes.</summary>
    private async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        var (bytes, _) = await ReadBodyAsync(context, pool: null); // a new array has exactly the body's length
        return bytes;
    }

    /// <summary>The request body in an array of <paramref name="pool"/> (returned by the caller) or a new one. A batch
    /// body is ~130 kB: a new array each time lands on the large-object heap and forced full collections
    /// (measured: a fifth of the CPU of the batch path went to the GC and to zeroing fresh pages).</summary>
    private async Task<(byte[] Bytes, int Length)> ReadBodyAsync(HttpContext context, ArrayPool<byte>? pool)
    {
        var type = context.Request.ContentType;
        if (type is null || !(type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith(Flow.CloudEvents.ContentType, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ApiProblemException(415, "unsupported_media_type", "send the body as application/json");
        }
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted);
            if (read.Buffer.Length > Options.RequestBodyBytesMax)
            {
                reader.AdvanceTo(read.Buffer.End);
                throw new ApiProblemException(413, "body_too_large", $"the body exceeds {Options.RequestBodyBytesMax} bytes");
            }
            if (read.IsCompleted)
            {
                var length = (int)read.Buffer.Length;
                var bytes = pool?.Rent(length) ?? new byte[length];
                read.Buffer.CopyTo(bytes);
                reader.AdvanceTo(read.Buffer.End);
                return (bytes, length);
            }
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    /// <summary>Reads a JSON body into a request record: broken JSON → 400, wrong shape → 422 naming the problem.</summary>
    private async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type) where T : class
    {
        var body = await ReadBodyAsync(context);
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new RequestShapeException("the body must be a JSON object");
        }
        catch (JsonException e)
        {
            OrderJson.ThrowIfMalformed(body); // broken JSON is a 400; only valid JSON of the wrong shape is a 422
            throw new RequestShapeException(e.Message);
        }
    }
}

internal static class EndpointMetadata
{
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.ProducesProblem(status);
        }
        return builder;
    }
}
