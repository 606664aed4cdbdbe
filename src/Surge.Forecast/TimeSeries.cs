using System.Globalization;

namespace Surge.Forecast;

/// <summary>A regular series: observations in time order, one per period, and the number of periods in a
/// seasonal cycle (12 for monthly, 4 for quarterly, 1 for none).</summary>
public sealed record TimeSeries(string Name, IReadOnlyList<string> Periods, double[] Values, int SeasonLength)
{
    public int Count => Values.Length;

    /// <summary>The first <paramref name="count"/> observations.</summary>
    public TimeSeries Head(int count) => this with { Periods = Periods.Take(count).ToList(), Values = Values[..count] };

    /// <summary>The observations after the first <paramref name="count"/>.</summary>
    public TimeSeries Tail(int count) => this with { Periods = Periods.Skip(count).ToList(), Values = Values[count..] };
}

/// <summary>Input a forecaster cannot use, with the reason in plain words.</summary>
public sealed class ForecastInputException(string message) : Exception(message);

/// <summary>
/// Reads series files: <c>period,value</c> with periods <c>YYYY-MM</c> (monthly) or <c>YYYY-Qn</c> (quarterly),
/// or Prophet's <c>ds,y</c> with <c>YYYY-MM-DD</c> on the first of each month. Rejects what would give a
/// silent garbage forecast: missing or non-numeric values, NaN or infinity, negative values, gaps or
/// disorder in the periods, mixed frequencies.
/// </summary>
public static class SeriesCsv
{
    public static TimeSeries Read(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count < 2)
        {
            throw new ForecastInputException($"{name}: no data rows");
        }
        var header = lines[0].Trim().ToLowerInvariant();
        if (header is not ("period,value" or "ds,y"))
        {
            throw new ForecastInputException($"{name}: header must be 'period,value' or 'ds,y', not '{lines[0]}'");
        }
        var periods = new List<string>();
        var values = new double[lines.Count - 1];
        var indices = new long[lines.Count - 1];
        var season = 0;
        for (var i = 1; i < lines.Count; i++)
        {
            var cells = lines[i].Split(',');
            if (cells.Length != 2)
            {
                throw new ForecastInputException($"{name} line {i + 1}: expected 2 columns, found {cells.Length}");
            }
            var (index, rowSeason) = ParsePeriod(cells[0].Trim(), name, i + 1);
            if (season != 0 && rowSeason != season)
            {
                throw new ForecastInputException($"{name} line {i + 1}: mixes monthly and quarterly periods");
            }
            season = rowSeason;
            if (!double.TryParse(cells[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                throw new ForecastInputException($"{name} line {i + 1}: '{cells[1]}' is not a finite number");
            }
            if (value < 0)
            {
                throw new ForecastInputException($"{name} line {i + 1}: negative value {value} (demand cannot be negative)");
            }
            if (i > 1 && index != indices[i - 2] + 1)
            {
                throw new ForecastInputException($"{name} line {i + 1}: period {cells[0]} does not follow {periods[^1]} (gap, repeat or disorder)");
            }
            indices[i - 1] = index;
            periods.Add(cells[0].Trim());
            values[i - 1] = value;
        }
        return new TimeSeries(name, periods, values, season);
    }

    /// <summary>A period as a running index (months or quarters since year 0) and its season length.</summary>
    private static (long Index, int Season) ParsePeriod(string text, string name, int line)
    {
        var parts = text.Split('-');
        if (parts.Length >= 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var year))
        {
            if (parts.Length == 2 && parts[1].Length == 2 && parts[1][0] == 'Q' && parts[1][1] is >= '1' and <= '4')
            {
                return (year * 4L + (parts[1][1] - '1'), 4);
            }
            if (parts.Length is 2 or 3 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var month)
                && month is >= 1 and <= 12 && (parts.Length == 2 || parts[2] == "01"))
            {
                return (year * 12L + month - 1, 12);
            }
        }
        throw new ForecastInputException($"{name} line {line}: '{text}' is not a period (YYYY-MM, YYYY-Qn or YYYY-MM-01)");
    }
}
