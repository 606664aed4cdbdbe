using Microsoft.Extensions.Time.Testing;

namespace Surge.Server.Tests;

public sealed class CapacityGateTests
{
    [Fact]
    public void TakesAtMostTheBurst_ThenRefillsAtTheRate()
    {
        var clock = new FakeTimeProvider();
        var gate = new CapacityGate(ordersPerSecond: 1_000, burst: TimeSpan.FromMilliseconds(100), clock);
        Assert.Equal(100, gate.Take(250)); // 100 ms worth at once
        Assert.Equal(0, gate.Take(1));
        clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(20, gate.Take(50));
        clock.Advance(TimeSpan.FromSeconds(10)); // a quiet time does not save up more than the burst
        Assert.Equal(100, gate.Take(1_000));
        var taken = 0;
        for (var ms = 0; ms < 1_000; ms++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            taken += gate.Take(5);
        }
        Assert.InRange(taken, 999, 1_000); // a second of asking five per millisecond gets the rate, not the demand
    }

    [Fact]
    public async Task ASiloWithACap_AnswersOrdersBeyondIt503SiloCapacity_InBatchesOrderByOrder()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o => o with { Http = o.Http with { CapacityOrdersPerSecond = 50 }, Clock = clock });
        var (sellerClient, seller) = await server.SellerWithStockAsync("cap", units: 1_000);
        var batch = new { orders = Enumerable.Range(0, 8).Select(i => TestServer.Order($"b{i}", (seller, "cap", 1))).ToArray() };
        var answered = (await server.Admin.PostAsync("/v1/orders/batch", batch)).Json!["results"]!.AsArray();
        Assert.Equal([201, 201, 201, 201, 201, 503, 503, 503], answered.Select(r => r!["status"]!.GetValue<int>()));
        Assert.Equal("silo_capacity", answered[5]!["problem"]!["code"]!.GetValue<string>());
        var single = await server.Admin.PostAsync("/v1/orders", TestServer.Order("one", (seller, "cap", 1)));
        Assert.Equal("silo_capacity", single.ProblemCode);
        Assert.NotNull(single.Headers.RetryAfter);
        clock.Advance(TimeSpan.FromMilliseconds(40)); // two orders' worth at 50/s
        Assert.Equal(System.Net.HttpStatusCode.Created, (await server.Admin.PostAsync("/v1/orders", TestServer.Order("two", (seller, "cap", 1)))).Status);
        Assert.Equal(1_000 - 6, await sellerClient.AvailableAsync("cap")); // the refused ones hold nothing
    }
}
