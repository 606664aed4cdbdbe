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
/// probability. These methods have no likelihood, so they give no prediction intervals: the bounds are NaN.
/// </summary>
public static class Intermittent
{
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
        var demands = train.Values.Count(v => v > 0);
        if (demands < 2)
        {
            throw new ForecastInputException($"{train.Name}: {demands} non-zero periods are too few for {method} (need at least 2)");
        }
        var level = method == IntermittentMethod.Tsb ? Tsb(train.Values, alpha, beta) : CrostonRatio(train.Values, alpha);
        if (method == IntermittentMethod.Sba)
        {
            level *= 1 - alpha / 2;
        }
        var mean = Enumerable.Repeat(level, horizon).ToArray();
        var none = Enumerable.Repeat(double.NaN, horizon).ToArray();
        return new Forecast(method.ToString().ToLowerInvariant(), mean, none, none, none, none);
    }

    private static double CrostonRatio(double[] y, double alpha)
    {
        var first = Array.FindIndex(y, v => v > 0);
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

    private static double Tsb(double[] y, double alpha, double beta)
    {
        var first = Array.FindIndex(y, v => v > 0);
        var size = y[first];
        var probability = (double)y.Count(v => v > 0) / y.Length;
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
