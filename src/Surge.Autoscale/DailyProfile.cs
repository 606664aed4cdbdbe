namespace Surge.Autoscale;

/// <summary>
/// The traffic forecast the predictive controller reads: the order rate by time of day learnt from earlier days of
/// the cluster's own order history (orders per slot, e.g. per minute, one array per day). For each slot: the mean over
/// the days, and an upper bound of the mean plus <c>z</c> standard deviations of the day-to-day spread (never below
/// Poisson noise, √mean), taken as the largest over ±<c>window</c> slots so that a peak a little early or late is still
/// covered. A seasonal profile is the right model for a day whose shape repeats (a sale at midnight, an evening bump);
/// one with a trend or a new event needs the reactive part.
/// </summary>
public sealed class DailyProfile
{
    private DailyProfile(double[] mean, double[] upper) => (Mean, Upper) = (mean, upper);

    /// <summary>Expected orders per slot.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Upper bound of orders per slot.</summary>
    public IReadOnlyList<double> Upper { get; }

    public int Slots => Mean.Count;

    public static DailyProfile Fit(IReadOnlyList<double[]> days, double z = 2.0, int window = 2)
    {
        if (days.Count < 2)
        {
            throw new ArgumentException("a daily profile needs at least two days of history");
        }
        var slots = days[0].Length;
        if (slots == 0 || days.Any(d => d.Length != slots))
        {
            throw new ArgumentException("every day of history must have the same number of slots (at least one)");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(z);
        ArgumentOutOfRangeException.ThrowIfNegative(window);
        var mean = new double[slots];
        var spread = new double[slots];
        for (var s = 0; s < slots; s++)
        {
            var m = days.Average(d => d[s]);
            var variance = days.Sum(d => (d[s] - m) * (d[s] - m)) / (days.Count - 1);
            mean[s] = m;
            spread[s] = m + z * Math.Max(Math.Sqrt(variance), Math.Sqrt(Math.Max(m, 0)));
        }
        var upper = new double[slots];
        for (var s = 0; s < slots; s++)
        {
            var highest = 0.0;
            for (var k = Math.Max(0, s - window); k <= Math.Min(slots - 1, s + window); k++)
            {
                highest = Math.Max(highest, spread[k]);
            }
            upper[s] = highest;
        }
        return new DailyProfile(mean, upper);
    }
}
