using System.Globalization;
using Surge.Forecast;

namespace Surge.Application;

/// <summary>Weekly demand of one SKU: paid units by the week their orders were placed (week 0 starts at the query's
/// start), and the units available now.</summary>
public sealed record WeeklySkuDemand(string Sku, double[] WeeklyUnits, long Available);

public sealed record WeekUnits(string Week, double Units);

public sealed record WeekForecast(string Week, double Mean, double Lower95, double Upper95);

/// <summary>One SKU's plan: weekly demand so far, the forecast with 95 % intervals, the week stock runs out (null: not
/// within the horizon) and the units to order now; or, when there is too little history, why not (<see cref="Problem"/>).</summary>
public sealed record SkuPlan(string Sku, long Available, WeekUnits[] History, string? Model = null, WeekForecast[]? Forecast = null,
    string? StockoutWeek = null, double? ReorderUnits = null, string? Problem = null);

public sealed record SellerForecast(long SellerId, DateTimeOffset GeneratedAt, int HistoryWeeks, int HorizonWeeks, int LeadTimeWeeks,
    double ServiceLevel, SkuPlan[] Skus);

/// <summary>Where a seller's weekly demand comes from (today the seller's partition; a read model later).</summary>
public interface IDemandSource
{
    Task<WeeklySkuDemand[]> SellerDemand(long sellerId, long fromMs, int weeks);
}

/// <summary>A seller's per-SKU forecast and reorder advice from its own paid orders (the API's and the dashboard's).</summary>
public sealed class SellerForecasts(IDemandSource demand, TimeProvider clock)
{
    public const int HistoryWeeksDefault = 26;
    public const int HistoryWeeksMax = 156;
    public const int HorizonWeeks = 8;
    public const int LeadTimeWeeksDefault = 2;
    public const int LeadTimeWeeksMax = 26;
    public const double ServiceLevelDefault = 0.95;

    /// <summary>Weeks with sales a SKU needs before it gets a forecast…</summary>
    public const int SalesWeeksMin = 4;

    /// <summary>…and weeks since its first sale (automatic ETS needs eight observations).</summary>
    public const int HistoryWeeksMin = 8;

    public async Task<SellerForecast> ForecastAsync(long seller, int weeks = HistoryWeeksDefault, int leadTimeWeeks = LeadTimeWeeksDefault,
        double serviceLevel = ServiceLevelDefault)
    {
        // Complete weeks only: history ends where the current week (Monday 00:00 UTC) begins.
        var now = clock.GetUtcNow();
        var thisMonday = WeeklyDemand.WeekStart(DateOnly.FromDateTime(now.UtcDateTime)).ToDateTime(TimeOnly.MinValue);
        var from = new DateTimeOffset(thisMonday.AddDays(-7 * weeks), TimeSpan.Zero);
        var demands = await demand.SellerDemand(seller, from.ToUnixTimeMilliseconds(), weeks);
        var periods = Enumerable.Range(0, weeks).Select(i => from.AddDays(7 * i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
        var options = new PlanningOptions { HorizonWeeks = HorizonWeeks, LeadTimeWeeks = leadTimeWeeks, ServiceLevel = serviceLevel };
        var ordered = demands.OrderBy(d => d.Sku, StringComparer.Ordinal).Select(d => (Demand: d, Series: Series(d, periods))).ToList();
        // With enough SKUs, the global model plans when it beats per-SKU models on the held-out last weeks (SkuModels).
        var eligible = ordered.Where(x => x.Series is not null).Select(x => x.Series!).ToList();
        var horizon = Math.Max(options.HorizonWeeks, options.LeadTimeWeeks + options.ReviewWeeks);
        Dictionary<string, Forecast.Forecast>? global = null;
        try
        {
            global = eligible.Count >= SkuModels.GlobalSkusMin && SkuModels.Choose(eligible, _ => null).Chosen == "global"
                ? SkuModels.Forecast(eligible, _ => null, "global", horizon).Forecasts : null;
        }
        catch (ForecastInputException)
        {
            global = null; // per-SKU models plan, as they do for a seller with few SKUs
        }
        var skus = ordered.Select(x => Plan(x.Demand, x.Series, periods, options, global?.GetValueOrDefault(x.Demand.Sku))).ToArray();
        return new SellerForecast(seller, now, weeks, HorizonWeeks, leadTimeWeeks, serviceLevel, skus);
    }

    /// <summary>The SKU's weekly series from its first week with sales (earlier weeks say nothing about demand), or null
    /// when the history is too short for a forecast.</summary>
    private static TimeSeries? Series(WeeklySkuDemand demand, List<string> periods)
    {
        var first = Array.FindIndex(demand.WeeklyUnits, u => u > 0);
        var history = first < 0 ? [] : demand.WeeklyUnits[first..];
        return history.Count(u => u > 0) < SalesWeeksMin || history.Length < HistoryWeeksMin
            ? null : new TimeSeries(demand.Sku, periods[first..], history, WeeklySkuCsv.WeeksPerYear);
    }

    private static SkuPlan Plan(WeeklySkuDemand demand, TimeSeries? series, List<string> periods, PlanningOptions options, Forecast.Forecast? global)
    {
        var first = Array.FindIndex(demand.WeeklyUnits, u => u > 0);
        var history = first < 0 ? [] : demand.WeeklyUnits[first..];
        var historyWeeks = history.Select((u, i) => new WeekUnits(periods[first + i], u)).ToArray();
        if (series is null)
        {
            return new SkuPlan(demand.Sku, demand.Available, historyWeeks,
                Problem: $"history_too_short: {history.Count(u => u > 0)} weeks with sales over {history.Length} weeks since the first; "
                    + $"a forecast needs {SalesWeeksMin} with sales over at least {HistoryWeeksMin}");
        }
        try
        {
            var plan = global is not null ? Planning.FromForecast(series, Math.Max(0, demand.Available), global, options)
                : Planning.Plan(series, Math.Max(0, demand.Available), options);
            var forecast = plan.Weeks.Select((week, h) => new WeekForecast(week, Math.Round(plan.Mean[h], 2), Math.Round(plan.Lower95[h], 2),
                Math.Round(plan.Upper95[h], 2))).ToArray();
            return new SkuPlan(demand.Sku, demand.Available, historyWeeks, plan.Model, forecast, plan.StockoutWeek, plan.ReorderUnits);
        }
        catch (ForecastInputException e)
        {
            var reason = e.Message.StartsWith(demand.Sku + ": ", StringComparison.Ordinal) ? e.Message[(demand.Sku.Length + 2)..] : e.Message;
            return new SkuPlan(demand.Sku, demand.Available, historyWeeks, Problem: reason);
        }
    }
}
