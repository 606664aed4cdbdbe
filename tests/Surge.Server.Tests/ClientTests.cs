using Surge.Client;

namespace Surge.Server.Tests;

/// <summary>The typed client (Surge.Client) against a real embedded server: typed answers, problem+json as typed
/// errors, Idempotency-Key, batch answers in request order.</summary>
public sealed class ClientTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(TestServer Server, SurgeClient Admin, SurgeClient Seller, string SellerId)> MarketAsync(int units)
    {
        var server = await TestServer.StartAsync();
        var admin = new SurgeClient(server.Server.BaseAddress, server.Server.AdminKey);
        await admin.CreateWarehouseAsync(new WarehouseBody("wh-kr-1", "seoul", "KR"));
        var created = await admin.CreateSellerAsync("client seller");
        var seller = admin.WithKey(created.ApiKey);
        await seller.UpsertSkuAsync(new SkuBody("mug", "Ceramic mug", 12_900, "KRW", 350, "ambient"));
        await seller.ReceiveStockAsync("mug", "wh-kr-1", units);
        return (server, admin, seller, created.Id);
    }

    private static PlaceOrderRequest Order(string buyer, string seller, int quantity) =>
        new(buyer, new ShipToBody("KR", "seoul", "04524"), [new OrderLineBody(seller, "mug", quantity)]);

    [Fact]
    public async Task TypedCalls_PlaceReadAndPayAnOrder_AndStockFollows()
    {
        var (server, admin, seller, sellerId) = await MarketAsync(units: 5);
        await using var _ = server;
        using var __ = admin;

        var placed = await admin.PlaceOrderAsync(Order("buyer-1", sellerId, 2), cancellationToken: Ct);
        Assert.Equal("pending_payment", placed.Status);
        Assert.Equal(placed.Id, (await admin.GetOrderAsync(placed.Id, Ct)).Id);
        Assert.Equal(2, (await seller.GetStockAsync("mug", Ct)).Reserved);

        var paid = await admin.PayOrderAsync(placed.Id, cancellationToken: Ct);
        Assert.Equal("paid", paid.Status);
        var stock = await seller.GetStockAsync("mug", Ct);
        Assert.Equal((0, 2, 3), (stock.Reserved, stock.Sold, stock.Available));
    }

    [Fact]
    public async Task AProblemAnswer_IsATypedError_WithItsStableCode()
    {
        var (server, admin, _, sellerId) = await MarketAsync(units: 1);
        await using var _ = server;
        using var __ = admin;

        var error = await Assert.ThrowsAsync<SurgeApiException>(() => admin.PlaceOrderAsync(Order("buyer-1", sellerId, 2), cancellationToken: Ct));
        Assert.Equal(409, error.Status);
        Assert.Equal("insufficient_stock", error.Code);
        Assert.False(error.IsRetryable);

        var unknown = await Assert.ThrowsAsync<SurgeApiException>(() => admin.GetOrderAsync("no-such-order", Ct));
        Assert.Equal(404, unknown.Status);
    }

    [Fact]
    public async Task TheSameIdempotencyKey_ReplaysTheFirstOrder_InsteadOfPlacingASecond()
    {
        var (server, admin, seller, sellerId) = await MarketAsync(units: 5);
        await using var _ = server;
        using var __ = admin;

        var body = OrderBodies.Single("buyer-1", "KR", "seoul", [(sellerId, "mug", 1)]);
        var first = await admin.PostJsonAsync("/v1/orders", body, idempotencyKey: "cart-42", cancellationToken: Ct);
        var again = await admin.PostJsonAsync("/v1/orders", body, idempotencyKey: "cart-42", cancellationToken: Ct);
        Assert.Equal(201, first.Status);
        Assert.False(first.Replayed);
        Assert.True(again.Replayed);
        Assert.Equal(first.Json!["id"]!.GetValue<string>(), again.Json!["id"]!.GetValue<string>());
        Assert.Equal(1, (await seller.GetStockAsync("mug", Ct)).Reserved);
    }

    [Fact]
    public async Task ABatch_AnswersEveryOrder_InRequestOrder()
    {
        var (server, admin, _, sellerId) = await MarketAsync(units: 2);
        await using var _ = server;
        using var __ = admin;

        var answers = await admin.PlaceOrdersAsync([Order("a", sellerId, 1), Order("b", sellerId, 5), Order("c", sellerId, 1)], cancellationToken: Ct);
        Assert.Equal([true, false, true], answers.Select(a => a.Accepted));
        Assert.Equal("insufficient_stock", answers[1].Code);
        Assert.NotNull(answers[0].Id);
        Assert.NotEqual(answers[0].Id, answers[2].Id);
    }

    [Fact]
    public async Task ABatchWithAnIdempotencyKey_IsPlacedOnce_AndADifferentBatchUnderTheKeyIsRefused()
    {
        var (server, admin, seller, sellerId) = await MarketAsync(units: 10);
        await using var _ = server;
        using var __ = admin;

        var batch = OrderBodies.Batch(3, (json, i) => OrderBodies.Write(json, $"buyer-{i}", "KR", "seoul", [(sellerId, "mug", 1)]));
        var first = await admin.PostJsonAsync("/v1/orders/batch", batch, idempotencyKey: "import-7", cancellationToken: Ct);
        var again = await admin.PostJsonAsync("/v1/orders/batch", batch, idempotencyKey: "import-7", cancellationToken: Ct);
        Assert.Equal((200, 200), (first.Status, again.Status));
        Assert.True(again.Replayed);
        Assert.Equal(OrderBodies.ReadBatchAnswer(first.Body).Select(a => a.Id), OrderBodies.ReadBatchAnswer(again.Body).Select(a => a.Id));
        Assert.Equal(3, (await seller.GetStockAsync("mug", Ct)).Reserved);

        var other = OrderBodies.Batch(1, (json, _) => OrderBodies.Write(json, "buyer-9", "KR", "seoul", [(sellerId, "mug", 1)]));
        var reused = await admin.PostJsonAsync("/v1/orders/batch", other, idempotencyKey: "import-7", cancellationToken: Ct);
        Assert.Equal(422, reused.Status);
        Assert.Equal("idempotency_key_reused", SurgeClient.Problem(reused).Code);
        Assert.Equal(3, (await seller.GetStockAsync("mug", Ct)).Reserved);
    }

    [Fact]
    public async Task AStockReceiptRetriedWithItsIdempotencyKey_AddsTheUnitsOnce_AndASellerIsCreatedOnce()
    {
        var (server, admin, seller, _) = await MarketAsync(units: 5);
        await using var _ = server;
        using var __ = admin;

        await seller.ReceiveStockAsync("mug", "wh-kr-1", 7, idempotencyKey: "delivery-note-88", cancellationToken: Ct);
        var again = await seller.ReceiveStockAsync("mug", "wh-kr-1", 7, idempotencyKey: "delivery-note-88", cancellationToken: Ct);
        Assert.Equal(12, again.OnHand);
        Assert.Equal(12, (await seller.GetStockAsync("mug", Ct)).OnHand);

        var first = await admin.CreateSellerAsync("Jeju Ceramics", idempotencyKey: "onboarding-3", cancellationToken: Ct);
        var repeat = await admin.CreateSellerAsync("Jeju Ceramics", idempotencyKey: "onboarding-3", cancellationToken: Ct);
        Assert.Equal(first.Id, repeat.Id);
        Assert.Equal(first.ApiKey, repeat.ApiKey);
    }

    [Fact]
    public async Task AWebhookSubscriptionRetriedWithItsIdempotencyKey_IsCreatedOnce()
    {
        var (server, admin, seller, _) = await MarketAsync(units: 1);
        await using var _ = server;
        using var __ = admin;
        var body = System.Text.Encoding.UTF8.GetBytes("""{"event_types":["order.paid"],"url":"https://hooks.example.com/surge"}""");

        var first = await seller.PostJsonAsync("/v1/webhooks", body, idempotencyKey: "subscribe-1", cancellationToken: Ct);
        var again = await seller.PostJsonAsync("/v1/webhooks", body, idempotencyKey: "subscribe-1", cancellationToken: Ct);

        Assert.Equal((201, 201), (first.Status, again.Status));
        Assert.True(again.Replayed);
        Assert.Equal(first.Json!["id"]!.GetValue<string>(), again.Json!["id"]!.GetValue<string>());
        var list = await seller.SendAsync(HttpMethod.Get, "/v1/webhooks", cancellationToken: Ct);
        Assert.Single(list.Json!["webhooks"]!.AsArray());
    }

    [Fact]
    public async Task OrdersOfABatchWithTheirOwnKeys_AreEachPlacedOnce_WhenTheBatchIsSentAgainWithANewOne()
    {
        var (server, admin, seller, sellerId) = await MarketAsync(units: 10);
        await using var _ = server;
        using var __ = admin;

        var first = await admin.PlaceOrdersAsync([Order("a", sellerId, 1), Order("b", sellerId, 2)], orderKeys: ["cart-a", "cart-b"], cancellationToken: Ct);
        var again = await admin.PlaceOrdersAsync([Order("a", sellerId, 1), Order("b", sellerId, 2), Order("c", sellerId, 3)],
            orderKeys: ["cart-a", "cart-b", "cart-c"], cancellationToken: Ct);

        Assert.All(again, a => Assert.Equal(201, a.Status));
        Assert.Equal(first.Select(a => a.Id), again.Take(2).Select(a => a.Id));
        Assert.Equal([true, true, false], again.Select(a => a.Replayed));
        Assert.Equal(1 + 2 + 3, (await seller.GetStockAsync("mug", Ct)).Reserved);
        await Assert.ThrowsAsync<ArgumentException>(() => admin.PlaceOrdersAsync([Order("d", sellerId, 1)], orderKeys: [], cancellationToken: Ct));
    }
}
