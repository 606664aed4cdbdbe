using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Surge.Forecast;

/// <summary>Bounds and settings of the global model, each with its unit.</summary>
public sealed record GlobalModelOptions
{
    /// <summary>Weeks ahead forecast (the horizon is a feature: one model for every step).</summary>
    public int HorizonWeeks { get; init; } = 8;

    /// <summary>Boosting rounds of LightGBM.</summary>
    public int Iterations { get; init; } = 300;

    /// <summary>Leaves per tree.</summary>
    public int Leaves { get; init; } = 31;

    public double LearningRate { get; init; } = 0.05;

    /// <summary>Training examples a leaf holds at least (keeps rare spikes from getting a leaf of their own).</summary>
    public int MinimumExamplesPerLeaf { get; init; } = 50;

    /// <summary>Weeks of a SKU's history before the first origin the model learns from (its lags need them).</summary>
    public int WarmUpWeeks { get; init; } = 8;

    /// <summary>Weeks between the forecast origins the model learns from, counted back from each SKU's latest: 1
    /// learns from every week, 2 from every other (half the examples, half the training time).</summary>
    public int OriginStride { get; init; } = 2;

    /// <summary>Seed of LightGBM's sampling: the same data gives the same model.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Weigh each SKU's examples by its weight in WRMSSE (revenue share over its squared one-step scale), so the
    /// loss the trees minimise is the measure they are judged by; false: every example alike.</summary>
    public bool WeighLikeWrmsse { get; init; } = true;

    /// <summary>Whether the week of the year is a feature (set by <see cref="GlobalDemandModel.Fit"/> from the history's length).</summary>
    internal bool Seasonal { get; init; }
}

/// <summary>
/// A global demand model: one gradient-boosted tree model (ML.NET's LightGBM) learned across every SKU's weekly
/// demand, as the M5 winners did, instead of one model per series. Each example is a SKU at a forecast origin and a
/// horizon: the features are the SKU's recent weeks (lags, rolling means, spread, share of zero weeks, weeks since its
/// last sale, mean size of a non-zero week, whether it is new, a spike ratio), the horizon and
/// the SKU's price (the week of the year too once the history holds two years); target and demand features are divided by the SKU's level (its mean over the last 26 weeks), so
/// slow and fast movers share what they have in common. Intervals are split-conformal, normalised: the model is first
/// fitted without each SKU's last <see cref="GlobalModelOptions.HorizonWeeks"/> weeks, its errors on those weeks, in
/// units of each SKU's recent spread, give the quantiles of each horizon, and the final model (fitted on every week)
/// is widened by them, each SKU by its own spread. Deterministic
/// for a seed; no clock, no I/O.
/// </summary>
public sealed class GlobalDemandModel
{
    private const int FeatureCount = 24;

    /// <summary>The least spread an interval is scaled by, as a share of the level (a flat history would otherwise give
    /// an interval of width zero).</summary>
    private const double SpreadMin = 0.1;

    /// <summary>Most an example weighs, in multiples of the mean weight.</summary>
    private const double WeightMax = 100;

    /// <summary>The interval quantiles kept from the calibration errors: the bounds of the 95 and 80 % intervals.</summary>
    private static readonly double[] Levels = [0.025, 0.1, 0.9, 0.975];

    private readonly Dictionary<string, Forecast> _forecasts;

    private GlobalDemandModel(Dictionary<string, Forecast> forecasts) => _forecasts = forecasts;

    /// <summary>SKUs the model forecast.</summary>
    public int Skus => _forecasts.Count;

