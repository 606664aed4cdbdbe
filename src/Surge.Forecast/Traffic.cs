using System.Globalization;

namespace Surge.Forecast;

/// <summary>Orders per hour read from an order history, with the rows that could not be used counted.</summary>
public sealed record HourlyOrders(TimeSeries Series, long Rows, long MalformedRows, long CancellationRows);

/// <summary>
/// The traffic forecast for capacity planning: orders per hour for the next hours. A shop's traffic repeats
/// by hour of the week (closed nights and days included), so each future hour is forecast as the mean of the
/// same hour of the week over the last <see cref="WeeksUsed"/> weeks, with a normal interval from their spread
/// (cut at zero). Simple, robust, and what an autoscaler needs: the shape of the next peak, with a margin.
/// </summary>
public static class Traffic
{
    public const int HoursPerWeek = 168;
    public const int WeeksUsed = 4;

    /// <summary>Reads an Online Retail style CSV (optionally .gz; Online Retail II's Invoice column as well): InvoiceNo, StockCode, Description, Quantity,
    /// InvoiceDate (ISO, local time), UnitPrice, CustomerID, Country. An hour's orders are its distinct
    /// invoices; cancellations (InvoiceNo starting with C or A) are left out; malformed rows are counted, not fatal.</summary>
    public static HourlyOrders ReadHourlyOrders(string path)
    {
        using var reader = Csv.OpenText(path);
        var header = reader.ReadLine() ?? throw new ForecastInputException($"{path}: empty file");
        var columns = Csv.Split(header);
        var invoiceAt = Array.IndexOf(columns, "InvoiceNo") is var named and >= 0 ? named : Array.IndexOf(columns, "Invoice"); // Online Retail II says Invoice
        var dateAt = Array.IndexOf(columns, "InvoiceDate");
        if (invoiceAt < 0 || dateAt < 0)
        {
            throw new ForecastInputException($"{path}: needs the columns InvoiceNo (or Invoice) and InvoiceDate");
        }
        var invoicesByHour = new Dictionary<DateTime, HashSet<string>>();
        long rows = 0, malformed = 0, cancellations = 0;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            rows++;
            var cells = Csv.Split(line);
            if (cells.Length != columns.Length
                || !DateTime.TryParse(cells[dateAt], CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)
                || cells[invoiceAt].Length == 0)
            {
                malformed++;
                continue;
            }
            if (cells[invoiceAt][0] is 'C' or 'A')
            {
                cancellations++;
                continue;
            }
            var hour = new DateTime(at.Year, at.Month, at.Day, at.Hour, 0, 0, DateTimeKind.Unspecified);
            if (!invoicesByHour.TryGetValue(hour, out var invoices))
            {
                invoicesByHour[hour] = invoices = new HashSet<string>(StringComparer.Ordinal);
            }
            invoices.Add(cells[invoiceAt]);
        }
        if (invoicesByHour.Count == 0)
        {
            throw new ForecastInputException($"{path}: no usable orders ({malformed} malformed rows)");
        }
        var first = invoicesByHour.Keys.Min();
        var hours = (int)(invoicesByHour.Keys.Max() - first).TotalHours + 1;
        var periods = new List<string>(hours);
        var values = new double[hours];
        for (var i = 0; i < hours; i++)
        {
            var hour = first.AddHours(i);
            periods.Add(hour.ToString("yyyy-MM-ddTHH:00", CultureInfo.InvariantCulture));
            values[i] = invoicesByHour.TryGetValue(hour, out var set) ? set.Count : 0;
        }
        return new HourlyOrders(new TimeSeries("orders per hour", periods, values, HoursPerWeek), rows, malformed, cancellations);
    }

    /// <summary>Orders per hour for the next <paramref name="hours"/> hours.</summary>
    public static Forecast Predict(TimeSeries hourly, int hours)
    {
        if (hourly.Count < HoursPerWeek * WeeksUsed)
        {
            throw new ForecastInputException($"{hourly.Name}: {hourly.Count} hours are too few (need {WeeksUsed} weeks = {HoursPerWeek * WeeksUsed})");
        }
        if (hours is < 1 or > HoursPerWeek)
        {
            throw new ForecastInputException($"horizon must be 1–{HoursPerWeek} hours, not {hours}");
        }
        var n = hourly.Count;
        var mean = new double[hours];
        var (lo80, hi80, lo95, hi95) = (new double[hours], new double[hours], new double[hours], new double[hours]);
        for (var h = 0; h < hours; h++)
        {
            var same = Enumerable.Range(1, WeeksUsed).Select(w => hourly.Values[n + h - w * HoursPerWeek]).ToArray();
            var average = same.Average();
            var sd = Math.Sqrt(same.Sum(v => (v - average) * (v - average)) / (same.Length - 1));
            mean[h] = average;
            (lo80[h], hi80[h]) = (Math.Max(0, average - NormalZ.Z80 * sd), average + NormalZ.Z80 * sd);
            (lo95[h], hi95[h]) = (Math.Max(0, average - NormalZ.Z95 * sd), average + NormalZ.Z95 * sd);
        }
        return new Forecast($"mean of the same hour over {WeeksUsed} weeks", mean, lo80, hi80, lo95, hi95);
    }
}
