using Microsoft.Extensions.Time.Testing;
using Surge.Application;
using Surge.Forecast;

namespace Surge.Simulation;

public class SellerForecastsTests
{
    /// <summary>Weekly paid units per SKU, as the partition or read model would give them.</summary>
    private sealed class Demand(WeeklySkuDemand[] skus) : IDemandSource
    {
        public Task<WeeklySkuDemand[]> SellerDemand(long sellerId, long fromMs, int weeks) =>
            Task.FromResult(skus.Select(s => s with { WeeklyUnits = s.WeeklyUnits[^weeks..] }).ToArray());
    }

    private static WeeklySkuDemand[] Skus(int count, int weeks, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(k =>
        {
            var level = 5 + 30 * random.NextDouble();
            var units = Enumerable.Range(0, weeks).Select(w => Math.Max(0, Math.Round(level * (1 + 0.3 * Math.Sin(w / 2.0)) + 4 * (random.NextDouble() - 0.5)))).ToArray();
            return new WeeklySkuDemand($"sku-{k:00}", units, Available: 100);
        })];
    }

    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 12, 9, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task ASellerWithManySkus_IsPlannedByTheModelThatWinsOnItsHeldOutWeeks()
    {
        var skus = Skus(SkuModels.GlobalSkusMin + 2, 30, seed: 3);
        var forecasts = new SellerForecasts(new Demand(skus), Clock);

        var plan = await forecasts.ForecastAsync(7, weeks: 30);

        // the same comparison the forecaster makes, on the same series
        var series = plan.Skus.Select(p => new TimeSeries(p.Sku, [.. p.History.Select(h => h.Week)], [.. p.History.Select(h => h.Units)], WeeklySkuCsv.WeeksPerYear)).ToList();
        var expected = SkuModels.Choose(series, _ => null).Chosen;
        Assert.All(plan.Skus, p => Assert.Null(p.Problem));
        Assert.All(plan.Skus, p => Assert.Equal(SellerForecasts.HorizonWeeks, p.Forecast!.Length));
        if (expected == "global")
        {
            Assert.All(plan.Skus, p => Assert.Equal("global", p.Model));
        }
        else
        {
            Assert.DoesNotContain(plan.Skus, p => p.Model == "global");
        }
    }

    [Fact]
    public async Task ASellerWithFewSkus_IsPlannedPerSku()
    {
        var forecasts = new SellerForecasts(new Demand(Skus(5, 40, seed: 4)), Clock);

        var plan = await forecasts.ForecastAsync(7, weeks: 40);

        Assert.Equal(5, plan.Skus.Length);
        Assert.All(plan.Skus, p => Assert.NotEqual("global", p.Model));
        Assert.All(plan.Skus, p => Assert.NotNull(p.ReorderUnits));
    }
}
