namespace Surge.Forecast;

/// <summary>
/// The Theta method (Assimakopoulos &amp; Nikolopoulos 2000) in the form Hyndman &amp; Billah (2003) showed it to
/// be: simple exponential smoothing with a drift of half the slope of the series' straight-line trend. Seasonal
/// series (autocorrelation at lag m significant at 90 %) are seasonally adjusted first by classical
/// decomposition (multiplicative when every value is positive, additive otherwise) and the forecast is
/// reseasonalised. SES is ETS(A,N,N) fitted by maximum likelihood, and its prediction intervals are kept,
/// shifted by the drift. The model is named by its seasonal adjustment: Theta(N), Theta(A) or Theta(M).
/// </summary>
public static class Theta
{
    /// <summary>One-sided 95 % normal quantile: the seasonality test's threshold (a 90 % two-sided test).</summary>
    private const double SeasonalityZ = 1.6448536269514722;

    public static Forecast Predict(TimeSeries train, int horizon)
    {
        if (horizon < 1)
        {
            throw new ForecastInputException($"{train.Name}: horizon must be at least 1, not {horizon}");
        }
        if (train.Count < 3)
        {
            throw new ForecastInputException($"{train.Name}: {train.Count} observations are too few for Theta (need at least 3)");
        }
        var y = train.Values;
        var n = y.Length;
        var m = train.SeasonLength;
        var season = !IsSeasonal(y, m) ? SeasonType.None : y.All(v => v > 0) ? SeasonType.Multiplicative : SeasonType.Additive;
        var indices = season == SeasonType.None ? null : Decomposition.SeasonalIndices(y, m, season, n);
        var adjusted = new double[n];
        for (var t = 0; t < n; t++)
        {
            adjusted[t] = indices is null ? y[t] : season == SeasonType.Additive ? y[t] - indices[t % m] : y[t] / indices[t % m];
        }
        var plain = train with { Values = adjusted, SeasonLength = 1 };
        var fit = Ets.Fit(new EtsSpec(ErrorType.Additive, TrendType.None, SeasonType.None), plain);
        var ses = Ets.Predict(fit, plain, horizon);
        var (_, slope) = Decomposition.Line(adjusted);
        var alpha = Math.Max(1e-10, fit.Alpha);
        var tail = (1 - Math.Pow(1 - alpha, n)) / alpha;
        double[] Shift(double[] values) => values.Select((v, h) =>
        {
            var value = v + slope / 2 * (h + tail);
            return indices is null ? value
                : season == SeasonType.Additive ? value + indices[(n + h) % m] : value * indices[(n + h) % m];
        }).ToArray();
        return new Forecast($"Theta({season switch { SeasonType.None => "N", SeasonType.Additive => "A", _ => "M" }})", Shift(ses.Mean),
            Shift(ses.Lower80), Shift(ses.Upper80), Shift(ses.Lower95), Shift(ses.Upper95));
    }

    /// <summary>Whether the autocorrelation at lag m exceeds the 90 % limit of its standard error (Bartlett)
    /// given the autocorrelations at lags 1..m−1. Needs more than two cycles.</summary>
    public static bool IsSeasonal(ReadOnlySpan<double> y, int m)
    {
        var n = y.Length;
        if (m < 2 || n <= 2 * m)
        {
            return false;
        }
        double mean = 0;
        foreach (var v in y)
        {
            mean += v;
        }
        mean /= n;
        double variance = 0;
        foreach (var v in y)
        {
            variance += (v - mean) * (v - mean);
        }
        if (variance == 0)
        {
            return false; // a constant series has no season
        }
        double Autocorrelation(ReadOnlySpan<double> s, int lag)
        {
            double sum = 0;
            for (var t = lag; t < s.Length; t++)
            {
                sum += (s[t] - mean) * (s[t - lag] - mean);
            }
            return sum / variance;
        }
        double squares = 0;
        for (var k = 1; k < m; k++)
        {
            var r = Autocorrelation(y, k);
            squares += r * r;
        }
        return Math.Abs(Autocorrelation(y, m)) / Math.Sqrt((1 + 2 * squares) / n) > SeasonalityZ;
    }
}

/// <summary>
/// The equal-weight combination of automatic ETS and Theta: the mean of their point forecasts. Combining two
/// methods that err differently is the most reliable single improvement the forecasting competitions (M3, M4)
/// found; on held-out data it beats either method alone far more often than it loses to both. The intervals
/// are ETS's, moved to the combined mean: Theta's come from SES on the adjusted series and ignore the
/// uncertainty of the seasonal indices and of the drift, so they are too narrow to average in.
/// </summary>
public static class Combination
{
    public static Forecast Predict(TimeSeries train, int horizon) =>
        ModelChoice.Combine([Ets.Predict(train, horizon), Theta.Predict(train, horizon)]);
}
