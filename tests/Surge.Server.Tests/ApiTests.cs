using System.Net;

namespace Surge.Server.Tests;

public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await TestServer.StartAsync();

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

public sealed class ApiTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private TestServer Server => shared.Server;
    private ApiClient Admin => Server.Admin;

    [Fact]
    public async Task SkuBatch_WithANullItem_RefusesThatItem_AndTakesTheRest()
    {
        var (seller, _) = await Server.SellerWithStockAsync("batch-anchor", units: 0);
        var body = "{\"skus\":[null," + System.Text.Json.JsonSerializer.Serialize(TestServer.Sku("batch-kept")) + "]}";

        var answer = await seller.SendRawAsync(HttpMethod.Post, "/v1/skus/batch", body, "application/json");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var results = answer.Json!["results"]!.AsArray();
        Assert.Equal(422, results[0]!["status"]!.GetValue<int>());
        Assert.Equal("invalid_request", results[0]!["problem"]!["code"]!.GetValue<string>());
        Assert.Equal(201, results[1]!["status"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.OK, (await seller.GetAsync("/v1/skus/batch-kept")).Status);
    }

    [Fact]
    public async Task PlacedOrder_ReservesStock_PaymentSellsIt_AndTrackingFollowsIt()
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync("kettle", units: 10);

        var placed = await Admin.PostAsync("/v1/orders", TestServer.Order("buyer-1", (sellerId, "kettle", 3)));

        Assert.Equal(HttpStatusCode.Created, placed.Status);
        var order = placed.Json!;
        Assert.Equal("pending_payment", order["status"]!.GetValue<string>());
        Assert.Equal($"/v1/orders/{order["id"]}", placed.Headers.Location!.ToString());
        var child = order["seller_orders"]![0]!;
        Assert.Equal(sellerId, child["seller_id"]!.GetValue<string>());
        Assert.Equal(3, child["lines"]![0]!["quantity"]!.GetValue<int>());
        Assert.Equal("wh-kr-1", child["lines"]![0]!["warehouse_id"]!.GetValue<string>());
        var stock = (await seller.GetAsync("/v1/skus/kettle/stock")).Json!;
        Assert.Equal((10, 3, 7), (stock["on_hand"]!.GetValue<int>(), stock["reserved"]!.GetValue<int>(), stock["available"]!.GetValue<int>()));

        var paid = await Admin.PostAsync($"/v1/orders/{order["id"]}/payment", new { });
        Assert.Equal(HttpStatusCode.OK, paid.Status);
        Assert.Equal("paid", paid.Json!["status"]!.GetValue<string>());
        stock = (await seller.GetAsync("/v1/skus/kettle/stock")).Json!;
        Assert.Equal((7, 0, 3), (stock["on_hand"]!.GetValue<int>(), stock["reserved"]!.GetValue<int>(), stock["sold"]!.GetValue<int>()));

        var tracked = await new ApiClient(Server.Server.BaseAddress, null).GetAsync($"/v1/track/{order["tracking_token"]}");
        Assert.Equal(HttpStatusCode.OK, tracked.Status);
        Assert.True(tracked.Json!["status"]!.GetValue<string>() is "paid" or "allocated", tracked.Json!["status"]!.GetValue<string>()); // fulfillment may have planned it already
        var token = order["tracking_token"]!.GetValue<string>();
        var forged = (token[0] == 'A' ? "B" : "A") + token[1..];
        Assert.Equal("unknown_tracking_token", (await new ApiClient(Server.Server.BaseAddress, null).GetAsync($"/v1/track/{forged}")).ProblemCode);
    }

    [Fact]
    public async Task InsufficientStock_Is409_AndReservesNothing()
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync("lamp", units: 2);

        var refused = await Admin.PostAsync("/v1/orders", TestServer.Order("buyer-2", (sellerId, "lamp", 3)));

        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("insufficient_stock", refused.ProblemCode);
        Assert.Equal(2, await seller.AvailableAsync("lamp"));
    }

    [Fact]
    public async Task MultiSellerOrder_IsAllOrNothing()
    {
        var (sellerA, a) = await Server.SellerWithStockAsync("mug", units: 5);
        var (sellerB, b) = await Server.SellerWithStockAsync("tray", units: 1);

        var refused = await Admin.PostAsync("/v1/orders", TestServer.Order("buyer-3", (a, "mug", 2), (b, "tray", 2)));
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("insufficient_stock", refused.ProblemCode);
        Assert.Equal(5, await sellerA.AvailableAsync("mug")); // A's hold was released with the parent

        var placed = await Admin.PostAsync("/v1/orders", TestServer.Order("buyer-3", (a, "mug", 2), (b, "tray", 1)));
        Assert.Equal(HttpStatusCode.Created, placed.Status);
        var id = placed.Json!["id"]!.GetValue<string>();
        Assert.Equal(2, placed.Json!["seller_orders"]!.AsArray().Count);
        var fetched = await Admin.GetAsync($"/v1/orders/{id}");
        Assert.Equal(2, fetched.Json!["seller_orders"]!.AsArray().Count);
        var asSellerB = await sellerB.GetAsync($"/v1/orders/{id}");
        Assert.Equal(b, asSellerB.Json!["seller_orders"]!.AsArray().Single()!["seller_id"]!.GetValue<string>());

        var cancelled = await Admin.PostAsync($"/v1/orders/{id}/cancel", new { });
        Assert.Equal(HttpStatusCode.OK, cancelled.Status);
        Assert.All(cancelled.Json!["seller_orders"]!.AsArray(), c => Assert.Equal("cancelled", c!["status"]!.GetValue<string>()));
        Assert.Equal(5, await sellerA.AvailableAsync("mug"));
        Assert.Equal(1, await sellerB.AvailableAsync("tray"));
        Assert.Equal("invalid_transition", (await Admin.PostAsync($"/v1/orders/{id}/payment", new { })).ProblemCode);
    }

    [Fact]
    public async Task Keys_SeeOnlyWhatTheyOwn()
    {
        var (sellerA, a) = await Server.SellerWithStockAsync("vase", units: 3);
        var (sellerB, _) = await Server.SellerWithStockAsync("bowl", units: 3);
        var anonymous = new ApiClient(Server.Server.BaseAddress, null);
        var wrong = new ApiClient(Server.Server.BaseAddress, "sk_not_a_key");

        Assert.Equal("unauthorized", (await anonymous.GetAsync("/v1/skus/vase/stock")).ProblemCode);
        Assert.Equal("unauthorized", (await wrong.GetAsync("/v1/skus/vase/stock")).ProblemCode);
        Assert.Equal("unknown_sku", (await sellerB.GetAsync("/v1/skus/vase/stock")).ProblemCode);
        Assert.Equal("forbidden", (await sellerB.GetAsync($"/v1/sellers/{a}/orders")).ProblemCode);
        Assert.Equal("forbidden", (await sellerB.PostAsync("/v1/orders", TestServer.Order("b", (a, "vase", 1)))).ProblemCode);
        Assert.Equal("forbidden", (await sellerA.PostAsync("/v1/sellers", new { name = "sneaky" })).ProblemCode);
        Assert.Equal(HttpStatusCode.OK, (await sellerA.GetAsync($"/v1/sellers/{a}/orders")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync($"/v1/skus/vase/stock?seller_id={a}")).Status);
    }

    [Fact]
    public async Task StorefrontKey_PlacesOrders_ButCannotAdminister()
    {
        var (_, seller) = await Server.SellerWithStockAsync("fan", units: 3);
        var key = (await Admin.PostAsync("/v1/storefront-keys", new { name = "web shop" })).Json!["api_key"]!.GetValue<string>();
        var storefront = Server.Client(key);

        Assert.Equal(HttpStatusCode.Created, (await storefront.PostAsync("/v1/orders", TestServer.Order("b9", (seller, "fan", 1)))).Status);
        Assert.Equal("forbidden", (await storefront.PostAsync("/v1/warehouses", new { id = "x", region = "r", country = "KR" })).ProblemCode);
    }

    public static TheoryData<string, string?, HttpStatusCode, string> BadOrders => new()
    {
        { "{\"buyer_id\":", "application/json", HttpStatusCode.BadRequest, "malformed_json" },
        { "[1,2", "application/json", HttpStatusCode.BadRequest, "malformed_json" },
        { "{\"buyer_id\":1,\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_1\",\"sku\":\"x\",\"quantity\":-1}]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_1\",\"sku\":\"x\",\"quantity\":1.5}]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"Korea\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_1\",\"sku\":\"x\",\"quantity\":1}]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"bob\",\"sku\":\"x\",\"quantity\":1}]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"extra\":true,\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_1\",\"sku\":\"x\",\"quantity\":1}]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"" + new string('b', 65) + "\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_1\",\"sku\":\"x\",\"quantity\":1}]}", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_1\",\"sku\":\"x\",\"quantity\":1}]}", "text/plain", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type" },
        { "null", "application/json", HttpStatusCode.UnprocessableEntity, "invalid_request" },
        { "{\"buyer_id\":\"b\",\"ship_to\":{\"country\":\"KR\",\"region\":\"r\"},\"lines\":[{\"seller_id\":\"sel_999\",\"sku\":\"x\",\"quantity\":1}]}", "application/json", HttpStatusCode.Conflict, "unknown_sku" },
    };

    [Theory]
    [MemberData(nameof(BadOrders))]
    public async Task BadOrderInput_GetsAClearProblem(string body, string? contentType, HttpStatusCode status, string code)
    {
        var response = await Admin.SendRawAsync(HttpMethod.Post, "/v1/orders", body, contentType);

        Assert.Equal(status, response.Status);
        Assert.Equal(code, response.ProblemCode);
    }

    [Fact]
    public async Task HugeBody_Is413_AndTheServerKeepsServing()
    {
        var huge = "{\"buyer_id\":\"" + new string('x', (int)Server.Options.Http.RequestBodyBytesMax + 10) + "\"}";

        var response = await Admin.SendRawAsync(HttpMethod.Post, "/v1/orders", huge, "application/json");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal("body_too_large", response.ProblemCode);
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync("/healthz")).Status);
    }

    public static TheoryData<string, string, HttpStatusCode> BadCatalogInput => new()
    {
        { "/v1/sellers", "{}", HttpStatusCode.UnprocessableEntity },
        { "/v1/sellers", "{\"name\":\"\"}", HttpStatusCode.UnprocessableEntity },
        { "/v1/sellers", "{\"name\":5}", HttpStatusCode.UnprocessableEntity },
        { "/v1/sellers", "{\"name\":\"x\",\"rank\":1}", HttpStatusCode.UnprocessableEntity },
        { "/v1/sellers", "{\"name\":", HttpStatusCode.BadRequest },
        { "/v1/warehouses", "{\"id\":\"w 1\",\"region\":\"r\",\"country\":\"KR\"}", HttpStatusCode.UnprocessableEntity },
        { "/v1/warehouses", "{\"id\":\"w1\",\"region\":\"r\",\"country\":\"kr\"}", HttpStatusCode.UnprocessableEntity },
    };

    [Theory]
    [MemberData(nameof(BadCatalogInput))]
    public async Task BadCatalogInput_GetsAClearProblem(string path, string body, HttpStatusCode status)
    {
        var response = await Admin.SendRawAsync(HttpMethod.Post, path, body, "application/json");

        Assert.Equal(status, response.Status);
        Assert.NotEmpty(response.ProblemCode);
    }

    [Fact]
    public async Task BadSkuInput_GetsAClearProblem()
    {
        var (seller, _) = await Server.SellerWithStockAsync("shelf", units: 0);
        var cases = new object[]
        {
            new { sku = "s1", title = "T", price_minor = -1, currency = "KRW", weight_g = 1, temperature = "ambient" },
            new { sku = "s1", title = "T", price_minor = 1, currency = "won", weight_g = 1, temperature = "ambient" },
            new { sku = "s1", title = "T", price_minor = 1, currency = "KRW", weight_g = 1, temperature = "lukewarm" },
            new { sku = "s1", title = new string('t', 201), price_minor = 1, currency = "KRW", weight_g = 1, temperature = "ambient" },
            new { sku = "s1", title = "T", price_minor = 1, currency = "KRW", temperature = "ambient" },
        };
        foreach (var body in cases)
        {
            var response = await seller.PostAsync("/v1/skus", body);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
            Assert.NotEmpty(response.ProblemCode);
        }
        Assert.Equal("unknown_warehouse", (await seller.PostAsync("/v1/stock/receipts", new { sku = "shelf", warehouse_id = "nowhere", quantity = 1 })).ProblemCode);
        Assert.Equal("invalid_request", (await seller.PostAsync("/v1/stock/receipts", new { sku = "shelf", warehouse_id = "wh-kr-1", quantity = 0 })).ProblemCode);
    }

    [Fact]
    public async Task IdempotencyKey_ReplaysTheAnswer_AndRefusesADifferentBody()
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync("towel", units: 10);
        var body = TestServer.Order("buyer-4", (sellerId, "towel", 2));

        var first = await Admin.PostAsync("/v1/orders", body, idempotencyKey: "order-4-a");
        var again = await Admin.PostAsync("/v1/orders", body, idempotencyKey: "order-4-a");
        var other = await Admin.PostAsync("/v1/orders", TestServer.Order("buyer-4", (sellerId, "towel", 3)), idempotencyKey: "order-4-a");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, again.Status);
        Assert.Equal(first.Json!["id"]!.ToString(), again.Json!["id"]!.ToString());
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.Status);
        Assert.Equal("idempotency_key_reused", other.ProblemCode);
        Assert.Equal(8, await seller.AvailableAsync("towel")); // placed once
    }

    [Fact]
    public async Task Batch_AnswersEveryOrderInRequestOrder()
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync("sock", units: 3);
        var body = "{\"orders\":["
            + $"{{\"buyer_id\":\"x1\",\"ship_to\":{{\"country\":\"KR\",\"region\":\"seoul\"}},\"lines\":[{{\"seller_id\":\"{sellerId}\",\"sku\":\"sock\",\"quantity\":2}}]}},"
            + "{\"buyer_id\":\"x2\",\"ship_to\":{\"country\":\"KR\"},\"lines\":[]},"
            + "17,"
            + $"{{\"buyer_id\":\"x3\",\"ship_to\":{{\"country\":\"KR\",\"region\":\"seoul\"}},\"lines\":[{{\"seller_id\":\"{sellerId}\",\"sku\":\"sock\",\"quantity\":2}}]}},"
            + $"{{\"buyer_id\":\"x4\",\"ship_to\":{{\"country\":\"KR\",\"region\":\"seoul\"}},\"lines\":[{{\"seller_id\":\"{sellerId}\",\"sku\":\"sock\",\"quantity\":1}}]}}"
            + "]}";

        var response = await Admin.SendRawAsync(HttpMethod.Post, "/v1/orders/batch", body, "application/json");

        Assert.Equal(HttpStatusCode.OK, response.Status);
        var results = response.Json!["results"]!.AsArray().Select(r => r!["status"]!.GetValue<int>()).ToArray();
        Assert.Equal([201, 422, 422, 409, 201], results);
        Assert.Equal(0, await seller.AvailableAsync("sock"));
    }

    [Fact]
    public async Task FlashSale_EnforcesStartAndPerBuyerLimit()
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync("console", units: 100);
        var later = DateTimeOffset.UtcNow.AddHours(1);
        Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/flash-sales", new { sku = "console", starts_at = later, per_buyer_limit = 1 })).Status);
        Assert.Equal("sale_not_started", (await Admin.PostAsync("/v1/orders", TestServer.Order("fan-1", (sellerId, "console", 1)))).ProblemCode);

        Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/flash-sales", new { sku = "console", starts_at = DateTimeOffset.UtcNow.AddMinutes(-1), per_buyer_limit = 1 })).Status);
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsync("/v1/orders", TestServer.Order("fan-1", (sellerId, "console", 1)))).Status);
        Assert.Equal("limit_exceeded", (await Admin.PostAsync("/v1/orders", TestServer.Order("fan-1", (sellerId, "console", 1)))).ProblemCode);
        Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsync("/v1/orders", TestServer.Order("fan-2", (sellerId, "console", 1)))).Status);
    }

    [Fact]
    public async Task SellerOrders_ArePagedWithACursor()
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync("pen", units: 50);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsync("/v1/orders", TestServer.Order($"p{i}", (sellerId, "pen", 1)))).Status);
        }
        await seller.ReadModelCaughtUpAsync(sellerId);
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = (await seller.GetAsync($"/v1/sellers/{sellerId}/orders?limit=2" + (cursor is null ? "" : "&cursor=" + cursor))).Json!;
            var orders = page["orders"]!.AsArray();
            Assert.True(orders.Count <= 2);
            seen.AddRange(orders.Select(o => o!["id"]!.GetValue<string>()));
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        Assert.Equal(5, seen.Distinct().Count());
        Assert.Equal("invalid_request", (await seller.GetAsync($"/v1/sellers/{sellerId}/orders?limit=0")).ProblemCode);
    }

    [Fact]
    public async Task UnknownRoutes_AndOrders_AreProblems()
    {
        Assert.Equal("not_found", (await Admin.GetAsync("/v1/nothing-here")).ProblemCode);
        Assert.Equal("order_not_found", (await Admin.GetAsync("/v1/orders/ord_99999999")).ProblemCode);
        Assert.Equal("order_not_found", (await Admin.GetAsync("/v1/orders/banana")).ProblemCode);
        Assert.Equal("order_not_found", (await Admin.PostAsync("/v1/orders/ord_99999999/payment", new { })).ProblemCode);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheRoutes()
    {
        var document = (await Admin.GetAsync("/openapi/v1.json")).Json!;

        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToHashSet();
        Assert.Contains("/v1/orders", paths);
        Assert.Contains("/v1/orders/batch", paths);
        Assert.Contains("/v1/orders/{id}/payment", paths);
        Assert.Contains("/v1/track/{token}", paths);
        Assert.NotNull(document["components"]!["securitySchemes"]!["bearer"]);
    }
}
