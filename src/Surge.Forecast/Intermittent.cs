namespace Surge.Forecast;

/// <summary>The intermittent-demand methods: most SKUs sell on few days, and averaging the zeros in would
/// forecast a little every day and never the spike.</summary>
public enum IntermittentMethod
{
    /// <summary>Croston (1972): exponential smoothing of non-zero demand sizes and of the intervals between them.</summary>
    Croston,

    /// <summary>Syntetos–Boylan approximation: Croston scaled by (1 − α/2), removing its known upward bias.</summary>
    Sba,

    /// <summary>Teunter–Syntetos–Babai: smooths the probability of demand every period, so a SKU that stops
    /// selling sees its forecast decay instead of freezing.</summary>
    Tsb,
}

/// <summary>
/// Croston, SBA and TSB point forecasts (flat over the horizon). Initialisation: the first non-zero demand for
/// the size, the periods up to and including it for the interval, and the share of non-zero periods for TSB's
/// probability. The methods have no likelihood; the intervals are normal ones around the forecast with σ the
/// root mean square of the method's own one-step errors in the sample, cut at zero (demand is never negative).
/// </summary>
public static class Intermittent
{

    /// <summary>Syntetos–Boylan cut-off: a series whose average interval between demands exceeds this many
    /// periods is intermittent, and Croston-type methods beat exponential smoothing on it.</summary>
    public const double IntermittentIntervalMin = 1.32;

    public const double DefaultAlpha = 0.1;
    public const double DefaultBeta = 0.1;

    public static Forecast Predict(TimeSeries train, int horizon, IntermittentMethod method, double alpha = DefaultAlpha, double beta = DefaultBeta)
    {
        if (horizon < 1)
        {
            throw new ForecastInputException($"{train.Name}: horizon must be at least 1, not {horizon}");
        }
        if (alpha is <= 0 or > 1 || beta is <= 0 or > 1)
        {
            throw new ForecastInputException($"{train.Name}: smoothing parameters must lie in (0, 1]");
        }
        if (train.Values.Any(v => v < 0 || !double.IsFinite(v)))
        {
            throw new ForecastInputException($"{train.Name}: demand must be finite and non-negative");
        }
        var demands = train.Values.Count(v => v > 0);
        if (demands < 2)
        {
            throw new ForecastInputException($"{train.Name}: {demands} non-zero periods are too few for {method} (need at least 2)");
        }
        var y = train.Values;
        var first = Array.FindIndex(y, v => v > 0);
        double level = 0, squares = 0;
        var errors = 0;
        for (var t = first + 1; t <= y.Length; t++)
        {
            level = method == IntermittentMethod.Tsb ? Tsb(y.AsSpan(0, t), alpha, beta) : CrostonRatio(y.AsSpan(0, t), alpha);
            if (method == IntermittentMethod.Sba)
            {
                level *= 1 - alpha / 2;
            }
            if (t < y.Length)
            {
                squares += (y[t] - level) * (y[t] - level);
                errors++;
            }
        }
        var sigma = errors > 0 ? Math.Sqrt(squares / errors) : 0;
        var mean = Enumerable.Repeat(level, horizon).ToArray();
        double[] Bound(double z) => Enumerable.Repeat(Math.Max(0, level + z * sigma), horizon).ToArray();
        return new Forecast(method.ToString().ToLowerInvariant(), mean, Bound(-NormalZ.Z80), Bound(NormalZ.Z80), Bound(-NormalZ.Z95), Bound(NormalZ.Z95));
    }

    /// <summary>Average number of periods per period with demand (∞ without demand).</summary>
    public static double AverageDemandInterval(TimeSeries series)
    {
        var demands = series.Values.Count(v => v > 0);
        return demands == 0 ? double.PositiveInfinity : (double)series.Count / demands;
    }

    private static double CrostonRatio(ReadOnlySpan<double> y, double alpha)
    {
        var first = y.IndexOfAnyExcept(0.0);
        double size = y[first], interval = first + 1;
        var sinceLast = 0;
        for (var t = first + 1; t < y.Length; t++)
        {
            sinceLast++;
            if (y[t] > 0)
            {
                size += alpha * (y[t] - size);
                interval += alpha * (sinceLast - interval);
                sinceLast = 0;
            }
        }
        return size / interval;
    }

    private static double Tsb(ReadOnlySpan<double> y, double alpha, double beta)
    {
        var first = y.IndexOfAnyExcept(0.0);
        var size = y[first];
        var probability = (double)(y.Length - y.Count(0.0)) / y.Length;
        for (var t = first + 1; t < y.Length; t++)
        {
            var occurred = y[t] > 0 ? 1.0 : 0.0;
            probability += beta * (occurred - probability);
            if (y[t] > 0)
            {
                size += alpha * (y[t] - size);
            }
        }
        return probability * size;
    }
}

/// <summary>The automatic choice per series: Croston-type (SBA) when demand is intermittent by the
/// Syntetos–Boylan rule, otherwise the combination of automatic ETS and Theta.</summary>
public static class AutoForecast
{
    public static Forecast Predict(TimeSeries series, int horizon) =>
        Intermittent.AverageDemandInterval(series) > Intermittent.IntermittentIntervalMin && series.Values.Count(v => v > 0) >= 2
            ? Intermittent.Predict(series, horizon, IntermittentMethod.Sba)
            : Combination.Predict(series, horizon);
}
