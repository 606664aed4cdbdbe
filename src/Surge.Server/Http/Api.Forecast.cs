using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Surge.Server;

// /v1 endpoints: a seller's demand forecast and reorder advice (computed by the application's SellerForecasts).
public sealed partial class Api
{
    private void MapForecast(RouteGroupBuilder v1) =>
        v1.MapGet("/sellers/{id}/forecast", Handler(SellerForecast)).WithName("sellerForecast")
            .WithSummary("Per-SKU demand forecast from the seller's paid orders: next 8 weeks with 95 % intervals, stockout week, reorder quantity")
            .WithTags("forecasting").Produces<SellerForecastResponse>(200).Problems(401, 403, 404, 422)
            .Query("weeks", ParameterType.Integer,
                $"Weeks of sales history the forecast learns from, {SellerForecasts.SalesWeeksMin + 1}–{SellerForecasts.HistoryWeeksMax} (default {SellerForecasts.HistoryWeeksDefault}).")
            .Query("lead_time_weeks", ParameterType.Integer,
                $"Replenishment lead time, 0–{SellerForecasts.LeadTimeWeeksMax} weeks (default {SellerForecasts.LeadTimeWeeksDefault}).")
            .Query("service_level", ParameterType.Number,
                $"Probability of not running out over the lead time, 0.5–0.999 (default {SellerForecasts.ServiceLevelDefault.ToString(CultureInfo.InvariantCulture)}).");

    private async Task SellerForecast(HttpContext context)
    {
        var seller = RouteSeller(context, "forecast");
        var query = context.Request.Query;
        var weeks = query.TryGetValue("weeks", out var w)
            ? ParseInt(w, "weeks", SellerForecasts.SalesWeeksMin + 1, SellerForecasts.HistoryWeeksMax) : SellerForecasts.HistoryWeeksDefault;
        var leadTime = query.TryGetValue("lead_time_weeks", out var l)
            ? ParseInt(l, "lead_time_weeks", 0, SellerForecasts.LeadTimeWeeksMax) : SellerForecasts.LeadTimeWeeksDefault;
        var serviceLevel = SellerForecasts.ServiceLevelDefault;
        if (query.TryGetValue("service_level", out var sl)
            && (!double.TryParse(sl, NumberStyles.Float, CultureInfo.InvariantCulture, out serviceLevel) || serviceLevel is < 0.5 or > 0.999))
        {
            throw new RequestShapeException("service_level: a probability from 0.5 to 0.999");
        }
        var forecast = await state.Forecasts.ForecastAsync(seller, weeks, leadTime, serviceLevel);
        await WriteAsync(context, 200, ForecastBody(forecast), ApiJson.Default.SellerForecastResponse);
    }

    /// <summary>A seller's forecast on the wire (the API's and the dashboard's answer).</summary>
    public static SellerForecastResponse ForecastBody(SellerForecast f) =>
        new(Ids.Seller(f.SellerId), f.GeneratedAt, f.HistoryWeeks, f.HorizonWeeks, f.LeadTimeWeeks, f.ServiceLevel,
            [.. f.Skus.Select(s => new SkuForecastBody(s.Sku, s.Available, [.. s.History.Select(h => new WeekUnitsBody(h.Week, h.Units))], s.Model,
                s.Forecast?.Select(x => new WeekForecastBody(x.Week, x.Mean, x.Lower95, x.Upper95)).ToArray(), s.StockoutWeek, s.ReorderUnits, s.Problem))]);
}
