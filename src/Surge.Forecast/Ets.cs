using MathNet.Numerics.Optimization;
using MathNet.Numerics.LinearAlgebra;

namespace Surge.Forecast;

public enum ErrorType { Additive, Multiplicative }

public enum TrendType { None, Additive, Damped }

public enum SeasonType { None, Additive, Multiplicative }

/// <summary>One member of the exponential-smoothing state-space family, written as R writes it, e.g. ETS(M,Ad,M).</summary>
public sealed record EtsSpec(ErrorType Error, TrendType Trend, SeasonType Season)
{
    public override string ToString() =>
        $"ETS({(Error == ErrorType.Additive ? "A" : "M")},{Trend switch { TrendType.None => "N", TrendType.Additive => "A", _ => "Ad" }}," +
        $"{Season switch { SeasonType.None => "N", SeasonType.Additive => "A", _ => "M" }})";
}

/// <summary>A fitted ETS model: parameters, initial states, σ and the information criteria.</summary>
public sealed record EtsFit(EtsSpec Spec, double Alpha, double Beta, double Gamma, double Phi, double Level, double Trend,
    double[] Seasons, double Sigma, double LogLikelihood, double Aicc, int SeasonLength);

/// <summary>
/// Exponential smoothing state-space models (Hyndman, Koehler, Ord &amp; Snyder 2008). Every member shares the
/// error-correction updates written with the one-step error δ = y − μ; the error type changes only the
/// likelihood. Parameters and initial states are fitted together by maximum likelihood (Nelder–Mead, with the
/// usual bounds α, β ≤ α, γ ≤ 1 − α, φ ∈ [0.8, 0.98]); the model is chosen by AICc. Prediction intervals come
/// from simulating future errors (seeded, so forecasts are reproducible).
/// </summary>
public static class Ets
{
    private const int SimulatedPaths = 2000;
    private const int SimulationSeed = 20261126;
    private const int IterationsMax = 10000;

    /// <summary>Nelder–Mead restarted from its own result, up to this many times: a fresh simplex escapes the
    /// collapsed one a single run often ends in (a standard remedy, not a tuning to particular series).</summary>
    private const int OptimizerRuns = 6;

    /// <summary>Restarts stop once one improves the objective by less than this share of it.</summary>
    private const double RestartGainMin = 1e-7;

    /// <summary>Fits every admissible member and forecasts with the one of lowest AICc.</summary>
    public static Forecast Predict(TimeSeries train, int horizon) => Predict(SelectModel(train), train, horizon);

    public static IEnumerable<EtsSpec> Candidates(TimeSeries series)
    {
        var seasonal = series.SeasonLength > 1 && series.Count >= 2 * series.SeasonLength + 2;
        var positive = series.Values.All(v => v > 0);
        foreach (var error in new[] { ErrorType.Additive, ErrorType.Multiplicative })
        {
            foreach (var trend in new[] { TrendType.None, TrendType.Additive, TrendType.Damped })
            {
                foreach (var season in seasonal ? new[] { SeasonType.None, SeasonType.Additive, SeasonType.Multiplicative } : [SeasonType.None])
                {
                    if ((error == ErrorType.Multiplicative || season == SeasonType.Multiplicative) && !positive)
                    {
                        continue; // multiplicative parts need strictly positive data
                    }
                    if (error == ErrorType.Additive && season == SeasonType.Multiplicative)
                    {
                        continue; // numerically unstable; excluded as in R
                    }
                    yield return new EtsSpec(error, trend, season);
                }
            }
        }
    }

    public static EtsFit SelectModel(TimeSeries train)
    {
        if (train.Count < 8)
        {
            throw new ForecastInputException($"{train.Name}: {train.Count} observations are too few for ETS (need at least 8)");
        }
        return Candidates(train).Select(spec => Fit(spec, train)).Where(f => double.IsFinite(f.Aicc)).MinBy(f => f.Aicc)
            ?? throw new ForecastInputException($"{train.Name}: no ETS model could be fitted");
    }

    public static EtsFit Fit(EtsSpec spec, TimeSeries train)
    {
        var m = spec.Season == SeasonType.None ? 1 : train.SeasonLength;
        var objective = ObjectiveFunction.Value(p => Objective(spec, train.Values, m, p.ToArray()));
        double[]? best = null;
        var bestValue = double.PositiveInfinity;
        foreach (var smoothing in StartingSmoothings(spec, m))
        {
            var (point, value) = Minimize(spec, train.Values, m, objective, InitialGuess(spec, train, m, smoothing));
            if (best is null || value < bestValue)
            {
                (best, bestValue) = (point, value);
            }
        }
        return Describe(spec, train, m, best!);
    }

