using System.Globalization;

namespace Surge.Forecast;

/// <summary>What a seller should know about one SKU: the next weeks' demand, when the stock runs out, and how
/// much to order now.</summary>
public sealed record SkuPlan(
    string Sku,
    string Model,
    double OnHand,
    IReadOnlyList<string> Weeks,
    double[] Mean,
    double[] Lower95,
    double[] Upper95,
    string? StockoutWeek,
    double ReorderUnits);

/// <summary>Planning bounds and assumptions, each with its unit.</summary>
public sealed record PlanningOptions
{
    public int HorizonWeeks { get; init; } = 8;

    /// <summary>Weeks between placing an order and the goods being on hand.</summary>
    public int LeadTimeWeeks { get; init; } = 2;

    /// <summary>Weeks until the next chance to order (the order must cover them too).</summary>
    public int ReviewWeeks { get; init; } = 1;

    /// <summary>Probability of not running out before the next order arrives.</summary>
    public double ServiceLevel { get; init; } = 0.95;
}

/// <summary>
/// Per-SKU planning on weekly demand. The forecast is <see cref="AutoForecast"/> (SBA for intermittent demand,
/// else automatic ETS). The stockout week is the first week in
/// which forecast demand, accumulated, exceeds the stock on hand (none within the horizon: null). The order
/// brings stock up to the demand expected over lead time + review period plus safety stock
/// z(service level)·σ, where σ combines the weekly forecast spreads (read from the 95 % intervals).
/// </summary>
public static class Planning
{
    public static SkuPlan Plan(TimeSeries weekly, double onHand, PlanningOptions options)
    {
        if (onHand < 0 || !double.IsFinite(onHand))
        {
            throw new ForecastInputException($"{weekly.Name}: stock on hand must be a finite non-negative number, not {onHand}");
        }
        var cover = options.LeadTimeWeeks + options.ReviewWeeks;
        var horizon = Math.Max(options.HorizonWeeks, cover);
        var forecast = AutoForecast.Predict(weekly, horizon);
        return FromForecast(weekly, onHand, forecast, options);
    }

    public static SkuPlan FromForecast(TimeSeries weekly, double onHand, Forecast forecast, PlanningOptions options)
    {
        var cover = options.LeadTimeWeeks + options.ReviewWeeks;
        if (forecast.Mean.Length < Math.Max(cover, options.HorizonWeeks))
        {
            throw new ArgumentException("the forecast is shorter than the planning horizon", nameof(forecast));
        }
        var weeks = NextWeeks(weekly, options.HorizonWeeks);
        string? stockout = null;
        double cumulative = 0;
        for (var h = 0; h < options.HorizonWeeks; h++)
        {
            cumulative += Math.Max(0, forecast.Mean[h]);
            if (cumulative > onHand)
            {
                stockout = weeks[h];
                break;
            }
        }
        double demand = 0, variance = 0;
        for (var h = 0; h < cover; h++)
        {
            demand += Math.Max(0, forecast.Mean[h]);
            var sigma = (forecast.Upper95[h] - forecast.Lower95[h]) / (2 * NormalZ.Z95);
            variance += double.IsFinite(sigma) ? sigma * sigma : 0;
        }
        var orderUpTo = demand + NormalQuantile(options.ServiceLevel) * Math.Sqrt(variance);
        return new SkuPlan(weekly.Name, forecast.Model, onHand, weeks, forecast.Mean[..options.HorizonWeeks],
            forecast.Lower95[..options.HorizonWeeks], forecast.Upper95[..options.HorizonWeeks], stockout,
            Math.Ceiling(Math.Max(0, orderUpTo - onHand)));
    }


