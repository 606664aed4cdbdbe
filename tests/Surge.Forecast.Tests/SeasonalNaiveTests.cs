using Surge.Forecast;

namespace Surge.Forecast.Tests;

public class SeasonalNaiveTests
{
    /// <summary>The benchmark series shipped beside the repository (../shared/data/forecast-benchmarks).</summary>
    internal static string DataDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data", "forecast-benchmarks");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("shared/data/forecast-benchmarks not found above the test directory");
    }

    [Fact]
    public void ReproducesRSeasonalNaive_OnEveryBenchmarkSeries()
    {
        var evaluations = Evaluation.Run(DataDirectory(), SeasonalNaive.Predict);

        Assert.Equal(5, evaluations.Count);
        foreach (var e in evaluations)
        {
            var r = e.Reference.Single(x => x.Model == "snaive").Accuracy;
            Assert.Equal(r.Mase, e.Accuracy.Mase, r.Mase * 1e-4);
            Assert.Equal(r.Rmse, e.Accuracy.Rmse, r.Rmse * 1e-4);
            Assert.Equal(r.Smape, e.Accuracy.Smape, r.Smape * 1e-4);
            Assert.Equal(r.Coverage80, e.Accuracy.Coverage80, 1e-6);
            Assert.Equal(r.Coverage95, e.Accuracy.Coverage95, 1e-6);
        }
    }

    [Fact]
    public void RepeatsTheLastCycle_AndWidensEachCycle()
    {
        var train = new TimeSeries("t", ["1", "2", "3", "4", "5", "6", "7", "8"], [1, 2, 3, 4, 2, 3, 4, 5], 4);

        var f = SeasonalNaive.Predict(train, 8);

        Assert.Equal([2.0, 3, 4, 5, 2, 3, 4, 5], f.Mean);
        Assert.Equal(f.Upper95[0] - f.Mean[0], f.Upper95[3] - f.Mean[3], 1e-12);
        Assert.Equal(Math.Sqrt(2) * (f.Upper95[0] - f.Mean[0]), f.Upper95[4] - f.Mean[4], 1e-9);
        Assert.True(f.Upper80[0] < f.Upper95[0]);
    }

    [Fact]
    public void TooShortSeries_IsAClearError()
    {
        var e = Assert.Throws<ForecastInputException>(() => SeasonalNaive.Predict(new TimeSeries("t", ["1", "2"], [1, 2], 4), 4));
        Assert.Contains("too few", e.Message);
    }
}
