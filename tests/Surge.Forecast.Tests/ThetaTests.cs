using Surge.Forecast;

namespace Surge.Forecast.Tests;

public class ThetaTests
{
    private static TimeSeries Series(double[] values, int season) =>
        new("synthetic", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, season);

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    [Fact]
    public void SeasonalityTest_FindsACycle_AndNotInNoiseOrAConstant()
    {
        var random = new Random(5);
        var cycle = Enumerable.Range(0, 72).Select(t => 100 + 20 * Math.Sin(2 * Math.PI * t / 12) + Gaussian(random)).ToArray();
        var noise = Enumerable.Range(0, 72).Select(_ => 100 + Gaussian(random)).ToArray();

        Assert.True(Theta.IsSeasonal(cycle, 12));
        Assert.False(Theta.IsSeasonal(noise, 12));
        Assert.False(Theta.IsSeasonal(Enumerable.Repeat(7.0, 72).ToArray(), 12));
        Assert.False(Theta.IsSeasonal(cycle.AsSpan(0, 24), 12)); // two cycles are too few to test
    }

    [Fact]
    public void OnATrend_StepsByHalfTheLeastSquaresSlope()
    {
        var random = new Random(9);
        var values = Enumerable.Range(0, 40).Select(t => 50 + 4.0 * t + 3 * Gaussian(random)).ToArray();
        // The slope of the least-squares line, computed here from its textbook formula.
        var meanT = (values.Length - 1) / 2.0;
        var meanY = values.Average();
        var slope = values.Select((y, t) => (t - meanT) * (y - meanY)).Sum() / values.Select((_, t) => (t - meanT) * (t - meanT)).Sum();

        var forecast = Theta.Predict(Series(values, 1), 6);

        Assert.Equal("Theta(N)", forecast.Model);
        for (var h = 1; h < 6; h++)
        {
            Assert.Equal(slope / 2, forecast.Mean[h] - forecast.Mean[h - 1], 6);
        }
        Assert.All(Enumerable.Range(0, 6), h => Assert.True(forecast.Lower95[h] < forecast.Lower80[h] && forecast.Lower80[h] < forecast.Mean[h]
            && forecast.Mean[h] < forecast.Upper80[h] && forecast.Upper80[h] < forecast.Upper95[h]));
    }

    [Fact]
    public void SeasonalSeries_IsAdjusted_AndTheForecastKeepsTheSeasonShape()
    {
        var random = new Random(2);
        var values = Enumerable.Range(0, 60).Select(t => 200 * (1 + 0.3 * Math.Sin(2 * Math.PI * t / 12)) + 2 * Gaussian(random)).ToArray();

        var forecast = Theta.Predict(Series(values, 12), 12);

        Assert.Equal("Theta(M)", forecast.Model);
        // Periods 60..71 continue the cycle: the peak is at t ≡ 3 (mod 12) and the trough at t ≡ 9.
        Assert.Equal(3, Array.IndexOf(forecast.Mean, forecast.Mean.Max()));
        Assert.Equal(9, Array.IndexOf(forecast.Mean, forecast.Mean.Min()));
        Assert.InRange(forecast.Mean.Max() / forecast.Mean.Min(), 1.6, 2.1); // (1 + 0.3) / (1 − 0.3) ≈ 1.86
    }

    [Fact]
    public void SeasonalSeriesWithZeros_IsAdjustedAdditively()
    {
        var values = Enumerable.Range(0, 48).Select(t => t % 4 == 0 ? 0.0 : 10 + t % 4).ToArray();

        Assert.Equal("Theta(A)", Theta.Predict(Series(values, 4), 4).Model);
    }

    [Fact]
    public void BadInput_IsRefusedInWords()
    {
        Assert.Contains("horizon", Assert.Throws<ForecastInputException>(() => Theta.Predict(Series([1, 2, 3, 4], 1), 0)).Message);
        Assert.Contains("too few", Assert.Throws<ForecastInputException>(() => Theta.Predict(Series([1, 2], 1), 3)).Message);
    }
}

public class CombinationTests
{
    [Fact]
    public void PointForecast_IsTheMeanOfEtsAndTheta_WithEtsIntervalsAroundIt()
    {
        var random = new Random(4);
        var values = Enumerable.Range(0, 64).Select(t => 80 + 0.5 * t + 10 * Math.Cos(2 * Math.PI * t / 4) + 2 * (random.NextDouble() - 0.5)).ToArray();
        var series = new TimeSeries("q", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, 4);

        var ets = Ets.Predict(series, 8);
        var theta = Theta.Predict(series, 8);
        var combined = Combination.Predict(series, 8);

        Assert.Equal($"{ets.Model}+{theta.Model}", combined.Model);
        for (var h = 0; h < 8; h++)
        {
            Assert.Equal((ets.Mean[h] + theta.Mean[h]) / 2, combined.Mean[h], 9);
            Assert.Equal(ets.Upper95[h] - ets.Lower95[h], combined.Upper95[h] - combined.Lower95[h], 9);
            Assert.InRange(combined.Mean[h], combined.Lower80[h], combined.Upper80[h]);
        }
    }

    /// <summary>Series the method has never seen: simulated monthly and quarterly series (a drifting level
    /// with noise, a multiplicative season of random size and phase), the last two cycles held out.</summary>
    [Fact]
    public void OnUnseenSimulatedSeries_BeatsSeasonalNaiveMostly_WithHonestIntervals()
    {
        var random = new Random(11);
        int better = 0, count = 12;
        double coverage = 0;
        for (var i = 0; i < count; i++)
        {
            var m = i % 2 == 0 ? 12 : 4;
            var n = m == 12 ? 96 + random.Next(60) : 40 + random.Next(40);
            var start = 100 + random.NextDouble() * 900;
            var drift = (random.NextDouble() - 0.3) * start * 0.01;
            var amplitude = 0.05 + random.NextDouble() * 0.4;
            var noise = 0.02 + random.NextDouble() * 0.08;
            var phase = random.NextDouble() * 2 * Math.PI;
            var level = start;
            var values = new double[n];
            for (var t = 0; t < n; t++)
            {
                level += drift + start * noise * 0.3 * Gaussian(random);
                values[t] = Math.Max(1, level * (1 + amplitude * Math.Sin(2 * Math.PI * t / m + phase)) * (1 + noise * Gaussian(random)));
            }
            var series = new TimeSeries($"sim{i}", values.Select((_, k) => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, m);
            var evaluation = Evaluation.Evaluate(series, Combination.Predict, []);
            var naive = Evaluation.Evaluate(series, SeasonalNaive.Predict, []);
            better += evaluation.Accuracy.Mase < naive.Accuracy.Mase ? 1 : 0;
            coverage += evaluation.Accuracy.Coverage95;
        }
        Assert.True(better >= 0.75 * count, $"better than seasonal naive on {better} of {count}");
        Assert.InRange(coverage / count, 0.85, 1.0);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
