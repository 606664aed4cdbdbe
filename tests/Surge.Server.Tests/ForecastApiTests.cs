using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Surge.Server.Tests;

/// <summary>GET /v1/sellers/{id}/forecast from the seller's own orders, on a clock the test moves week by week.</summary>
public sealed class ForecastApiTests
{
    [Fact]
    public async Task Forecast_IsBuiltFromPaidOrdersByWeek_WithStockoutAndReorder_AndTooShortHistoriesSaySo()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero)); // a Monday
        await using var server = await TestServer.StartAsync(o => o with { Clock = clock, Flow = o.Flow with { Start = false }, Orders = o.Orders with { ReservationTtl = TimeSpan.FromDays(30) } });
        var (seller, sellerId) = await server.SellerWithStockAsync("tea", units: 10_000);
        foreach (var (sku, units) in new[] { ("rare", 10), ("scarce", 6 * 12 + 10) })
        {
            await seller.PostAsync("/v1/skus", TestServer.Sku(sku));
            await seller.PostAsync("/v1/stock/receipts", new { sku, warehouse_id = "wh-kr-1", quantity = units });
        }
        var teaPerWeek = new List<double>();
        for (var week = 0; week < 12; week++)
        {
            var tea = 5 + week % 3;
            teaPerWeek.Add(tea);
            var lines = Enumerable.Repeat("tea", tea).Concat(Enumerable.Repeat("scarce", 6)).Concat(week is 3 or 9 ? ["rare"] : []);
            var n = 0;
            foreach (var sku in lines)
            {
                var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order($"b{week}-{n++}", (sellerId, sku, 1)));
                Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{placed.Json!["id"]}/payment", new { })).Status);
            }
            await server.Admin.PostAsync("/v1/orders", TestServer.Order($"unpaid-{week}", (sellerId, "tea", 3))); // never paid: not demand
            clock.Advance(TimeSpan.FromDays(7));
        }

        var answer = await seller.GetAsync($"/v1/sellers/{sellerId}/forecast?weeks=12");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var skus = answer.Json!["skus"]!.AsArray().ToDictionary(s => s!["sku"]!.GetValue<string>(), s => s!);
        var teaPlan = skus["tea"];
        Assert.Equal(teaPerWeek, teaPlan["history"]!.AsArray().Select(h => h!["units"]!.GetValue<double>()));
        Assert.Equal("2026-01-05", teaPlan["history"]![0]!["week"]!.GetValue<string>());
        var forecast = teaPlan["forecast"]!.AsArray();
        Assert.Equal(8, forecast.Count);
        Assert.Equal("2026-03-30", forecast[0]!["week"]!.GetValue<string>());
        Assert.All(forecast, f => Assert.True(f!["lower95"]!.GetValue<double>() <= f["mean"]!.GetValue<double>()
            && f["mean"]!.GetValue<double>() <= f["upper95"]!.GetValue<double>() && f["mean"]!.GetValue<double>() > 0));
        Assert.Null(teaPlan["stockout_week"]); // 10,000 units on hand
        Assert.Equal(0, teaPlan["reorder_units"]!.GetValue<double>());

        var scarce = skus["scarce"];
        Assert.Equal(10, scarce["available"]!.GetValue<long>());
        var means = scarce["forecast"]!.AsArray().Select(f => f!["mean"]!.GetValue<double>()).ToList();
        var cumulative = 0.0;
        var expectedStockout = scarce["forecast"]!.AsArray()[means.FindIndex(m => (cumulative += m) > 10)]!["week"]!.GetValue<string>();
        Assert.Equal(expectedStockout, scarce["stockout_week"]!.GetValue<string>());
        // Enough for the lead time (2 weeks) and the review week, plus safety stock: at least their mean demand.
        Assert.True(scarce["reorder_units"]!.GetValue<double>() >= Math.Floor(means.Take(3).Sum() - 10), scarce.ToJsonString());

        Assert.StartsWith("history_too_short", skus["rare"]["problem"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(skus["rare"]["forecast"]);

        var (other, _) = await server.SellerWithStockAsync("other", units: 0);
        Assert.Equal("forbidden", (await other.GetAsync($"/v1/sellers/{sellerId}/forecast")).ProblemCode);
        Assert.Equal("unknown_seller", (await server.Admin.GetAsync("/v1/sellers/sel_999/forecast")).ProblemCode);
        Assert.Equal("invalid_request", (await seller.GetAsync($"/v1/sellers/{sellerId}/forecast?weeks=0")).ProblemCode);
    }
}
