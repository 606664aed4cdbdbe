using System.Text.Json.Nodes;

namespace Surge.Server.Tests;

/// <summary>
/// `surge bench scenario` at a small size against every system it compares (PostgreSQL and Redis from Debian's
/// packages, started by the bench on loopback; Surge embedded): each must take exactly the stock, answer everyone
/// else, and keep what it acknowledged — the comparison is only worth something if every peer is correct.
/// </summary>
public sealed class ScenarioTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-scenario-tests-").FullName;

    private static readonly TimeSpan RunBound = TimeSpan.FromMinutes(6);

    private async Task<JsonNode> RunAsync(params string[] args)
    {
        var json = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".json");
        var (exit, output) = await CliProcess.RunAsync(["bench", "scenario", .. args, "--warmup", "1", "--json", json], RunBound);
        Assert.True(exit == 0, $"exit {exit}:\n{output}");
        return JsonNode.Parse(File.ReadAllText(json))!;
    }

    private static long L(JsonNode node, string name) => node[name]!.GetValue<long>();

    [Fact]
    public async Task FlashSale_EverySystem_SellsExactlyTheStock_AndTellsEveryoneElseSoldOut()
    {
        var result = await RunAsync("flash-sale", "--buyers", "3000", "--units", "100", "--workers", "16");

        var systems = result["scenarios"]![0]!["systems"]!.AsObject();
        // Every peer once per order and once with batches, Surge likewise, under the keys outside checks read.
        Assert.Equal(["postgres", "postgres-batch", "redis-always", "redis-always-batch", "redis-everysec", "redis-everysec-batch", "surge", "surge-batch"],
            systems.Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var s in systems.Select(p => p.Value!))
        {
            var name = s!["system"]!.GetValue<string>();
            Assert.True(L(s, "accepted") == 100, $"{name}: accepted {L(s, "accepted")}");
            Assert.True(L(s, "sold_out") == 2900, $"{name}: sold out {L(s, "sold_out")}");
            Assert.Equal(0, L(s, "oversold"));
            Assert.Equal(0, L(s, "lost"));
            Assert.True(s["complete"]!.GetValue<bool>(), name);
            Assert.False(string.IsNullOrEmpty(s["durability"]!.GetValue<string>()));
        }
        Assert.Equal(0, L(result, "oversold_total"));
        foreach (var ratio in new[] { "ratio_vs_postgres", "ratio_vs_redis_always", "ratio_vs_redis_everysec",
            "ratio_vs_postgres_batch", "ratio_vs_redis_always_batch", "ratio_vs_redis_everysec_batch" })
        {
            Assert.True(result[ratio]!.GetValue<double>() > 0, ratio);
        }
    }

    [Theory]
    [InlineData("marketplace-typical")]
    [InlineData("marketplace-wide")]
    public async Task Marketplace_EverySystem_TakesMultiSellerCarts_PaysAndCancels_AndKeepsTheStock(string scenario)
    {
        var result = await RunAsync(scenario, "--orders", "400", "--workers", "8");

        var shares = result["scenarios"]![0]!["sellers_per_cart"]!.AsArray().Select(n => n!.GetValue<double>()).ToArray();
        Assert.Equal(1.0, shares.Sum(), 6);
        var upToThree = shares[0] + shares[1] + shares[2];
        Assert.True(scenario == "marketplace-typical" ? upToThree > 0.5 : shares[3] > 0.5,
            $"{scenario}: sellers per cart {string.Join(" / ", shares)}"); // typical carts mostly span 1-3 sellers; wide ones more
        Assert.True(shares[1] + shares[2] + shares[3] > 0, "some carts span several sellers");
        foreach (var s in result["scenarios"]![0]!["systems"]!.AsObject().Select(p => p.Value!))
        {
            var name = s!["system"]!.GetValue<string>();
            Assert.Equal(400, L(s, "sent"));
            Assert.Equal(400, L(s, "accepted") + L(s, "sold_out") + L(s, "limit_reached") + L(s, "rejected") + L(s, "failed"));
            Assert.True(L(s, "failed") == 0 && L(s, "rejected") == 0, $"{name}: {s.ToJsonString()}");
            Assert.True(L(s, "paid") > 0 && L(s, "cancelled") > 0 && L(s, "follow_ups_refused") == 0, $"{name}: {s.ToJsonString()}");
            Assert.Equal(0, L(s, "oversold"));
            Assert.Equal(0, L(s, "lost"));
        }
    }

    [Fact]
    public async Task Burst_OpenLoop_EveryOrderIsAnswered_AndTimelineCoversTheRun()
    {
        var result = await RunAsync("burst", "--base-rate", "40", "--systems", "postgres,surge", "--workers", "16");

        foreach (var s in result["scenarios"]![0]!["systems"]!.AsObject().Select(p => p.Value!))
        {
            // 5 s at 40/s, 3 s at 800/s, 7 s at 40/s.
            Assert.Equal(40 * 5 + 800 * 3 + 40 * 7, L(s, "accepted"));
            Assert.Equal(0, L(s, "failed"));
            var perSecond = s["orders_per_second"]!.AsArray().Select(n => n!.GetValue<long>()).ToList();
            Assert.True(perSecond.Count >= 15, $"timeline of {perSecond.Count} seconds");
            Assert.True(perSecond.Max() >= 400, $"the burst shows in the timeline: {string.Join(',', perSecond)}");
        }
    }

    [Fact]
    public async Task BadArguments_AreRefusedInWords()
    {
        var (exit, output) = await CliProcess.RunAsync(["bench", "scenario", "flash-sale", "--systems", "oracle"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, exit);
        Assert.Contains("unknown oracle", output);
        (exit, output) = await CliProcess.RunAsync(["bench", "scenario", "black-friday"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, exit);
        Assert.Contains("black-friday", output);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