    /// <summary>Nelder–Mead from <paramref name="start"/>, restarted from its own result while that still helps.</summary>
    private static (double[] Point, double Value) Minimize(EtsSpec spec, double[] y, int m, IObjectiveFunction objective, double[] start)
    {
        var (best, bestValue) = (start, Objective(spec, y, m, start));
        for (var restart = 0; restart < OptimizerRuns; restart++)
        {
            try
            {
                var result = new NelderMeadSimplex(1e-8, IterationsMax).FindMinimum(objective, Vector<double>.Build.DenseOfArray(best));
                var point = result.MinimizingPoint.ToArray();
                var value = Objective(spec, y, m, point);
                var improved = bestValue - value;
                if (value < bestValue)
                {
                    (best, bestValue) = (point, value);
                }
                if (!(improved > RestartGainMin * Math.Max(1, Math.Abs(bestValue))))
                {
                    break; // a fresh simplex found nothing better: converged
                }
            }
            catch (MaximumIterationsException)
            {
                break;
            }
        }
        return (best, bestValue);
    }

    /// <summary>Starting smoothing parameters (α, β, γ, φ): a smooth model (α a fifth of its range per season
    /// length, as R's forecast::ets starts). The likelihood of seasonal models often has a second basin with
    /// more responsive states, so for those the search also starts from a responsive model and the better
    /// optimum is kept.</summary>
    private static IEnumerable<(double Alpha, double Beta, double Gamma, double Phi)> StartingSmoothings(EtsSpec spec, int m)
    {
        var alpha = AlphaMin + 0.2 * (AlphaMax - AlphaMin) / m;
        yield return (alpha, Math.Min(alpha / 2, 0.1), AlphaMin + 0.05 * (1 - alpha - AlphaMin), PhiMin + 0.99 * (PhiMax - PhiMin));
        if (spec.Season != SeasonType.None)
        {
            yield return (0.3, 0.05, 0.05, 0.95);
        }
    }

    /// <summary>Parameter vector: α, β, γ, φ (only those the model has), then level, trend, m seasons.
    /// Starting states as Hyndman et al. (2008, §2.6.1) give them: seasons from a classical decomposition of
    /// the first three cycles, then level and trend from a straight line through the first
    /// <see cref="StartRegressionPoints"/> seasonally adjusted observations.</summary>
    private static double[] InitialGuess(EtsSpec spec, TimeSeries train, int m, (double Alpha, double Beta, double Gamma, double Phi) smoothing)
    {
        var y = train.Values;
        var seasons = spec.Season == SeasonType.None ? null : Decomposition.SeasonalIndices(y, m, spec.Season, StartCycles * m);
        var adjusted = new double[y.Length];
        for (var t = 0; t < y.Length; t++)
        {
            adjusted[t] = seasons is null ? y[t]
                : spec.Season == SeasonType.Additive ? y[t] - seasons[t % m] : y[t] / seasons[t % m];
        }
        var points = Math.Min(Math.Max(StartRegressionPoints, 2 * m), y.Length);
        var (level, slope) = Decomposition.Line(adjusted.AsSpan(0, points));
        if (spec.Trend == TrendType.None)
        {
            level = adjusted.AsSpan(0, points).ToArray().Average();
        }
        var p = new List<double> { smoothing.Alpha };
        if (spec.Trend != TrendType.None)
        {
            p.Add(smoothing.Beta);
        }
        if (spec.Season != SeasonType.None)
        {
            p.Add(smoothing.Gamma);
        }
        if (spec.Trend == TrendType.Damped)
        {
            p.Add(smoothing.Phi);
        }
        p.Add(level);
        if (spec.Trend != TrendType.None)
        {
            p.Add(slope);
        }
        if (seasons is not null)
        {
            p.AddRange(seasons);
        }
        return [.. p];
    }

    /// <summary>Observations the starting line is drawn through (at least two cycles).</summary>
    private const int StartRegressionPoints = 10;

    /// <summary>Cycles the starting seasons are decomposed from.</summary>
    private const int StartCycles = 3;

    private readonly record struct Parameters(double Alpha, double Beta, double Gamma, double Phi, double Level, double Trend, int SeasonsAt);

