using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Surge.Forecast;

namespace Surge.Server;

/// <summary>A seller's demand forecast from its own order history in Surge: weekly paid units per SKU,
/// <see cref="AutoForecast"/> (SBA for intermittent demand, else automatic ETS), stockout week and reorder
/// quantity for a service level (<see cref="Planning"/>).</summary>
public sealed partial class Api
{
    public const int ForecastHistoryWeeksDefault = 26;
    public const int ForecastHistoryWeeksMax = 156;
    public const int ForecastHorizonWeeks = 8;

    /// <summary>Weeks with sales a SKU needs before it gets a forecast…</summary>
    public const int ForecastSalesWeeksMin = 4;

    /// <summary>…and weeks since its first sale (automatic ETS needs eight observations).</summary>
    public const int ForecastHistoryWeeksMin = 8;

    private void MapForecast(RouteGroupBuilder v1) =>
        v1.MapGet("/sellers/{id}/forecast", Handler(SellerForecast)).WithName("sellerForecast")
            .WithSummary("Per-SKU demand forecast from the seller's paid orders: next 8 weeks with 95 % intervals, stockout week, reorder quantity")
            .WithTags("forecasting").Produces<SellerForecastResponse>(200).Problems(401, 403, 404, 422);

    private async Task SellerForecast(HttpContext context)
    {
        var seller = RouteSeller(context, "forecast");
        var query = context.Request.Query;
        var weeks = query.TryGetValue("weeks", out var w) ? ParseInt(w, "weeks", ForecastSalesWeeksMin + 1, ForecastHistoryWeeksMax) : ForecastHistoryWeeksDefault;
        var leadTime = query.TryGetValue("lead_time_weeks", out var l) ? ParseInt(l, "lead_time_weeks", 0, 26) : 2;
        var serviceLevel = 0.95;
        if (query.TryGetValue("service_level", out var sl)
            && (!double.TryParse(sl, NumberStyles.Float, CultureInfo.InvariantCulture, out serviceLevel) || serviceLevel is < 0.5 or > 0.999))
        {
            throw new RequestShapeException("service_level: a probability from 0.5 to 0.999");
        }
        await WriteAsync(context, 200, await SellerForecastAsync(seller, weeks, leadTime, serviceLevel), ApiJson.Default.SellerForecastResponse);
    }

    /// <summary>The forecast of one seller (the API's and the dashboard's).</summary>
    public async Task<SellerForecastResponse> SellerForecastAsync(long seller, int weeks = ForecastHistoryWeeksDefault, int leadTime = 2, double serviceLevel = 0.95)
    {
        // Complete weeks only: history ends where the current week (Monday 00:00 UTC) begins.
        var now = Options.Clock.GetUtcNow().UtcDateTime;
        var thisMonday = WeeklyDemand.WeekStart(DateOnly.FromDateTime(now)).ToDateTime(TimeOnly.MinValue);
        var from = new DateTimeOffset(thisMonday.AddDays(-7 * weeks), TimeSpan.Zero);
        var demand = await Gateway.Grain(Gateway.PartitionOf(seller)).SellerDemand(seller, from.ToUnixTimeMilliseconds(), weeks);
        var periods = Enumerable.Range(0, weeks).Select(i => from.AddDays(7 * i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
        var options = new PlanningOptions { HorizonWeeks = ForecastHorizonWeeks, LeadTimeWeeks = leadTime, ServiceLevel = serviceLevel };
        var skus = demand.OrderBy(d => d.Sku, StringComparer.Ordinal).Select(d => PlanSku(d, periods, options)).ToArray();
        return new SellerForecastResponse(Ids.Seller(seller), Options.Clock.GetUtcNow(), weeks, ForecastHorizonWeeks, leadTime, serviceLevel, skus);
    }

    /// <summary>The history starts at the SKU's first week with sales (earlier weeks say nothing about demand).</summary>
    private static SkuForecastBody PlanSku(SkuDemand demand, List<string> periods, PlanningOptions options)
    {
        var first = Array.FindIndex(demand.WeeklyUnits, u => u > 0);
        var history = first < 0 ? [] : demand.WeeklyUnits[first..];
        var historyBody = history.Select((u, i) => new WeekUnitsBody(periods[first + i], u)).ToArray();
        if (history.Count(u => u > 0) < ForecastSalesWeeksMin || history.Length < ForecastHistoryWeeksMin)
        {
            return new SkuForecastBody(demand.Sku, demand.Available, historyBody,
                Problem: $"history_too_short: {history.Count(u => u > 0)} weeks with sales over {history.Length} weeks since the first; "
                    + $"a forecast needs {ForecastSalesWeeksMin} with sales over at least {ForecastHistoryWeeksMin}");
        }
        try
        {
            var series = new TimeSeries(demand.Sku, periods[first..], history, WeeklySkuCsv.WeeksPerYear);
            var plan = Planning.Plan(series, Math.Max(0, demand.Available), options);
            var forecast = plan.Weeks.Select((week, h) => new WeekForecastBody(week, Math.Round(plan.Mean[h], 2), Math.Round(plan.Lower95[h], 2),
                Math.Round(plan.Upper95[h], 2))).ToArray();
            return new SkuForecastBody(demand.Sku, demand.Available, historyBody, plan.Model, forecast, plan.StockoutWeek, plan.ReorderUnits);
        }
        catch (ForecastInputException e)
        {
            var reason = e.Message.StartsWith(demand.Sku + ": ", StringComparison.Ordinal) ? e.Message[(demand.Sku.Length + 2)..] : e.Message;
            return new SkuForecastBody(demand.Sku, demand.Available, historyBody, Problem: reason);
        }
    }
}
