using System.Net;
using System.Text.Json;

namespace Surge.Server.Tests;

/// <summary>
/// Idempotency keys that outlive the process: an order placement or a stock receipt carries its key into its
/// partition with the command, so a retry after a restart (the silo's memory of answers is gone) is answered from the
/// partition — the same order, the same refusal, units added once — and a batch's orders may each carry a key.
/// </summary>
public sealed class DurableIdempotencyTests
{
    private static string Batch(params object[] orders) => JsonSerializer.Serialize(new { orders });

    private static object KeyedOrder(string key, string buyer, string sellerId, string sku, int quantity) => new
    {
        idempotency_key = key,
        buyer_id = buyer,
        ship_to = new { country = "KR", region = "seoul", postal_code = "04524" },
        lines = new[] { new { seller_id = sellerId, sku, quantity } },
    };

    [Fact]
    public async Task AfterARestart_ARetryWithItsKey_IsTheSameOrder_TheSameRefusal_AndNoSecondReservation()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, sellerId) = await server.SellerWithStockAsync("kettle", units: 5);
        var order = TestServer.Order("buyer-k", (sellerId, "kettle", 2));
        var tooMany = TestServer.Order("buyer-k", (sellerId, "kettle", 9));
        var placed = await server.Admin.PostAsync("/v1/orders", order, idempotencyKey: "k-placed");
        var refused = await server.Admin.PostAsync("/v1/orders", tooMany, idempotencyKey: "k-refused");
        Assert.Equal(HttpStatusCode.Created, placed.Status);
        Assert.Equal("insufficient_stock", refused.ProblemCode);

        await server.RestartAsync();
        seller = server.Client(seller.Key!);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", new { sku = "kettle", warehouse_id = "wh-kr-1", quantity = 10 })).Status);

        var again = await server.Admin.PostAsync("/v1/orders", order, idempotencyKey: "k-placed");
        Assert.Equal(HttpStatusCode.Created, again.Status);
        Assert.Equal(placed.Json!["id"]!.ToString(), again.Json!["id"]!.ToString());
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        // Stock now suffices, but the key's answer was the refusal: a retry does not turn it into an order.
        var refusedAgain = await server.Admin.PostAsync("/v1/orders", tooMany, idempotencyKey: "k-refused");
        Assert.Equal(HttpStatusCode.Conflict, refusedAgain.Status);
        Assert.Equal("insufficient_stock", refusedAgain.ProblemCode);
        var otherBody = await server.Admin.PostAsync("/v1/orders", TestServer.Order("buyer-k", (sellerId, "kettle", 1)), idempotencyKey: "k-placed");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherBody.Status);
        Assert.Equal("idempotency_key_reused", otherBody.ProblemCode);
        Assert.Equal(5 + 10 - 2, await seller.AvailableAsync("kettle")); // one reservation of 2
        // Another caller's identical key is another key.
        var storefront = server.Client((await server.Admin.PostAsync("/v1/storefront-keys", new { name = "shop" })).Json!["api_key"]!.GetValue<string>());
        var theirs = await storefront.PostAsync("/v1/orders", order, idempotencyKey: "k-placed");
        Assert.Equal(HttpStatusCode.Created, theirs.Status);
        Assert.NotEqual(placed.Json!["id"]!.ToString(), theirs.Json!["id"]!.ToString());
    }

    [Fact]
    public async Task AStockReceiptRetriedAfterARestart_AddsItsUnitsOnce()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, _) = await server.SellerWithStockAsync("lamp", units: 0);
        var receipt = new { sku = "lamp", warehouse_id = "wh-kr-1", quantity = 7 };
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", receipt, idempotencyKey: "r-1")).Status);

        await server.RestartAsync();
        seller = server.Client(seller.Key!);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", receipt, idempotencyKey: "r-1")).Status);

        Assert.Equal(7, await seller.AvailableAsync("lamp"));
    }

    [Fact]
    public async Task EachOrderOfABatch_MayCarryItsKey_AndARetriedBatchPlacesOnlyWhatIsNew()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, sellerId) = await server.SellerWithStockAsync("cup", units: 20);
        var first = await server.Admin.SendRawAsync(HttpMethod.Post, "/v1/orders/batch",
            Batch(KeyedOrder("b-1", "x1", sellerId, "cup", 2), KeyedOrder("b-2", "x2", sellerId, "cup", 3)), "application/json");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var ids = first.Json!["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToArray();

        await server.RestartAsync();
        // The client did not see the answer: it sends the two again, with a third order, and one key with another order.
        var retry = await server.Admin.SendRawAsync(HttpMethod.Post, "/v1/orders/batch",
            Batch(KeyedOrder("b-2", "x2", sellerId, "cup", 3), KeyedOrder("b-3", "x3", sellerId, "cup", 1), KeyedOrder("b-1", "x1", sellerId, "cup", 2),
                KeyedOrder("b-1", "x1", sellerId, "cup", 4)), "application/json");

        var results = retry.Json!["results"]!.AsArray();
        Assert.Equal([201, 201, 201, 422], results.Select(r => r!["status"]!.GetValue<int>()));
        Assert.Equal(ids[1], results[0]!["id"]!.GetValue<string>());
        Assert.True(results[0]!["replayed"]!.GetValue<bool>());
        Assert.Null(results[1]!["replayed"]);
        Assert.Equal(ids[0], results[2]!["id"]!.GetValue<string>());
        Assert.Equal("idempotency_key_reused", results[3]!["problem"]!["code"]!.GetValue<string>());
        Assert.Equal(20 - 2 - 3 - 1, await server.Client(seller.Key!).AvailableAsync("cup"));
        // The same key through the single endpoint is the same order.
        var single = await server.Admin.PostAsync("/v1/orders", new
        {
            buyer_id = "x3", ship_to = new { country = "KR", region = "seoul", postal_code = "04524" },
            lines = new[] { new { seller_id = sellerId, sku = "cup", quantity = 1 } },
        }, idempotencyKey: "b-3");
        Assert.Equal(results[1]!["id"]!.GetValue<string>(), single.Json!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task AKeyInTheBodyOfASingleOrder_IsRefused_ItGoesInTheHeader()
    {
        await using var server = await TestServer.StartAsync();
        var (_, sellerId) = await server.SellerWithStockAsync("pen", units: 1);
        var answer = await server.Admin.PostAsync("/v1/orders", KeyedOrder("in-body", "x", sellerId, "pen", 1));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, answer.Status);
    }
}
