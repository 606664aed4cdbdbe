using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Surge.Server.Tests;

/// <summary>Orders that retired from their partition (final for longer than the retention) are still answered — from the
/// read model — and still cannot be changed; a restart keeps numbering new orders above them.</summary>
public sealed class RetirementApiTests
{
    [Fact]
    public async Task ARetiredOrder_IsReadFromTheReadModel_AndStaysFinal_AcrossARestart()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
        await using var server = await TestServer.StartAsync(o => o with
        {
            Clock = clock, Flow = o.Flow with { Start = false }, Orders = o.Orders with { Retention = TimeSpan.FromHours(1) },
        });
        var (seller, sellerId) = await server.SellerWithStockAsync("lamp", units: 10);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("buyer-r", (sellerId, "lamp", 2)));
        Assert.Equal(HttpStatusCode.Created, placed.Status);
        var id = placed.Json!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{id}/cancel", new { })).Status);
        await seller.ReadModelCaughtUpAsync(sellerId);

        clock.Advance(TimeSpan.FromHours(1));
        // Retirement runs at the start of a batch: the next command on the partition (another order) retires it.
        Assert.Equal(HttpStatusCode.Created, (await server.Admin.PostAsync("/v1/orders", TestServer.Order("buyer-s", (sellerId, "lamp", 1)))).Status);
        var metrics = (await server.Admin.GetAsync("/metrics")).Body;
        Assert.Equal(1, metrics.Split('\n').Where(l => l.StartsWith("surge_orders_retired_total{", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)));

        var retired = await server.Admin.GetAsync($"/v1/orders/{id}");
        Assert.Equal(HttpStatusCode.OK, retired.Status);
        Assert.Equal("cancelled", retired.Json!["status"]!.GetValue<string>());
        Assert.Equal(2, retired.Json!["seller_orders"]![0]!["lines"]![0]!["quantity"]!.GetValue<int>());
        Assert.Equal("wh-kr-1", retired.Json!["seller_orders"]![0]!["lines"]![0]!["warehouse_id"]!.GetValue<string>());
        Assert.Equal("invalid_transition", (await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { })).ProblemCode);
        Assert.Equal(9L, await seller.AvailableAsync("lamp")); // the cancelled units came back; 1 held

        await server.RestartAsync();
        var next = await server.Admin.PostAsync("/v1/orders", TestServer.Order("buyer-t", (sellerId, "lamp", 1)));
        Assert.Equal(HttpStatusCode.Created, next.Status);
        Assert.True(long.Parse(next.Json!["id"]!.GetValue<string>()[4..]) > long.Parse(id[4..]), "a new order is numbered above the retired one");
        Assert.Equal("cancelled", (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!["status"]!.GetValue<string>());
    }
}
