namespace Surge.Forecast;

/// <summary>
/// The single-series methods and how one is chosen for a series. The pool: automatic ETS (AICc), automatic
/// seasonal ARIMA, Theta, seasonal naive, and two equal-weight combinations (ETS + Theta; ETS + ARIMA + Theta).
/// <see cref="CrossValidated"/> chooses per series by rolling-origin cross-validation on the series' own
/// training part — no other series and no held-out data take part in the choice.
/// </summary>
public static class ModelChoice
{
    /// <summary>Names of the methods in the pool, as <c>forecast eval --model</c> takes them.</summary>
    public static readonly string[] Pool = ["ets", "arima", "theta", "snaive", "ets+theta", "ets+arima+theta"];

    /// <summary>Forecast origins of the cross-validation: the last ones of the training part.</summary>
    public const int Origins = 4;

    /// <summary>Rolling origins lie a quarter of a season apart (at least one period), so the four of them end
    /// at different points of the cycle.</summary>
    public static int OriginStep(int seasonLength) => Math.Max(1, seasonLength / 4);

    /// <summary>The forecaster for a name of <see cref="Pool"/>, or "cv" (<see cref="CrossValidated"/>).</summary>
    public static Func<TimeSeries, int, Forecast> Forecaster(string name) => name switch
    {
        "ets" => Ets.Predict,
        "arima" => Arima.Predict,
        "theta" => Theta.Predict,
        "snaive" => SeasonalNaive.Predict,
        "ets+theta" => Combination.Predict,
        "ets+arima+theta" => (train, h) => Combine([Ets.Predict(train, h), Arima.Predict(train, h), Theta.Predict(train, h)]),
        "cv" => (train, h) => CrossValidated(train, h).Forecast,
        _ => throw new ArgumentException($"unknown model '{name}'", nameof(name)),
    };

    /// <summary>The mean of the members' point forecasts. The intervals keep the mean offset (around each
    /// member's own mean) of the members that have model-based intervals — ETS and ARIMA — and not Theta's,
    /// which come from SES on the adjusted series and are too narrow to average in.</summary>
    public static Forecast Combine(IReadOnlyList<Forecast> members)
    {
        var horizon = members[0].Mean.Length;
        var mean = new double[horizon];
        foreach (var f in members)
        {
            for (var h = 0; h < horizon; h++)
            {
                mean[h] += f.Mean[h] / members.Count;
            }
        }
        var spread = members.Where(f => !f.Model.StartsWith("Theta", StringComparison.Ordinal)).ToList();
        if (spread.Count == 0)
        {
            spread = [.. members];
        }
        double[] Around(Func<Forecast, double[]> bound) => Enumerable.Range(0, horizon)
            .Select(h => mean[h] + spread.Average(f => bound(f)[h] - f.Mean[h])).ToArray();
        return new Forecast(string.Join("+", members.Select(f => f.Model)), mean,
            Around(f => f.Lower80), Around(f => f.Upper80), Around(f => f.Lower95), Around(f => f.Upper95));
    }

    /// <summary>What the cross-validation found: mean MASE per method over the origins used (empty when the
    /// training part was too short for any origin), the method chosen and its forecast.</summary>
    public sealed record Choice(string Chosen, IReadOnlyDictionary<string, double> CvMase, int OriginsUsed, Forecast Forecast,
        double Widen80 = 1, double Widen95 = 1);

