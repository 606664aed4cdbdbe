using Surge.Forecast;

namespace Surge.Forecast.Tests;

public class ArimaTests
{
    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static TimeSeries Series(double[] values, int season) =>
        new("synthetic", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, season);

    [Fact]
    public void Kpss_TellsStationarySeriesFromRandomWalks_AtAboutItsLevel()
    {
        // a 5 % test: about 1 in 20 stationary series is differenced by mistake; random walks nearly always are
        var random = new Random(5);
        int noiseDifferenced = 0, walksDifferenced = 0;
        for (var i = 0; i < 100; i++)
        {
            var noise = Enumerable.Range(0, 200).Select(_ => 100 + Gaussian(random)).ToArray();
            var walk = new double[200];
            for (var t = 1; t < walk.Length; t++)
            {
                walk[t] = walk[t - 1] + Gaussian(random);
            }
            noiseDifferenced += Arima.Differences(noise) > 0 ? 1 : 0;
            walksDifferenced += Arima.Differences(walk) > 0 ? 1 : 0;
        }

        Assert.InRange(noiseDifferenced, 0, 12);
        Assert.InRange(walksDifferenced, 90, 100);
    }

    [Fact]
    public void SeasonalStrength_IsHighForAStrongSeason_AndLowForNoise()
    {
        var random = new Random(6);
        var seasonal = Enumerable.Range(0, 120).Select(t => 100 + 20 * Math.Sin(2 * Math.PI * t / 12) + Gaussian(random)).ToArray();
        var noise = Enumerable.Range(0, 120).Select(_ => 100 + 5 * Gaussian(random)).ToArray();

        Assert.Equal(1, Arima.SeasonalDifferences(seasonal, 12));
        Assert.Equal(0, Arima.SeasonalDifferences(noise, 12));
    }

    [Fact]
    public void Ar1WithMean_IsRecovered_AndForecastsRevertToTheMean()
    {
        // y_t − 50 = 0.7 (y_{t−1} − 50) + e_t, σ = 1
        var random = new Random(7);
        var y = new double[400];
        y[0] = 50;
        for (var t = 1; t < y.Length; t++)
        {
            y[t] = 50 + 0.7 * (y[t - 1] - 50) + Gaussian(random);
        }
        var series = Series(y, 1);

        var fit = Arima.Fit(series, new ArimaOrder(1, 0, 0, 0, 0, 0, 1, Constant: true))!;
        var forecast = Arima.Predict(fit, series, 60);

        Assert.Equal(0.7, fit.Ar[0], 0.1);
        Assert.Equal(50, fit.Mean, 0.5);
        Assert.Equal(1, Math.Sqrt(fit.Sigma2), 0.1);
        Assert.Equal(50, forecast.Mean[^1], 0.5);
        // one step ahead: the 95 % half-width is 1.96 σ; far ahead it tends to 1.96 σ / √(1 − φ²)
        Assert.Equal(1.959963984540054 * Math.Sqrt(fit.Sigma2), forecast.Upper95[0] - forecast.Mean[0], 1e-9);
        Assert.Equal(1.959963984540054 * Math.Sqrt(fit.Sigma2 / (1 - fit.Ar[0] * fit.Ar[0])), forecast.Upper95[^1] - forecast.Mean[^1], 0.01);
    }

    [Fact]
    public void AirlineModel_IsFound_WithItsParameters_AndIntervalsThatWiden()
    {
        // (1 − B)(1 − B^12) y = (1 − 0.4B)(1 − 0.6B^12) e on a seasonal start
        var random = new Random(8);
        var n = 156;
        var (y, e) = (new double[n], new double[n]);
        for (var t = 0; t < n; t++)
        {
            e[t] = Gaussian(random);
            y[t] = t < 13 ? 200 + 30 * Math.Sin(2 * Math.PI * t / 12) + e[t]
                : y[t - 1] + y[t - 12] - y[t - 13] + e[t] - 0.4 * e[t - 1] - 0.6 * e[t - 12] + 0.24 * e[t - 13];
        }
        var train = Series(y[..132], 12);

        var fit = Arima.Select(train);
        var forecast = Arima.Predict(fit, train, 24);

        Assert.Equal(new ArimaOrder(0, 1, 1, 0, 1, 1, 12, Constant: false), fit.Order);
        Assert.Equal(-0.4, fit.Ma[0], 0.2);  // θ
        Assert.Equal(-0.6, fit.Ma[11], 0.2); // Θ, at lag 12
        Assert.Equal(1, Math.Sqrt(fit.Sigma2), 0.2);
        var accuracy = Accuracy.Measure(train, y[132..], forecast);
        Assert.True(accuracy.Coverage95 >= 0.75, $"coverage {accuracy.Coverage95}");
        for (var h = 1; h < 24; h++)
        {
            Assert.True(forecast.Upper95[h] - forecast.Lower95[h] >= forecast.Upper95[h - 1] - forecast.Lower95[h - 1] - 1e-9, "intervals widen with the horizon");
        }
    }

    [Fact]
    public void TooShortASeries_IsRefusedInPlainWords()
    {
        var e = Assert.Throws<ForecastInputException>(() => Arima.Predict(Series([1, 2, 3, 4, 5], 1), 3));
        Assert.Contains("too few", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AConstantSeries_ForecastsTheConstant()
    {
        var series = Series(Enumerable.Repeat(42.0, 40).ToArray(), 4);

        var forecast = Arima.Predict(series, 8);

        Assert.All(forecast.Mean, v => Assert.Equal(42, v, 1e-6));
    }
}
