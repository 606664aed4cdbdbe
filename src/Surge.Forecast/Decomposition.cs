namespace Surge.Forecast;

/// <summary>Classical decomposition (moving averages): the seasonal indices of a series.</summary>
public static class Decomposition
{
    /// <summary>
    /// Seasonal indices of the first <paramref name="count"/> observations: each observation against the centred
    /// moving average of one cycle around it (2×m for an even m), averaged by position in the cycle, then
    /// normalised to sum 0 (additive) or average 1 (multiplicative). Index i belongs to positions t with
    /// t mod m = i. Positions the moving average never reaches get 0 or 1.
    /// </summary>
    public static double[] SeasonalIndices(ReadOnlySpan<double> y, int m, SeasonType season, int count)
    {
        if (season == SeasonType.None || m < 2)
        {
            throw new ArgumentException("seasonal indices need a seasonal type and a cycle of at least 2", nameof(season));
        }
        var n = Math.Min(y.Length, count);
        var sums = new double[m];
        var counts = new int[m];
        var half = m / 2;
        for (var t = half; t + half < n; t++)
        {
            var average = CentredMovingAverage(y, m, t);
            sums[t % m] += season == SeasonType.Additive ? y[t] - average : y[t] / average;
            counts[t % m]++;
        }
        var neutral = season == SeasonType.Additive ? 0.0 : 1.0;
        var indices = new double[m];
        for (var i = 0; i < m; i++)
        {
            indices[i] = counts[i] > 0 ? sums[i] / counts[i] : neutral;
        }
        var mean = indices.Average();
        for (var i = 0; i < m; i++)
        {
            indices[i] = season == SeasonType.Additive ? indices[i] - mean : indices[i] / mean;
        }
        return indices;
    }

    /// <summary>The centred moving average of one cycle around position <paramref name="t"/> (2×m with the ends at
    /// half weight for an even m); needs m/2 observations either side.</summary>
    public static double CentredMovingAverage(ReadOnlySpan<double> y, int m, int t)
    {
        var half = m / 2;
        double sum = 0;
        if (m % 2 == 0)
        {
            sum = 0.5 * (y[t - half] + y[t + half]); // the ends with half weight
            for (var k = t - half + 1; k < t + half; k++)
            {
                sum += y[k];
            }
        }
        else
        {
            for (var k = t - half; k <= t + half; k++)
            {
                sum += y[k];
            }
        }
        return sum / m;
    }

    /// <summary>Least-squares line through <paramref name="values"/> at times 1..n: its value at time 0 and its slope.</summary>
    public static (double Intercept, double Slope) Line(ReadOnlySpan<double> values)
    {
        var n = values.Length;
        double meanX = (n + 1) / 2.0, meanY = 0;
        foreach (var v in values)
        {
            meanY += v;
        }
        meanY /= n;
        double sxy = 0, sxx = 0;
        for (var i = 0; i < n; i++)
        {
            var dx = i + 1 - meanX;
            sxy += dx * (values[i] - meanY);
            sxx += dx * dx;
        }
        var slope = sxx > 0 ? sxy / sxx : 0;
        return (meanY - slope * meanX, slope);
    }
}
