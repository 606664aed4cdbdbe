using System.Globalization;
using System.Net;

namespace Surge.Server.Tests;

/// <summary>A server whose downstream stages do not start: paid orders stay paid (fulfillment would mark them
/// allocated at its own pace), so a listing's statuses are what the test made them.</summary>
public sealed class ServerWithoutFlow : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { Start = false } });

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>The routes the read model answers: a seller's listing with its filters, a buyer's history, the CSV export
/// and sales per SKU per day or week — each after the orders they show were placed, paid and cancelled through the API.</summary>
public sealed class ReadModelApiTests(ServerWithoutFlow shared) : IClassFixture<ServerWithoutFlow>
{
    private TestServer Server => shared.Server;
    private ApiClient Admin => Server.Admin;

    /// <summary>A seller with two SKUs (price 12,900 KRW each) and four orders: buyer-a 2 cups (paid), buyer-b 1 cup and
    /// 3 saucers (paid), buyer-a 1 saucer (cancelled), buyer-c 4 cups (unpaid). Returns the seller and the order ids.</summary>
    private async Task<(ApiClient Seller, string SellerId, string[] Orders)> StoryAsync(string prefix)
    {
        var (seller, sellerId) = await Server.SellerWithStockAsync(prefix + "-cup", units: 100);
        Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", TestServer.Sku(prefix + "-saucer"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", new { sku = prefix + "-saucer", warehouse_id = "wh-kr-1", quantity = 100 })).Status);
        var orders = new List<string>();
        foreach (var (buyer, lines) in new[]
        {
            (prefix + "-buyer-a", new[] { (sellerId, prefix + "-cup", 2) }),
            (prefix + "-buyer-b", new[] { (sellerId, prefix + "-cup", 1), (sellerId, prefix + "-saucer", 3) }),
            (prefix + "-buyer-a", new[] { (sellerId, prefix + "-saucer", 1) }),
            (prefix + "-buyer-c", new[] { (sellerId, prefix + "-cup", 4) }),
        })
        {
            var placed = await Admin.PostAsync("/v1/orders", TestServer.Order(buyer, lines));
            Assert.Equal(HttpStatusCode.Created, placed.Status);
            orders.Add(placed.Json!["id"]!.GetValue<string>());
        }
        Assert.Equal(HttpStatusCode.OK, (await Admin.PostAsync($"/v1/orders/{orders[0]}/payment", new { })).Status);
        Assert.Equal(HttpStatusCode.OK, (await Admin.PostAsync($"/v1/orders/{orders[1]}/payment", new { })).Status);
        Assert.Equal(HttpStatusCode.OK, (await Admin.PostAsync($"/v1/orders/{orders[2]}/cancel", new { })).Status);
        await seller.ReadModelCaughtUpAsync(sellerId);
        return (seller, sellerId, [.. orders]);
    }

    private static string[] OrderIds(ApiResponse page) =>
        [.. page.Json!["orders"]!.AsArray().Select(o => o!["order_id"]!.GetValue<string>())];

    [Fact]
    public async Task SellerListing_FiltersByStatusBuyerSkuAndDate()
    {
        var (seller, sellerId, orders) = await StoryAsync("rm-list");
        var path = $"/v1/sellers/{sellerId}/orders";

        var all = await seller.GetAsync(path);
        Assert.Equal(orders, OrderIds(all));
        Assert.Equal(0, all.Json!["freshness"]!["lag_records"]!.GetValue<long>());
        var second = all.Json!["orders"]![1]!;
        Assert.Equal(("paid", 4 * 12_900L, "KRW"), (second["status"]!.GetValue<string>(), second["amount_minor"]!.GetValue<long>(), second["currency"]!.GetValue<string>()));

        Assert.Equal(orders[..2], OrderIds(await seller.GetAsync(path + "?status=paid")));
        Assert.Equal([orders[2]], OrderIds(await seller.GetAsync(path + "?status=cancelled")));
        Assert.Equal([orders[0], orders[2]], OrderIds(await seller.GetAsync(path + "?buyer_id=rm-list-buyer-a")));
        Assert.Equal([orders[1], orders[2]], OrderIds(await seller.GetAsync(path + "?sku=rm-list-saucer")));
        Assert.Equal([orders[0], orders[1]], OrderIds(await seller.GetAsync(path + "?status=paid&sku=rm-list-cup")));
        var today = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var tomorrow = DateTimeOffset.UtcNow.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Assert.Equal(orders, OrderIds(await seller.GetAsync($"{path}?from={today}&to={tomorrow}")));
        Assert.Empty(OrderIds(await seller.GetAsync($"{path}?to={today}")));

        Assert.Equal("invalid_request", (await seller.GetAsync(path + "?status=lost")).ProblemCode);
        Assert.Equal("invalid_request", (await seller.GetAsync(path + "?from=yesterday")).ProblemCode);
        Assert.Equal("invalid_request", (await seller.GetAsync($"{path}?from={tomorrow}&to={today}")).ProblemCode);
        Assert.Equal("invalid_request", (await seller.GetAsync(path + "?cursor=abc")).ProblemCode);
        Assert.Equal("unknown_sku", (await seller.GetAsync(path + "?sku=no-such-sku")).ProblemCode);
    }

    [Fact]
    public async Task BuyerHistory_SpansSellers_AndIsForStorefrontsAndAdmins()
    {
        var (seller, _, orders) = await StoryAsync("rm-buyer");
        var (_, otherSeller) = await Server.SellerWithStockAsync("rm-buyer-other", units: 10);
        var elsewhere = await Admin.PostAsync("/v1/orders", TestServer.Order("rm-buyer-buyer-a", (otherSeller, "rm-buyer-other", 1)));
        Assert.Equal(HttpStatusCode.Created, elsewhere.Status);
        await Admin.ReadModelCaughtUpAsync(otherSeller);

        var history = await Admin.GetAsync("/v1/buyers/rm-buyer-buyer-a/orders?limit=2");
        Assert.Equal([orders[0], orders[2]], OrderIds(history));
        var cursor = history.Json!["next_cursor"]!.GetValue<string>();
        Assert.Equal([elsewhere.Json!["id"]!.GetValue<string>()], OrderIds(await Admin.GetAsync($"/v1/buyers/rm-buyer-buyer-a/orders?limit=2&cursor={cursor}")));
        Assert.Empty(OrderIds(await Admin.GetAsync("/v1/buyers/nobody-at-all/orders")));
        Assert.Equal("forbidden", (await seller.GetAsync("/v1/buyers/rm-buyer-buyer-a/orders")).ProblemCode);
    }

    [Fact]
    public async Task Export_IsOneCsvRowPerLine()
    {
        var (seller, sellerId, orders) = await StoryAsync("rm-csv");

        var export = await seller.GetAsync($"/v1/sellers/{sellerId}/orders/export");

        Assert.Equal(HttpStatusCode.OK, export.Status);
        Assert.StartsWith("text/csv", export.ContentType);
        var rows = export.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("order_id,seller_order_id,status,cancel_reason,placed_at,sku,warehouse_id,quantity,unit_price_minor,currency", rows[0]);
        Assert.Equal(5, rows.Length - 1); // 1 + 2 + 1 + 1 lines
        var refund = Assert.Single(rows, r => r.StartsWith(orders[2] + ",", StringComparison.Ordinal)).Split(',');
        Assert.Equal(("cancelled", "operator", "rm-csv-saucer", "1", "12900", "KRW"), (refund[2], refund[3], refund[5], refund[7], refund[8], refund[9]));
        Assert.Equal(3, rows.Count(r => r.Contains(",paid,", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Sales_CountPaidUnitsAndRevenue_ByDayAndWeek()
    {
        var (seller, sellerId, _) = await StoryAsync("rm-sales");
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var monday = today.AddDays(-(((int)today.DayOfWeek + 6) % 7));

        var byDay = (await seller.GetAsync($"/v1/sellers/{sellerId}/sales")).Json!;
        var sales = byDay["sales"]!.AsArray().Select(s => (s!["sku"]!.GetValue<string>(), s["period"]!.GetValue<string>(), s["units"]!.GetValue<long>(),
            s["revenue_minor"]!.GetValue<long>())).ToList();
        var day = today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        // Paid: 2 + 1 cups, 3 saucers; the cancelled saucer and the unpaid cups do not count.
        Assert.Equal([("rm-sales-cup", day, 3L, 3 * 12_900L), ("rm-sales-saucer", day, 3L, 3 * 12_900L)], sales);

        var byWeek = (await seller.GetAsync($"/v1/sellers/{sellerId}/sales?granularity=week")).Json!;
        Assert.All(byWeek["sales"]!.AsArray(), s => Assert.Equal(monday.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), s!["period"]!.GetValue<string>()));

        Assert.Equal("invalid_request", (await seller.GetAsync($"/v1/sellers/{sellerId}/sales?granularity=month")).ProblemCode);
        Assert.Equal("invalid_request", (await seller.GetAsync($"/v1/sellers/{sellerId}/sales?from=2020-01-01&to=2026-01-01")).ProblemCode);
        Assert.Equal("forbidden", (await Server.Client((await Server.SellerWithStockAsync("rm-sales-x", 0)).Seller.Key!)
            .GetAsync($"/v1/sellers/{sellerId}/sales")).ProblemCode);
    }
}