    private static Parameters Unpack(EtsSpec spec, double[] p)
    {
        var i = 0;
        var alpha = p[i++];
        var beta = spec.Trend != TrendType.None ? p[i++] : 0;
        var gamma = spec.Season != SeasonType.None ? p[i++] : 0;
        var phi = spec.Trend == TrendType.Damped ? p[i++] : spec.Trend == TrendType.Additive ? 1 : 0;
        var level = p[i++];
        var trend = spec.Trend != TrendType.None ? p[i++] : 0;
        return new Parameters(alpha, beta, gamma, phi, level, trend, i);
    }

    private static bool Admissible(EtsSpec spec, in Parameters q) =>
        q.Alpha is >= AlphaMin and <= AlphaMax
        && (spec.Trend == TrendType.None || (q.Beta >= AlphaMin && q.Beta <= q.Alpha))
        && (spec.Season == SeasonType.None || (q.Gamma >= AlphaMin && q.Gamma <= 1 - q.Alpha))
        && (spec.Trend != TrendType.Damped || q.Phi is >= PhiMin and <= PhiMax);

    /// <summary>Bounds of the smoothing parameters (α, β, γ) and of the damping φ, as in R's forecast::ets.</summary>
    private const double AlphaMin = 1e-4, AlphaMax = 0.9999, PhiMin = 0.8, PhiMax = 0.98;

    /// <summary>−2 log-likelihood (up to a constant shared by all models); +∞ outside the admissible region.</summary>
    private static double Objective(EtsSpec spec, double[] y, int m, double[] p)
    {
        var q = Unpack(spec, p);
        if (!Admissible(spec, q))
        {
            return double.PositiveInfinity;
        }
        var seasons = Seasons(spec, p, q.SeasonsAt, m);
        if (seasons is null)
        {
            return double.PositiveInfinity;
        }
        var (level, trend) = (q.Level, q.Trend);
        double squares = 0, logs = 0;
        for (var t = 0; t < y.Length; t++)
        {
            var s = seasons[t % m];
            var baseLevel = level + q.Phi * trend;
            var mu = spec.Season switch { SeasonType.Additive => baseLevel + s, SeasonType.Multiplicative => baseLevel * s, _ => baseLevel };
            if (spec.Error == ErrorType.Multiplicative && mu <= 0)
            {
                return double.PositiveInfinity;
            }
            var delta = y[t] - mu;
            if (spec.Error == ErrorType.Additive)
            {
                squares += delta * delta;
            }
            else
            {
                squares += delta / mu * (delta / mu);
                logs += Math.Log(Math.Abs(mu));
            }
            (level, trend, seasons[t % m]) = Update(spec, q, level, trend, s, delta);
        }
        var n = y.Length;
        var value = n * Math.Log(squares / n) + 2 * logs;
        return double.IsFinite(value) ? value : double.PositiveInfinity;
    }

    private static (double Level, double Trend, double Season) Update(EtsSpec spec, in Parameters q, double level, double trend, double s, double delta)
    {
        var baseLevel = level + q.Phi * trend;
        return spec.Season switch
        {
            SeasonType.Multiplicative => (baseLevel + q.Alpha * delta / s, q.Phi * trend + q.Beta * delta / s, s + q.Gamma * delta / baseLevel),
            SeasonType.Additive => (baseLevel + q.Alpha * delta, q.Phi * trend + q.Beta * delta, s + q.Gamma * delta),
            _ => (baseLevel + q.Alpha * delta, q.Phi * trend + q.Beta * delta, s),
        };
    }

    /// <summary>Initial seasonal states, normalised (sum 0 or mean 1); null when multiplicative ones are not positive.</summary>
    private static double[]? Seasons(EtsSpec spec, double[] p, int at, int m)
    {
        if (spec.Season == SeasonType.None)
        {
            return [0.0];
        }
        var s = p.AsSpan(at, m).ToArray();
        if (spec.Season == SeasonType.Additive)
        {
            var mean = s.Average();
            for (var i = 0; i < m; i++)
            {
                s[i] -= mean;
            }
            return s;
        }
        if (s.Any(v => v <= 0))
        {
            return null;
        }
        var average = s.Average();
        for (var i = 0; i < m; i++)
        {
            s[i] /= average;
        }
        return s;
    }

