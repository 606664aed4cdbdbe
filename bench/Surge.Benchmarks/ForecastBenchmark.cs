using System.Diagnostics;
using Surge.Forecast;

namespace Surge.Benchmarks;

public sealed record ForecastBenchOptions(string WeeklyFile, int Series = 10_000, int HorizonWeeks = 8, int Seed = 11);

public sealed record ForecastBenchResult(
    int Series,
    int Weeks,
    int Threads,
    double Seconds,
    double SeriesPerS,
    double BaselineSeriesPerS,
    double RatioVsBaseline,
    int Failed,
    IReadOnlyDictionary<string, int> Models,
    double GlobalSeconds,
    int GlobalSkus);

/// <summary>
/// Forecasts 8 weeks for 10,000 SKU series on all cores with the automatic choice (SBA for intermittent demand,
/// else automatic ETS fitted by maximum likelihood). The series are the real
/// weekly demand of the top-100 SKUs of the Online Retail data, each copied 100 times at a random scale with
/// seeded noise (so every fit is different but the shapes are real). Seasonal naive on the same series is the
/// in-run baseline. Then the global model (one LightGBM model across every series, its conformal calibration
/// fit included) is fitted and forecasts every series: the 10,000-SKU budget is 60 s for that.
/// </summary>
public static class ForecastBenchmark
{
    public static ForecastBenchResult Run(ForecastBenchOptions o, Action<string, double>? progress = null)
    {
        var real = WeeklySkuCsv.Read(o.WeeklyFile);
        var random = new Random(o.Seed);
        var series = Enumerable.Range(0, o.Series).Select(i =>
        {
            var source = real[i % real.Count];
            var scale = Math.Exp(random.NextDouble() * 3 - 1.5);
            var values = source.Values.Select(v => Math.Max(0, Math.Round(v * scale * (0.85 + 0.3 * random.NextDouble())))).ToArray();
            return source with { Name = $"{source.Name}-{i / real.Count}", Values = values };
        }).ToList();

        var models = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var failed = 0;
        var done = 0;
        var clock = Stopwatch.StartNew();
        Parallel.ForEach(series, s =>
        {
            try
            {
                var forecast = AutoForecast.Predict(s, o.HorizonWeeks);
                models.AddOrUpdate(forecast.Model, 1, (_, n) => n + 1);
            }
            catch (ForecastInputException)
            {
                Interlocked.Increment(ref failed);
            }
            if (Interlocked.Increment(ref done) % 250 == 0)
            {
                progress?.Invoke("fitting", (double)done / series.Count);
            }
        });
        var seconds = clock.Elapsed.TotalSeconds;

        progress?.Invoke("baseline: seasonal naive", 0);
        clock.Restart();
        Parallel.ForEach(series, s => SeasonalNaive.Predict(s, o.HorizonWeeks));
        var baselinePerS = series.Count / clock.Elapsed.TotalSeconds;

        progress?.Invoke("global model", 0);
        clock.Restart();
        var global = GlobalDemandModel.Fit(series, _ => null, new GlobalModelOptions { HorizonWeeks = o.HorizonWeeks });
        foreach (var s in series)
        {
            global.Forecast(s.Name, o.HorizonWeeks);
        }
        var globalSeconds = clock.Elapsed.TotalSeconds;

        var perS = series.Count / seconds;
        return new ForecastBenchResult(series.Count, real[0].Count, Environment.ProcessorCount, seconds, perS, baselinePerS,
            perS / baselinePerS, failed, models.OrderByDescending(p => p.Value).ToDictionary(p => p.Key, p => p.Value), globalSeconds, global.Skus);
    }
}
