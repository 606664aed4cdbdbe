namespace Surge.Forecast;

/// <summary>A forecasting method under evaluation: its report name and how it forecasts a series <c>h</c> steps ahead.</summary>
public sealed record SkuModel(string Name, Func<TimeSeries, int, Forecast> Predict);

/// <summary>One SKU held out: the weeks a model learns from, the weeks it is scored on, the scales of its errors
/// (M5's: in-sample one-step differences from the first week with demand) and its weight (share of revenue).</summary>
public sealed record SkuHoldout(string Sku, TimeSeries Train, double[] Test, double SquaredScale, double AbsoluteScale, double Weight);

/// <summary>How one model did on one SKU.</summary>
public sealed record SkuScore(string Sku, double Rmsse, double Mase, double ScaledPinball, int Inside50, int Inside80, int Inside95, string? Failure);

/// <summary>How one model did over every SKU: WRMSSE (M5's revenue-weighted RMSSE), the mean MASE, the weighted scaled
/// pinball loss over the quantiles of its 50/80/95 % intervals and the median (M5's WSPL) and the share of held-out
/// weeks inside each interval. <c>Failures</c>: SKUs the model could not forecast (scored as a forecast of zero).</summary>
public sealed record ModelScore(string Model, int Skus, double Wrmsse, double MaseMean, double Wspl, double Coverage50, double Coverage80,
    double Coverage95, int Failures, IReadOnlyList<SkuScore> PerSku);

/// <summary>
/// SKU-level evaluation on held-out final weeks, in the manner of the M5 competition: every SKU with enough history
/// is cut into a training part and its last <c>holdout</c> weeks; each model forecasts the held-out weeks from the
/// training part alone; errors are scaled per SKU by its own in-sample one-step differences (so slow and fast movers
/// weigh alike) and weighted by the SKU's share of revenue over the last <c>holdout</c> weeks of training. Forecasts
/// and interval bounds below zero are read as zero for every model alike (demand is never negative). Pure: no clock,
/// no I/O.
/// </summary>
public static class SkuEvaluation
{
    public const int HoldoutWeeksDefault = 8;

    /// <summary>Training weeks a SKU needs at least to be scored (a quarter: less says nothing of a model).</summary>
    public const int TrainWeeksMin = 13;

    /// <summary>Weeks with demand a SKU's training part needs at least.</summary>
    public const int DemandWeeksMin = 2;


