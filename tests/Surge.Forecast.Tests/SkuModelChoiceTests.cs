using System.Globalization;
using Surge.Forecast;

namespace Surge.Forecast.Tests;

public class SkuModelChoiceTests
{
    /// <summary>Weekly demand of <paramref name="count"/> SKUs: a level per SKU, a shared weekly pattern, Poisson-like noise.</summary>
    private static List<TimeSeries> Skus(int count, int weeks, int seed)
    {
        var random = new Random(seed);
        var start = new DateOnly(2025, 1, 6);
        var periods = Enumerable.Range(0, weeks).Select(w => start.AddDays(7 * w).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
        return [.. Enumerable.Range(0, count).Select(k =>
        {
            var level = 5 + 40 * random.NextDouble();
            var values = Enumerable.Range(0, weeks).Select(w =>
            {
                var mean = level * (1 + 0.3 * Math.Sin(2 * Math.PI * w / 8));
                return Math.Max(0, Math.Round(mean + Math.Sqrt(mean) * (random.NextDouble() * 2 - 1) * 1.7));
            }).ToArray();
            return new TimeSeries($"sku-{k}", periods, values, WeeklySkuCsv.WeeksPerYear);
        })];
    }

    [Fact]
    public void FewSkus_ArePlannedPerSku_WithTheReason()
    {
        var choice = SkuModels.Choose(Skus(SkuModels.GlobalSkusMin - 1, 40, seed: 1), _ => null);

        Assert.Equal("auto", choice.Chosen);
        Assert.Null(choice.Global);
        Assert.Contains($"needs {SkuModels.GlobalSkusMin}", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void EnoughSkus_AreScoredByBothModels_AndTheLowerWrmssePlans()
    {
        var skus = Skus(60, 40, seed: 2);

        var choice = SkuModels.Choose(skus, _ => null);
        var (forecasts, failures) = SkuModels.Forecast(skus, _ => null, choice.Chosen, 8);

        Assert.NotNull(choice.Auto);
        Assert.NotNull(choice.Global);
        Assert.Equal(60, choice.Global!.Skus);
        Assert.Equal(choice.Global.Wrmsse < choice.Auto!.Wrmsse ? "global" : "auto", choice.Chosen);
        Assert.Empty(failures);
        Assert.Equal(60, forecasts.Count);
        Assert.All(forecasts.Values, f => Assert.Equal(8, f.Mean.Length));
        if (choice.Chosen == "global")
        {
            Assert.All(forecasts.Values, f => Assert.Equal("global", f.Model));
        }
    }
}
