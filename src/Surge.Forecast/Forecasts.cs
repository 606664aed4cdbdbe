namespace Surge.Forecast;

/// <summary>Point forecasts for the next <c>Mean.Length</c> periods with 80 % and 95 % prediction intervals.</summary>
public sealed record Forecast(string Model, double[] Mean, double[] Lower80, double[] Upper80, double[] Lower95, double[] Upper95);

/// <summary>The standard normal's z for a two-sided 50, 80 and 95 % interval (the half-width in standard deviations).</summary>
internal static class NormalZ
{
    public const double Z50 = 0.6744897501960817;
    public const double Z80 = 1.2815515655446004;
    public const double Z95 = 1.959963984540054;
}

/// <summary>
/// Seasonal naive: each future period repeats the same period of the last observed cycle. Prediction
/// intervals follow R's <c>forecast::snaive</c>: σ is the root mean square of the in-sample seasonal
/// differences, and the h-step standard error is σ·√(⌊(h−1)/m⌋+1).
/// </summary>
public static class SeasonalNaive
{
    public static Forecast Predict(TimeSeries train, int horizon)
    {
        var m = Math.Max(1, train.SeasonLength);
        if (train.Count <= m)
        {
            throw new ForecastInputException($"{train.Name}: {train.Count} observations are too few for seasonal naive (need more than one cycle of {m})");
        }
        if (horizon < 1)
        {
            throw new ForecastInputException($"{train.Name}: horizon must be at least 1, not {horizon}");
        }
        var y = train.Values;
        double squares = 0;
        for (var t = m; t < y.Length; t++)
        {
            var e = y[t] - y[t - m];
            squares += e * e;
        }
        var sigma = Math.Sqrt(squares / (y.Length - m));
        var mean = new double[horizon];
        var (lo80, hi80, lo95, hi95) = (new double[horizon], new double[horizon], new double[horizon], new double[horizon]);
        for (var h = 0; h < horizon; h++)
        {
            mean[h] = y[y.Length - m + h % m];
            var se = sigma * Math.Sqrt(h / m + 1);
            (lo80[h], hi80[h]) = (mean[h] - NormalZ.Z80 * se, mean[h] + NormalZ.Z80 * se);
            (lo95[h], hi95[h]) = (mean[h] - NormalZ.Z95 * se, mean[h] + NormalZ.Z95 * se);
        }
        return new Forecast("snaive", mean, lo80, hi80, lo95, hi95);
    }
}