    /// <summary>Fits on <paramref name="series"/> (each SKU's whole history) and forecasts the next weeks of each.
    /// <paramref name="unitPrice"/>: each SKU's price (missing: the feature is left empty).</summary>
    public static GlobalDemandModel Fit(IReadOnlyList<TimeSeries> series, Func<string, double?> unitPrice, GlobalModelOptions? options = null)
    {
        options ??= new GlobalModelOptions();
        // The week of the year is a feature only when the history holds every week of the year twice: with one year a
        // week number names a single week, the trees memorise it, and every week ahead looks like the last one seen.
        options = options with { Seasonal = series.Count > 0 && series.Max(s => s.Count) >= 2 * WeeklySkuCsv.WeeksPerYear + options.HorizonWeeks };
        var horizon = options.HorizonWeeks;
        var context = new MLContext(options.Seed);
        // Calibration: fit without each SKU's last `horizon` weeks, forecast them, keep the level-scaled errors by horizon.
        var shortened = series.Where(s => s.Count > options.WarmUpWeeks + 2 * horizon).ToList();
        var errors = Enumerable.Range(0, horizon).Select(_ => new List<double>()).ToArray();
        if (shortened.Count > 0)
        {
            var calibration = Train(context, [.. shortened.Select(s => s.Head(s.Count - horizon))], unitPrice, options);
            var rows = shortened.SelectMany(s => Origin(s.Head(s.Count - horizon), unitPrice(s.Name), horizon, options.Seasonal)).ToList();
            var predicted = Predict(context, calibration, rows);
            for (var i = 0; i < rows.Count; i++)
            {
                var s = shortened[i / horizon];
                var h = i % horizon;
                var actual = s.Values[s.Count - horizon + h];
                errors[h].Add((actual - Math.Max(0, predicted[i]) * rows[i].Scale) / (rows[i].Scale * rows[i].Spread));
            }
        }
        var quantiles = errors.Select(e =>
        {
            var sorted = e.Order().ToArray();
            return Levels.Select(l => sorted.Length == 0 ? 0
                : MathNet.Numerics.Statistics.SortedArrayStatistics.QuantileCustom(sorted, l, MathNet.Numerics.Statistics.QuantileDefinition.R7)).ToArray();
        }).ToArray();

        var model = Train(context, series, unitPrice, options);
        var origins = series.Where(s => s.Count > 0).ToList();
        var finalRows = origins.SelectMany(s => Origin(s, unitPrice(s.Name), horizon, options.Seasonal)).ToList();
        var means = Predict(context, model, finalRows);
        var forecasts = new Dictionary<string, Forecast>(StringComparer.Ordinal);
        for (var k = 0; k < origins.Count; k++)
        {
            var (mean, lo95, lo80, hi80, hi95) = (new double[horizon], new double[horizon], new double[horizon], new double[horizon], new double[horizon]);
            for (var h = 0; h < horizon; h++)
            {
                var row = finalRows[k * horizon + h];
                mean[h] = Math.Max(0, means[k * horizon + h]) * row.Scale;
                var q = quantiles[h];
                var unit = row.Scale * row.Spread;
                (lo95[h], lo80[h], hi80[h], hi95[h]) = (Math.Max(0, mean[h] + q[0] * unit), Math.Max(0, mean[h] + q[1] * unit),
                    Math.Max(0, mean[h] + q[2] * unit), Math.Max(0, mean[h] + q[3] * unit));
            }
            forecasts[origins[k].Name] = new Forecast("global", mean, lo80, hi80, lo95, hi95);
        }
        return new GlobalDemandModel(forecasts);
    }

    /// <summary>Whether the model forecast <paramref name="sku"/>.</summary>
    public bool Has(string sku) => _forecasts.ContainsKey(sku);

    /// <summary>The forecast of a SKU the model was fitted on.</summary>
    public Forecast Forecast(string sku, int horizon)
    {
        if (!_forecasts.TryGetValue(sku, out var forecast))
        {
            throw new ForecastInputException($"{sku}: not among the SKUs the global model was fitted on");
        }
        if (horizon > forecast.Mean.Length)
        {
            throw new ForecastInputException($"{sku}: the global model forecasts {forecast.Mean.Length} weeks, not {horizon}");
        }
        return forecast with
        {
            Mean = forecast.Mean[..horizon], Lower80 = forecast.Lower80[..horizon], Upper80 = forecast.Upper80[..horizon],
            Lower95 = forecast.Lower95[..horizon], Upper95 = forecast.Upper95[..horizon],
        };
    }