    /// <summary>The quantiles the pinball loss is taken at: the bounds of the 95, 80 and 50 % intervals and the median.</summary>
    public static readonly double[] Quantiles = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975];

    /// <summary>The SKUs that can be scored (and how many cannot): enough weeks, demand in training, non-zero scales.
    /// <paramref name="unitPrice"/> gives each SKU's price for the revenue weights (a SKU without one weighs by units).</summary>
    public static (IReadOnlyList<SkuHoldout> Holdouts, int Skipped) Prepare(IReadOnlyList<TimeSeries> weekly, Func<string, double?> unitPrice, int holdout)
    {
        if (holdout < 1)
        {
            throw new ForecastInputException($"holdout weeks must be at least 1, not {holdout}");
        }
        var kept = new List<(TimeSeries Train, double[] Test, double Squared, double Absolute, double Revenue)>();
        var skipped = 0;
        foreach (var series in weekly)
        {
            var trainWeeks = series.Count - holdout;
            if (trainWeeks < TrainWeeksMin)
            {
                skipped++;
                continue;
            }
            var train = series.Head(trainWeeks);
            var (squared, absolute) = Scales(train.Values);
            if (train.Values.Count(v => v > 0) < DemandWeeksMin || !(squared > 0) || !(absolute > 0))
            {
                skipped++;
                continue;
            }
            var recentUnits = train.Values.TakeLast(holdout).Sum();
            kept.Add((train, series.Values[trainWeeks..], squared, absolute, recentUnits * (unitPrice(series.Name) ?? 1)));
        }
        var total = kept.Sum(k => k.Revenue);
        var holdouts = kept.Select(k => new SkuHoldout(k.Train.Name, k.Train, k.Test, k.Squared, k.Absolute,
            total > 0 ? k.Revenue / total : 1.0 / kept.Count)).ToList();
        return (holdouts, skipped);
    }

    /// <summary>Mean squared and mean absolute one-step difference of the training values, from the first week with
    /// demand on (M5: the weeks before a product's launch do not count).</summary>
    public static (double Squared, double Absolute) Scales(double[] train)
    {
        var first = Array.FindIndex(train, v => v != 0);
        if (first < 0 || first >= train.Length - 1)
        {
            return (0, 0);
        }
        double squared = 0, absolute = 0;
        for (var t = first + 1; t < train.Length; t++)
        {
            var d = train[t] - train[t - 1];
            squared += d * d;
            absolute += Math.Abs(d);
        }
        var n = train.Length - first - 1;
        return (squared / n, absolute / n);
    }

    /// <summary>Scores <paramref name="model"/> on every held-out SKU (in parallel: SKUs are independent, the result does
    /// not depend on the order).</summary>
    public static ModelScore Score(IReadOnlyList<SkuHoldout> holdouts, SkuModel model)
    {
        var scores = new SkuScore[holdouts.Count];
        Parallel.For(0, holdouts.Count, i => scores[i] = ScoreOne(holdouts[i], model));
        var weeks = holdouts.Sum(h => h.Test.Length);
        return new ModelScore(model.Name, holdouts.Count,
            holdouts.Select((h, i) => h.Weight * scores[i].Rmsse).Sum(),
            scores.Average(s => s.Mase),
            holdouts.Select((h, i) => h.Weight * scores[i].ScaledPinball).Sum(),
            (double)scores.Sum(s => s.Inside50) / weeks, (double)scores.Sum(s => s.Inside80) / weeks, (double)scores.Sum(s => s.Inside95) / weeks,
            scores.Count(s => s.Failure is not null), scores);
    }

    private static SkuScore ScoreOne(SkuHoldout h, SkuModel model)
    {
        var horizon = h.Test.Length;
        Forecast forecast;
        string? failure = null;
        try
        {
            forecast = model.Predict(h.Train, horizon);
            if (forecast.Mean.Length < horizon)
            {
                throw new ForecastInputException($"{model.Name} gave {forecast.Mean.Length} weeks, not {horizon}");
            }
        }
        catch (ForecastInputException e)
        {
            var zeros = new double[horizon];
            forecast = new Forecast(model.Name, zeros, zeros, zeros, zeros, zeros);
            failure = e.Message;
        }
        double squared = 0, absolute = 0, pinball = 0;
        int inside50 = 0, inside80 = 0, inside95 = 0;
        var quantiles = new double[Quantiles.Length];
        for (var t = 0; t < horizon; t++)
        {
            var y = h.Test[t];
            var mean = Math.Max(0, Finite(forecast.Mean[t]));
            var e = y - mean;
            squared += e * e;
            absolute += Math.Abs(e);
            // The 50 % interval is not among a Forecast's: it is read from the 80 % one as a normal spread around the mean.
            var sigma = Math.Max(0, (Finite(forecast.Upper80[t]) - Finite(forecast.Lower80[t])) / (2 * NormalZ.Z80));
            quantiles[0] = Finite(forecast.Lower95[t]);
            quantiles[1] = Finite(forecast.Lower80[t]);
            quantiles[2] = mean - NormalZ.Z50 * sigma;
            quantiles[3] = mean;
            quantiles[4] = mean + NormalZ.Z50 * sigma;
            quantiles[5] = Finite(forecast.Upper80[t]);
            quantiles[6] = Finite(forecast.Upper95[t]);
            for (var q = 0; q < quantiles.Length; q++)
            {
                var value = Math.Max(0, quantiles[q]);
                pinball += Pinball(Quantiles[q], y, value);
                quantiles[q] = value;
            }
            inside95 += y >= quantiles[0] && y <= quantiles[6] ? 1 : 0;
            inside80 += y >= quantiles[1] && y <= quantiles[5] ? 1 : 0;
            inside50 += y >= quantiles[2] && y <= quantiles[4] ? 1 : 0;
        }
        return new SkuScore(h.Sku, Math.Sqrt(squared / horizon / h.SquaredScale), absolute / horizon / h.AbsoluteScale,
            pinball / (horizon * Quantiles.Length) / h.AbsoluteScale, inside50, inside80, inside95, failure);
    }

    /// <summary>The pinball (quantile) loss of predicting <paramref name="predicted"/> for quantile <paramref name="q"/> when <paramref name="actual"/> came.</summary>
    public static double Pinball(double q, double actual, double predicted) =>
        actual >= predicted ? q * (actual - predicted) : (1 - q) * (predicted - actual);

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    /// <summary>Seasonal naive on weekly demand: the same week a year before when the training part is longer than a
    /// year, else the last week (naive) — one year of history holds no full seasonal cycle to repeat.</summary>
    public static Forecast SeasonalNaiveWeekly(TimeSeries train, int horizon) =>
        SeasonalNaive.Predict(train with { SeasonLength = train.Count > WeeklySkuCsv.WeeksPerYear ? WeeklySkuCsv.WeeksPerYear : 1 }, horizon);
}
