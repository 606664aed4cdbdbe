using Surge.Autoscale;

namespace Surge.Capacity;

/// <summary>
/// The shape of a Double-11 day, as a multiple of a quiet night's order rate: a background that follows the local
/// clock (quiet night, busier day, calmer late evening), an evening bump around 20:30 local time, and the sale's
/// spike — about 19× the night — that starts at midnight in the sale's time zone (UTC+8) for every region at the
/// same instant, ramps in two minutes and decays over about 25. The same shape drives `bench elastic` (compressed)
/// and `sim day` (real time).
/// </summary>
public static class SaleDay
{
    /// <summary>The simulated day starts at 22:00 in the sale's time zone, so the spike comes two hours in.</summary>
    public const double StartsAtHour = 22;

    /// <summary>The sale's time zone (UTC+8, the hour Double-11 opens).</summary>
    public const double SaleUtcOffsetHours = 8;

    /// <summary>Orders per second at a time of day (hour of the sale's clock, 0–24) for a region in the sale's time zone.</summary>
    public static double Shape(double clockHour) => Shape(clockHour, SaleUtcOffsetHours);

    /// <summary>Orders per second at a sale-clock hour for a region whose clock is <paramref name="utcOffsetHours"/>:
    /// background and evening bump by its local clock, the spike by the sale's.</summary>
    public static double Shape(double saleClockHour, double utcOffsetHours)
    {
        var sale = Wrap(saleClockHour);
        var local = Wrap(saleClockHour + utcOffsetHours - SaleUtcOffsetHours);
        double background = local switch
        {
            < 7 => 1.0,
            < 9 => 1.0 + (local - 7) / 2 * 1.5,
            < 19 => 2.5,
            < 22 => 2.5 - (local - 19) / 3 * 1.0,
            _ => 1.5,
        };
        var sinceMidnightMin = sale * 60;
        var spike = sale < 2 ? 19.0 * Math.Min(1, sinceMidnightMin / 2) * Math.Exp(-sinceMidnightMin / 25) : 0;
        var bump = 4.0 * Math.Exp(-Math.Pow((local - 20.5) / 0.7, 2) / 2);
        return background + spike + bump;
    }

    private static double Wrap(double hour) => ((hour % 24) + 24) % 24;

    /// <summary>
    /// Earlier days of a cluster's order history, orders per minute: the expected count of each minute
    /// (<paramref name="meanPerMinute"/>), each day a little busier or quieter than the last (±6 %), with Poisson-sized
    /// noise, and the <see cref="DailyProfile"/> learnt from them (what the predictive controller reads).
    /// <paramref name="bias"/> scales the history: −0.3 gives a forecast 30 % below the day that comes.
    /// </summary>
    public static DailyProfile History(Func<int, double> meanPerMinute, int days, int seed, double bias = 0)
    {
        var random = new Random(seed);
        var history = new List<double[]>();
        for (var d = 0; d < days; d++)
        {
            var level = (1 + 0.06 * Normal(random)) * (1 + bias);
            history.Add(Enumerable.Range(0, 24 * 60).Select(m =>
            {
                var mean = meanPerMinute(m) * level;
                return Math.Max(0, mean + Math.Sqrt(mean) * Normal(random));
            }).ToArray());
        }
        return DailyProfile.Fit(history);
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