    private sealed class Example
    {
        public float Label { get; set; }

        public float Weight { get; set; } = 1;

        [VectorType(FeatureCount)]
        public float[] Features { get; set; } = [];

        [NoColumn]
        public double Scale { get; set; }

        /// <summary>The SKU's recent spread in units of its level (the 13-week standard deviation over the level, at
        /// least <see cref="SpreadMin"/>): conformal errors are measured in it, so a steady SKU gets a narrow interval
        /// and an erratic one a wide one from the same quantiles (normalised conformal prediction).</summary>
        [NoColumn]
        public double Spread { get; set; } = 1;
    }

    private sealed class Scored
    {
        public float Score { get; set; }
    }

    private static RegressionPredictionTransformer<Microsoft.ML.Trainers.LightGbm.LightGbmRegressionModelParameters> Train(MLContext context, IReadOnlyList<TimeSeries> series, Func<string, double?> unitPrice, GlobalModelOptions options)
    {
        var examples = new List<Example>();
        // Each SKU's weight in the loss is its weight in WRMSSE, the measure the model is judged by: its share of revenue
        // over its last weeks, over its own squared one-step scale (an example's error, in units, is its level times the
        // error on the level-scaled target, hence the level squared below).
        var revenue = series.Select(s => s.Values.TakeLast(options.HorizonWeeks).Sum() * (unitPrice(s.Name) is > 0 and var p ? p : 1)).ToArray();
        var totalRevenue = revenue.Sum();
        foreach (var (s, k) in series.Select((s, k) => (s, k)))
        {
            var price = unitPrice(s.Name);
            var first = Array.FindIndex(s.Values, v => v > 0);
            var (squaredScale, _) = SkuEvaluation.Scales(s.Values);
            if (first < 0 || !(squaredScale > 0))
            {
                continue;
            }
            var share = totalRevenue > 0 ? revenue[k] / totalRevenue : 1.0 / series.Count;
            for (var origin = s.Count - 2; origin >= Math.Max(first, options.WarmUpWeeks - 1); origin -= options.OriginStride)
            {
                for (var h = 1; h <= options.HorizonWeeks && origin + h < s.Count; h++)
                {
                    var example = Row(s, origin, h, price, options.Seasonal);
                    example.Label = (float)(s.Values[origin + h] / example.Scale);
                    example.Weight = options.WeighLikeWrmsse ? (float)(share * example.Scale * example.Scale / squaredScale) : 1;
                    examples.Add(example);
                }
            }
        }
        if (examples.Count == 0)
        {
            throw new ForecastInputException($"no SKU has {options.WarmUpWeeks + 1} weeks with demand to learn from");
        }
        var meanWeight = examples.Average(e => (double)e.Weight);
        foreach (var example in examples)
        {
            // Mean 1, so LightGBM's leaf minimums keep their meaning; capped, so that one SKU cannot steer every tree.
            example.Weight = (float)Math.Min(WeightMax, example.Weight / meanWeight);
        }
        var data = context.Data.LoadFromEnumerable(examples);
        var trainer = context.Regression.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmRegressionTrainer.Options
        {
            LabelColumnName = nameof(Example.Label),
            ExampleWeightColumnName = nameof(Example.Weight),
            FeatureColumnName = nameof(Example.Features),
            NumberOfIterations = options.Iterations,
            NumberOfLeaves = options.Leaves,
            LearningRate = options.LearningRate,
            MinimumExampleCountPerLeaf = options.MinimumExamplesPerLeaf,
            Seed = options.Seed,
            Deterministic = true,
            NumberOfThreads = Environment.ProcessorCount,
            Silent = true,
        });
        return trainer.Fit(data);
    }

    /// <summary>The examples of forecasting from a series' last week, one per horizon.</summary>
    private static IEnumerable<Example> Origin(TimeSeries s, double? price, int horizon, bool seasonal) =>
        Enumerable.Range(1, horizon).Select(h => Row(s, s.Count - 1, h, price, seasonal));

    private static float[] Predict(MLContext context, RegressionPredictionTransformer<Microsoft.ML.Trainers.LightGbm.LightGbmRegressionModelParameters> model, List<Example> rows)
    {
        var scored = model.Transform(context.Data.LoadFromEnumerable(rows));
        return [.. context.Data.CreateEnumerable<Scored>(scored, reuseRowObject: false).Select(s => s.Score)];
    }

    /// <summary>The features of forecasting week <paramref name="origin"/> + <paramref name="h"/> from the weeks up to
    /// <paramref name="origin"/>; a feature that needs weeks before the series began is missing (NaN), as LightGBM
    /// expects.</summary>
    private static Example Row(TimeSeries s, int origin, int h, double? price, bool seasonal)
    {
        var y = s.Values;
        double Mean(int weeks)
        {
            var from = Math.Max(0, origin - weeks + 1);
            double sum = 0;
            for (var t = from; t <= origin; t++)
            {
                sum += y[t];
            }
            return sum / (origin - from + 1);
        }
        var level = Mean(26);
        if (!(level > 0))
        {
            level = Mean(origin + 1);
        }
        var scale = level > 0 ? level : 1;
        var f = new float[FeatureCount];
        var i = 0;
        for (var k = 0; k < 8; k++)
        {
            f[i++] = origin - k >= 0 ? (float)(y[origin - k] / scale) : float.NaN;
        }
        f[i++] = origin - 12 >= 0 ? (float)(y[origin - 12] / scale) : float.NaN;
        var yearBefore = origin + h - WeeklySkuCsv.WeeksPerYear; // the target's week a year before
        f[i++] = yearBefore >= 0 ? (float)(y[yearBefore] / scale) : float.NaN;
        foreach (var weeks in new[] { 4, 8, 13, 26 })
        {
            f[i++] = origin + 1 >= weeks ? (float)(Mean(weeks) / scale) : float.NaN;
        }
        var recent = Math.Min(13, origin + 1);
        double sumSquares = 0, nonZero = 0, nonZeroSum = 0, peak = 0;
        var mean13 = Mean(13);
        for (var t = origin - recent + 1; t <= origin; t++)
        {
            sumSquares += (y[t] - mean13) * (y[t] - mean13);
            nonZero += y[t] > 0 ? 1 : 0;
            nonZeroSum += y[t] > 0 ? y[t] : 0;
            peak = Math.Max(peak, y[t]);
        }
        var spread = Math.Sqrt(sumSquares / recent) / scale;
        f[i++] = (float)spread;
        f[i++] = (float)(1 - nonZero / recent);
        var last = origin;
        while (last >= 0 && !(y[last] > 0))
        {
            last--;
        }
        f[i++] = last < 0 ? 52 : Math.Min(52, origin - last);
        f[i++] = nonZero > 0 ? (float)(nonZeroSum / nonZero / scale) : float.NaN;
        f[i++] = Math.Min(13, origin + 1); // a new SKU (its first quarter) against an established one; more would index time itself
        f[i++] = mean13 > 0 ? (float)(peak / mean13) : float.NaN;
        f[i++] = seasonal ? WeekOfYear(s, origin, h) : float.NaN;
        f[i++] = h;
        f[i++] = price is > 0 ? (float)Math.Log(price.Value) : float.NaN;
        f[i++] = (float)Math.Log(scale);
        return new Example { Features = f, Scale = scale, Spread = Math.Max(SpreadMin, spread) };
    }

    private static float WeekOfYear(TimeSeries s, int origin, int h) =>
        DateOnly.TryParseExact(s.Periods[origin], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? ISOWeek.GetWeekOfYear(day.AddDays(7 * h).ToDateTime(TimeOnly.MinValue))
            : float.NaN;
}
