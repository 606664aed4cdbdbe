using System.Globalization;

namespace Surge.Autoscale.Actuators;

/// <summary>Orders per minute of earlier days (CSV <c>minute,orders</c>) as the daily profile, and its forecast.</summary>
public static class OrderHistory
{
    public const int MinutesPerDay = 24 * 60;

    public static DailyProfile ReadProfile(string path)
    {
        var days = new SortedDictionary<DateOnly, double[]>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (lineNumber == 1 && line.StartsWith("minute", StringComparison.OrdinalIgnoreCase) || line.Length == 0)
            {
                continue;
            }
            var parts = line.Split(',');
            if (parts.Length != 2 || !DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var minute)
                || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var orders) || orders < 0)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: expected `minute,orders` (ISO time, a count ≥ 0), not '{line}'");
            }
            var utc = minute.UtcDateTime;
            var day = DateOnly.FromDateTime(utc);
            if (!days.TryGetValue(day, out var slots))
            {
                days[day] = slots = new double[MinutesPerDay];
            }
            slots[utc.Hour * 60 + utc.Minute] += orders;
        }
        return days.Count < 2 ? throw new InvalidDataException($"{path}: at least two days of history are needed, found {days.Count}") : DailyProfile.Fit(days.Values.ToList());
    }

    /// <summary>The profile's minutes from <paramref name="from"/> over <paramref name="horizon"/>, in orders per second.</summary>
    public static IReadOnlyList<LoadForecast> Forecast(DailyProfile profile, DateTimeOffset from, TimeSpan horizon)
    {
        var start = new DateTimeOffset(from.UtcDateTime.Date, TimeSpan.Zero).AddMinutes(Math.Floor(from.UtcDateTime.TimeOfDay.TotalMinutes));
        var points = new List<LoadForecast>();
        for (var at = start; at <= from + horizon; at = at.AddMinutes(1))
        {
            var slot = (at.UtcDateTime.Hour * 60 + at.UtcDateTime.Minute) % profile.Slots;
            points.Add(new LoadForecast(at, profile.Mean[slot] / 60, profile.Upper[slot] / 60));
        }
        return points;
    }
}