    /// <summary>
    /// Rolling-origin cross-validation on <paramref name="train"/>: at each of the last <see cref="Origins"/>
    /// origins (<see cref="OriginStep"/> apart) every pool method is fitted on the observations before the
    /// origin and forecasts the next <paramref name="horizon"/> (as far as the training part reaches); its error
    /// is MASE scaled by that origin's own in-sample seasonal-naive error. The method with the lowest mean MASE
    /// is refitted on the whole training part. An origin needs at least two cycles plus four periods before it, and some seasonal change in them (else MASE is undefined);
    /// with no such origin the choice falls back to ETS + Theta.
    /// The same origins calibrate the chosen method's intervals: its errors there, in units of its own interval
    /// half-widths, give the factor by which the 80 % and 95 % intervals must widen to have held 80 % and 95 % of
    /// them (the empirical quantile of |error| / half-width); the factor is never below 1, so an interval is only
    /// ever widened. Model-based intervals ignore the uncertainty of the chosen model and its parameters, which
    /// is why they cover too little on held-out data.
    /// </summary>
    public static Choice CrossValidated(TimeSeries train, int horizon)
    {
        var m = Math.Max(1, train.SeasonLength);
        var step = OriginStep(m);
        var sums = Pool.ToDictionary(p => p, _ => 0.0);
        var ratios80 = Pool.ToDictionary(p => p, _ => new List<double>());
        var ratios95 = Pool.ToDictionary(p => p, _ => new List<double>());
        var used = 0;
        for (var k = 0; k < Origins; k++)
        {
            var cut = train.Count - horizon - k * step;
            if (cut < 2 * m + 4 || cut < 8)
            {
                break;
            }
            var fit = train.Head(cut);
            var actual = train.Values[cut..(cut + horizon)];
            if (!HasScale(fit))
            {
                continue; // the seasonal-naive error in the sample is 0: MASE is undefined at this origin
            }
            foreach (var (name, forecast) in PoolForecasts(fit, actual.Length))
            {
                sums[name] += Accuracy.Measure(fit, actual, forecast).Mase;
                for (var i = 0; i < actual.Length; i++)
                {
                    var error = Math.Abs(actual[i] - forecast.Mean[i]);
                    ratios80[name].Add(error / Math.Max(1e-12, (forecast.Upper80[i] - forecast.Lower80[i]) / 2));
                    ratios95[name].Add(error / Math.Max(1e-12, (forecast.Upper95[i] - forecast.Lower95[i]) / 2));
                }
            }
            used++;
        }
        if (used == 0)
        {
            return new Choice("ets+theta", new Dictionary<string, double>(), 0, Combination.Predict(train, horizon));
        }
        var means = sums.ToDictionary(p => p.Key, p => p.Value / used);
        var finite = means.Where(p => double.IsFinite(p.Value)).ToList();
        if (finite.Count == 0)
        {
            return new Choice("ets+theta", means, used, Combination.Predict(train, horizon));
        }
        var chosen = finite.MinBy(p => p.Value).Key;
        var widen80 = Math.Max(1, MathNet.Numerics.Statistics.Statistics.Quantile(ratios80[chosen], 0.80));
        var widen95 = Math.Max(1, MathNet.Numerics.Statistics.Statistics.Quantile(ratios95[chosen], 0.95));
        return new Choice(chosen, means, used, Widen(Forecaster(chosen)(train, horizon), widen80, widen95), widen80, widen95);
    }

    /// <summary>The forecast with its 80 % and 95 % intervals widened about the mean by the given factors.</summary>
    public static Forecast Widen(Forecast f, double widen80, double widen95)
    {
        double[] Scale(double[] bound, double factor) => bound.Select((b, h) => f.Mean[h] + factor * (b - f.Mean[h])).ToArray();
        return f with
        {
            Lower80 = Scale(f.Lower80, widen80), Upper80 = Scale(f.Upper80, widen80),
            Lower95 = Scale(f.Lower95, widen95), Upper95 = Scale(f.Upper95, widen95),
        };
    }

    private static bool HasScale(TimeSeries fit)
    {
        var m = Math.Max(1, fit.SeasonLength);
        for (var t = m; t < fit.Count; t++)
        {
            if (fit.Values[t] != fit.Values[t - m])
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Every pool method's forecast of one split, fitting ETS, ARIMA and Theta once for the combinations.</summary>
    private static IEnumerable<(string Name, Forecast Forecast)> PoolForecasts(TimeSeries fit, int horizon)
    {
        var ets = Ets.Predict(fit, horizon);
        var arima = Arima.Predict(fit, horizon);
        var theta = Theta.Predict(fit, horizon);
        yield return ("ets", ets);
        yield return ("arima", arima);
        yield return ("theta", theta);
        yield return ("snaive", SeasonalNaive.Predict(fit, horizon));
        yield return ("ets+theta", Combine([ets, theta]));
        yield return ("ets+arima+theta", Combine([ets, arima, theta]));
    }
}