    private static double NormalQuantile(double p) => MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, p);

    private static List<string> NextWeeks(TimeSeries weekly, int count)
    {
        var last = DateOnly.ParseExact(weekly.Periods[^1], "yyyy-MM-dd", CultureInfo.InvariantCulture);
        return Enumerable.Range(1, count).Select(i => last.AddDays(7 * i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
    }
}

/// <summary>
/// Reads weekly per-SKU demand in the format of sales-series/weekly_top100_sku.csv:
/// <c>week_start,stock_code,units</c>, Mondays <c>YYYY-MM-DD</c>, every SKU with the same consecutive weeks.
/// </summary>
public static class WeeklySkuCsv
{
    public const int WeeksPerYear = 52;

    public static IReadOnlyList<TimeSeries> Read(string path)
    {
        var lines = File.ReadLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count < 2 || lines[0].Trim() != "week_start,stock_code,units")
        {
            throw new ForecastInputException($"{path}: expected the header 'week_start,stock_code,units' and data rows");
        }
        var bySku = new Dictionary<string, List<(DateOnly Week, double Units)>>(StringComparer.Ordinal);
        for (var i = 1; i < lines.Count; i++)
        {
            var c = lines[i].Split(',');
            if (c.Length != 3 || !DateOnly.TryParseExact(c[0], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var week)
                || !double.TryParse(c[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var units) || !double.IsFinite(units) || units < 0
                || c[1].Length == 0)
            {
                throw new ForecastInputException($"{path} line {i + 1}: expected 'YYYY-MM-DD,code,units≥0', found '{lines[i]}'");
            }
            if (!bySku.TryGetValue(c[1], out var rows))
            {
                bySku[c[1]] = rows = [];
            }
            rows.Add((week, units));
        }
        return bySku.Select(pair => ToSeries(path, pair.Key, pair.Value)).ToList();
    }

    private static TimeSeries ToSeries(string path, string sku, List<(DateOnly Week, double Units)> rows)
    {
        rows.Sort((a, b) => a.Week.CompareTo(b.Week));
        for (var i = 1; i < rows.Count; i++)
        {
            if (rows[i].Week.DayNumber - rows[i - 1].Week.DayNumber != 7)
            {
                throw new ForecastInputException($"{path}: SKU {sku} has {rows[i - 1].Week:yyyy-MM-dd} then {rows[i].Week:yyyy-MM-dd} (weeks must be consecutive)");
            }
        }
        return new TimeSeries(sku, rows.Select(r => r.Week.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList(),
            rows.Select(r => r.Units).ToArray(), WeeksPerYear);
    }
}

/// <summary>One sale of a SKU: when and how many units.</summary>
public readonly record struct Sale(string Sku, DateTime At, double Units);

/// <summary>Weekly demand per SKU built from individual sales (an order history).</summary>
public static class WeeklyDemand
{
    /// <summary>
    /// Units per SKU per week (weeks start on Monday). Only complete weeks count: the week of the first sale
    /// and the week of the last are left out when the history does not cover them whole (it starts after
    /// their Monday or ends before their Sunday). Each SKU's series starts at its first week with sales and
    /// runs, zeros included, to the last complete week. Sales of non-positive units are ignored.
    /// </summary>
    public static IReadOnlyList<TimeSeries> FromSales(IEnumerable<Sale> sales)
    {
        var bySku = new Dictionary<string, Dictionary<DateOnly, double>>(StringComparer.Ordinal);
        DateTime? first = null, last = null;
        foreach (var sale in sales)
        {
            first = first is null || sale.At < first ? sale.At : first;
            last = last is null || sale.At > last ? sale.At : last;
            if (!(sale.Units > 0))
            {
                continue;
            }
            if (!bySku.TryGetValue(sale.Sku, out var weeks))
            {
                bySku[sale.Sku] = weeks = [];
            }
            var week = Monday(sale.At);
            weeks[week] = weeks.GetValueOrDefault(week) + sale.Units;
        }
        if (first is null || last is null)
        {
            return [];
        }
        var firstWeek = Monday(first.Value) == DateOnly.FromDateTime(first.Value) && first.Value.TimeOfDay == TimeSpan.Zero
            ? Monday(first.Value) : Monday(first.Value).AddDays(7);
        // The last week is complete only when the history reaches its Sunday's end; history is known up to its last sale.
        var lastWeek = DateOnly.FromDateTime(last.Value).DayOfWeek == DayOfWeek.Sunday ? Monday(last.Value) : Monday(last.Value).AddDays(-7);
        var result = new List<TimeSeries>();
        foreach (var (sku, weeks) in bySku.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var start = weeks.Keys.Where(w => w >= firstWeek && w <= lastWeek).DefaultIfEmpty(DateOnly.MaxValue).Min();
            if (start > lastWeek)
            {
                continue; // no sales inside the complete weeks
            }
            var count = (lastWeek.DayNumber - start.DayNumber) / 7 + 1;
            var periods = Enumerable.Range(0, count).Select(i => start.AddDays(7 * i)).ToList();
            result.Add(new TimeSeries(sku, periods.Select(w => w.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList(),
                periods.Select(w => weeks.GetValueOrDefault(w)).ToArray(), WeeklySkuCsv.WeeksPerYear));
        }
        return result;
    }

    private static DateOnly Monday(DateTime at) => WeekStart(DateOnly.FromDateTime(at));

    /// <summary>The Monday of the week <paramref name="day"/> falls in.</summary>
    public static DateOnly WeekStart(DateOnly day) => day.AddDays(-(((int)day.DayOfWeek + 6) % 7));
}
