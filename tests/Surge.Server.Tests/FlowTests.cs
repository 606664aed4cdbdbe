using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Surge.Flow;

namespace Surge.Server.Tests;

/// <summary>The fulfillment stage inside the server: paid orders get shipments and become allocated.</summary>
public sealed class FlowTests
{
    private static readonly FulfillmentRules Rules = new()
    {
        Carriers =
        [
            new CarrierConfig
            {
                Id = "kr-parcel", Countries = ["KR"], Classes = [ShippingClass.Parcel], Services = ["standard"],
                Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(3_000, 400) },
            },
            new CarrierConfig
            {
                Id = "kr-cold", Countries = ["KR"], Classes = [ShippingClass.ColdChain], Services = ["express"],
                Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.ColdChain] = new(6_000, 900) },
            },
        ],
    };

    private static async Task<JsonNode> EventuallyAsync(Func<Task<JsonNode>> fetch, Func<JsonNode, bool> done, string what, int seconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await fetch();
            if (done(value))
            {
                return value;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out waiting until {what}; last: {value.ToJsonString()}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task PaidOrder_GetsShipmentsByClassAndCarrier_AndBecomesAllocated_AndStaysSoAfterARestart()
    {
        await using var server = await TestServer.StartAsync(o => o with { Fulfillment = Rules });
        var (seller, sellerId) = await server.SellerWithStockAsync("kettle", units: 10);
        Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", TestServer.Sku("yogurt", temperature: "chilled"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", new { sku = "yogurt", warehouse_id = "wh-kr-1", quantity = 10 })).Status);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("f1", (sellerId, "kettle", 2), (sellerId, "yogurt", 3)));
        var id = placed.Json!["id"]!.GetValue<string>();
        var unpaid = await server.Admin.PostAsync("/v1/orders", TestServer.Order("f2", (sellerId, "kettle", 1)));
        Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { })).Status);

        var order = await EventuallyAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "allocated", "the paid order is allocated");

        var shipments = order["seller_orders"]![0]!["shipments"]!.AsArray();
        Assert.Equal(
            [("parcel", "standard", "kr-parcel", "kettle", 2), ("cold_chain", "express", "kr-cold", "yogurt", 3)],
            shipments.Select(s => (s!["shipping_class"]!.GetValue<string>(), s["service_level"]!.GetValue<string>(), s["carrier_id"]!.GetValue<string>(),
                s["items"]![0]!["sku"]!.GetValue<string>(), s["items"]![0]!["quantity"]!.GetValue<int>())));
        var ids = shipments.Select(s => s!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(2, ids.Distinct().Count());
        var stillUnpaid = (await server.Admin.GetAsync($"/v1/orders/{unpaid.Json!["id"]}")).Json!;
        Assert.Equal("pending_payment", stillUnpaid["status"]!.GetValue<string>());
        Assert.Empty(stillUnpaid["seller_orders"]![0]!["shipments"]!.AsArray());

        var flow = await EventuallyAsync(async () => (await server.Admin.GetAsync("/v1/flow")).Json!,
            f => f["stages"]!.AsArray().All(s => s!["lag_records"]!.GetValue<long>() == 0), "every stage caught up");
        Assert.Equal(server.Options.Partitions, flow["stages"]!.AsArray().Count);
        Assert.Equal((1, 2), (flow["orders_planned"]!.GetValue<long>(), flow["shipments_planned"]!.GetValue<long>()));
        Assert.Equal("forbidden", (await seller.GetAsync("/v1/flow")).ProblemCode);

        await server.RestartAsync();

        var after = (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!;
        Assert.Equal("allocated", after["status"]!.GetValue<string>());
        Assert.Equal(ids, after["seller_orders"]![0]!["shipments"]!.AsArray().Select(s => s!["id"]!.GetValue<string>()));
        flow = await EventuallyAsync(async () => (await server.Admin.GetAsync("/v1/flow")).Json!,
            f => f["stages"]!.AsArray().All(s => s!["lag_records"]!.GetValue<long>() == 0), "every stage caught up after the restart");
        Assert.Equal((1, 2), (flow["orders_planned"]!.GetValue<long>(), flow["shipments_planned"]!.GetValue<long>()));
    }

    [Fact]
    public async Task WithoutCarriers_ShipmentsArePlannedButUnassigned_WithTheReason()
    {
        await using var server = await TestServer.StartAsync();
        var (_, sellerId) = await server.SellerWithStockAsync("lamp", units: 5);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("n1", (sellerId, "lamp", 1)));
        var id = placed.Json!["id"]!.GetValue<string>();
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });

        var order = await EventuallyAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "allocated", "the paid order is allocated");

        var shipment = Assert.Single(order["seller_orders"]![0]!["shipments"]!.AsArray())!;
        Assert.Null(shipment["carrier_id"]);
        Assert.Equal("no_carrier_covers", shipment["problem"]!.GetValue<string>());
    }
}