    private static EtsFit Describe(EtsSpec spec, TimeSeries train, int m, double[] p)
    {
        var minus2LogL = Objective(spec, train.Values, m, p);
        var q = Unpack(spec, p);
        var seasons = Seasons(spec, p, q.SeasonsAt, m) ?? new double[m];
        var y = train.Values;
        var n = y.Length;
        // Run the states to the end of the sample and measure σ of the errors in their own scale.
        var (level, trend) = (q.Level, q.Trend);
        double squares = 0;
        for (var t = 0; t < n; t++)
        {
            var s = seasons[t % m];
            var mu = Mean(spec, level, trend, q.Phi, s);
            var delta = y[t] - mu;
            squares += spec.Error == ErrorType.Additive ? delta * delta : delta / mu * (delta / mu);
            (level, trend, seasons[t % m]) = Update(spec, q, level, trend, s, delta);
        }
        var rotated = Enumerable.Range(0, m).Select(i => seasons[(n + i) % m]).ToArray();
        // Free parameters: the vector, plus σ², minus one seasonal state (they are normalised, so m − 1 are free).
        var k = p.Length + 1 - (spec.Season == SeasonType.None ? 0 : 1);
        var logLikelihood = -0.5 * (minus2LogL + n * (Math.Log(2 * Math.PI) + 1));
        var aicc = -2 * logLikelihood + 2 * k + (n - k - 1 > 0 ? 2.0 * k * (k + 1) / (n - k - 1) : double.PositiveInfinity);
        return new EtsFit(spec, q.Alpha, q.Beta, q.Gamma, q.Phi, level, trend, rotated, Math.Sqrt(squares / n), logLikelihood, aicc, m);
    }

    private static double Mean(EtsSpec spec, double level, double trend, double phi, double s)
    {
        var baseLevel = level + phi * trend;
        return spec.Season switch { SeasonType.Additive => baseLevel + s, SeasonType.Multiplicative => baseLevel * s, _ => baseLevel };
    }

    /// <summary>Point forecasts (the mean of no future errors) and 80/95 % intervals from simulated paths.</summary>
    public static Forecast Predict(EtsFit fit, TimeSeries train, int horizon)
    {
        if (horizon < 1)
        {
            throw new ForecastInputException($"{train.Name}: horizon must be at least 1, not {horizon}");
        }
        var q = new Parameters(fit.Alpha, fit.Beta, fit.Gamma, fit.Phi, fit.Level, fit.Trend, 0);
        var mean = Simulate(fit, q, horizon, random: null);
        var random = new Random(SimulationSeed);
        var paths = new double[horizon][];
        for (var h = 0; h < horizon; h++)
        {
            paths[h] = new double[SimulatedPaths];
        }
        for (var path = 0; path < SimulatedPaths; path++)
        {
            var values = Simulate(fit, q, horizon, random);
            for (var h = 0; h < horizon; h++)
            {
                paths[h][path] = values[h];
            }
        }
        foreach (var values in paths)
        {
            Array.Sort(values); // once per horizon; the four quantiles then read the sorted sample
        }
        double Quantile(int h, double level) => MathNet.Numerics.Statistics.SortedArrayStatistics.Quantile(paths[h], level);
        return new Forecast(fit.Spec.ToString(), mean,
            Enumerable.Range(0, horizon).Select(h => Quantile(h, 0.10)).ToArray(),
            Enumerable.Range(0, horizon).Select(h => Quantile(h, 0.90)).ToArray(),
            Enumerable.Range(0, horizon).Select(h => Quantile(h, 0.025)).ToArray(),
            Enumerable.Range(0, horizon).Select(h => Quantile(h, 0.975)).ToArray());
    }

    private static double[] Simulate(EtsFit fit, in Parameters q, int horizon, Random? random)
    {
        var m = fit.SeasonLength;
        var seasons = fit.Seasons.ToArray();
        var (level, trend) = (fit.Level, fit.Trend);
        var values = new double[horizon];
        for (var h = 0; h < horizon; h++)
        {
            var s = seasons[h % m];
            var mu = Mean(fit.Spec, level, trend, fit.Phi, s);
            var epsilon = random is null ? 0 : fit.Sigma * Normal(random);
            var delta = fit.Spec.Error == ErrorType.Additive ? epsilon : mu * epsilon;
            values[h] = mu + delta;
            (level, trend, seasons[h % m]) = Update(fit.Spec, q, level, trend, s, delta);
        }
        return values;
    }

    private static double Normal(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
