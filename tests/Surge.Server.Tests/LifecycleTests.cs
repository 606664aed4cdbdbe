using System.Diagnostics;
using System.Net;
using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Server.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Restart_RecoversOrdersAndStock_AndNewOrdersGetNewIds()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, sellerId) = await server.SellerWithStockAsync("drill", units: 20);
        var first = await server.Admin.PostAsync("/v1/orders", TestServer.Order("r1", (sellerId, "drill", 4)));
        var id = first.Json!["id"]!.GetValue<string>();
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });
        var before = (await seller.GetAsync("/v1/skus/drill/stock")).Body;

        await server.RestartAsync();

        seller = server.Client(seller.Key!); // keys live in the control log; the port is new
        var after = await seller.GetAsync("/v1/skus/drill/stock");
        Assert.Equal(before, after.Body);
        var fetched = await server.Admin.GetAsync($"/v1/orders/{id}");
        Assert.True(fetched.Json!["status"]!.GetValue<string>() is "paid" or "allocated", fetched.Json!["status"]!.GetValue<string>());
        var second = await server.Admin.PostAsync("/v1/orders", TestServer.Order("r2", (sellerId, "drill", 1)));
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.NotEqual(id, second.Json!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task UnpaidHolds_ExpireOnTime_EvenWithNoTraffic()
    {
        await using var server = await TestServer.StartAsync(o => o with
        {
            Orders = o.Orders with { ReservationTtl = TimeSpan.FromMilliseconds(300), ExpiryCheckInterval = TimeSpan.FromMilliseconds(50) },
        });
        var (seller, sellerId) = await server.SellerWithStockAsync("tent", units: 5);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("e1", (sellerId, "tent", 5)));
        Assert.Equal(HttpStatusCode.Created, placed.Status);

        await Poll.UntilAsync(async () => await seller.AvailableAsync("tent") == 5, "the hold expired and the stock came back");

        var order = await server.Admin.GetAsync($"/v1/orders/{placed.Json!["id"]}");
        Assert.Equal("cancelled", order.Json!["status"]!.GetValue<string>());
        Assert.Equal("payment_timeout", order.Json!["seller_orders"]![0]!["cancel_reason"]!.GetValue<string>());
        Assert.Equal("invalid_transition", (await server.Admin.PostAsync($"/v1/orders/{placed.Json!["id"]}/payment", new { })).ProblemCode);
    }

    [Fact]
    public async Task HalfPaidMultiSellerOrder_IsFinishedAtStart()
    {
        await using var server = await TestServer.StartAsync();
        var (_, a) = await server.SellerWithStockAsync("rope", units: 5);
        var (_, b) = await server.SellerWithStockAsync("hook", units: 5);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("h1", (a, "rope", 1), (b, "hook", 1)));
        Assert.True(Ids.TryParseOrder(placed.Json!["id"]!.GetValue<string>(), out var parent));
        // A crash in the middle of payment: only the first seller order got confirmed.
        var state = server.Server.State;
        Assert.True(Ids.TryParseSeller(a, out var sellerA));
        var confirmed = await state.Gateway.Submit(state.Gateway.PartitionOf(sellerA), w => w.ConfirmPayment(Ids.Child(parent, 0)));
        Assert.True(confirmed.Outcome.Accepted);

        await server.RestartAsync();

        Assert.Equal(1, server.Server.Recovery.Reconciled);
        var order = (await server.Admin.GetAsync($"/v1/orders/{Ids.Order(parent)}")).Json!;
        Assert.True(order["status"]!.GetValue<string>() is "paid" or "allocated", order["status"]!.GetValue<string>());
        Assert.All(order["seller_orders"]!.AsArray(), c => Assert.True(c!["status"]!.GetValue<string>() is "paid" or "allocated", c!["status"]!.GetValue<string>()));
    }

    [Fact]
    public async Task HotSeller_Gets429_WhileOtherSellersKeepBeingServed()
    {
        var disks = new Dictionary<int, GatedStorage>();
        await using var server = await TestServer.StartAsync(o => o with
        {
            Admission = new() { PartitionQueuedCommandsMax = 32, BatchCommandsMax = 8, BatchesInFlightMax = 1 },
            Http = o.Http with { RequestDeadline = TimeSpan.FromSeconds(60) },
            Storage = o.Storage with
            {
                StorageFactory = p =>
                {
                    lock (disks)
                    {
                        return disks[p] = new GatedStorage(new SimulatedStorage(seed: 40 + p));
                    }
                },
            },
        });
        var (_, hot) = await server.SellerWithStockAsync("console", units: 1_000);
        Assert.True(Ids.TryParseSeller(hot, out var hotId));
        string other, code;
        long otherId;
        do
        {
            code = "book-" + Guid.NewGuid().ToString("N")[..6];
            (_, other) = await server.SellerWithStockAsync(code, units: 1_000);
            Assert.True(Ids.TryParseSeller(other, out otherId));
        }
        while (Ids.PartitionOf(otherId, 4) == Ids.PartitionOf(hotId, 4));

        var hotDisk = disks[Ids.PartitionOf(hotId, 4)];
        hotDisk.Hold(); // the hot seller's partition stops becoming durable: its queue fills
        var rush = Enumerable.Range(0, 200).Select(i => server.Admin.PostAsync("/v1/orders", TestServer.Order($"fan-{i}", (hot, "console", 1)))).ToArray();
        static bool Is429(Task<ApiResponse> t) => t.IsCompletedSuccessfully && t.Result.Status == HttpStatusCode.TooManyRequests;
        await Poll.UntilAsync(() => Task.FromResult(rush.Any(Is429)), "the hot partition refused with 429");
        var refused = await rush.First(Is429);
        Assert.Equal("partition_overloaded", refused.ProblemCode);
        Assert.NotNull(refused.Headers.RetryAfter);

        for (var i = 0; i < 20; i++)
        {
            var served = await server.Admin.PostAsync("/v1/orders", TestServer.Order($"reader-{i}", (other, code, 1)));
            Assert.Equal(HttpStatusCode.Created, served.Status);
        }
        Assert.False(rush.All(t => t.IsCompleted), "the held partition answered before its disk was released");

        hotDisk.Release();
        var answers = await Task.WhenAll(rush);
        Assert.All(answers, a => Assert.Contains(a.Status, new[] { HttpStatusCode.Created, HttpStatusCode.TooManyRequests }));
        Assert.Contains(answers, a => a.Status == HttpStatusCode.Created);
    }
}
