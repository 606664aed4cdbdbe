using System.Globalization;

namespace Surge.Forecast;

/// <summary>
/// Seasonal series drawn from documented random processes, for checking that a way of choosing a model holds on
/// data it was never shown (the five shared benchmark series are too few to choose on). Every draw comes from
/// one seeded <see cref="Random"/>, so a seed gives the same files. Half the series are monthly (72–180
/// observations), half quarterly (32–80). The processes, in turn:
/// <list type="bullet">
/// <item><c>airline</c>: the log of the series is SARIMA(0,1,1)(0,1,1)[m] (Box &amp; Jenkins' airline model), θ ∈ [−0.7, −0.2],
/// Θ ∈ [−0.8, −0.3], σ ∈ [0.02, 0.06];</item>
/// <item><c>ets-mnm</c>: ETS(M,N,M), α ∈ [0.05, 0.4], γ ∈ [0.01, 0.2], σ ∈ [0.03, 0.1], seasonal amplitude 10–40 %;</item>
/// <item><c>ets-madm</c>: ETS(M,Ad,M), as ets-mnm plus a damped trend (β ∈ [0.01, 0.1], φ ∈ [0.85, 0.98], start slope ±1 % of the level);</item>
/// <item><c>trend-ar</c>: a straight line (slope ±0.5 % of the level per period) plus additive seasonality plus AR(1) noise (φ ∈ [0.3, 0.9]);</item>
/// <item><c>drift</c>: a random walk with drift and a weak season (amplitude 0–10 %), noise 2–5 % of the level.</item>
/// </list>
/// Values are kept at or above 1 % of the starting level so that multiplicative models apply.
/// </summary>
public static class SeriesGenerator
{
    public static readonly string[] Processes = ["airline", "ets-mnm", "ets-madm", "trend-ar", "drift"];

    public static IReadOnlyList<TimeSeries> Generate(int count, int seed)
    {
        var random = new Random(seed);
        var series = new List<TimeSeries>(count);
        for (var i = 0; i < count; i++)
        {
            var process = Processes[i % Processes.Length];
            var m = i / Processes.Length % 2 == 0 ? 12 : 4;
            var n = m == 12 ? random.Next(72, 181) : random.Next(32, 81);
            var values = Draw(process, m, n, random);
            var periods = Enumerable.Range(0, n).Select(t => m == 12
                ? string.Create(CultureInfo.InvariantCulture, $"{2000 + t / 12}-{t % 12 + 1:00}")
                : string.Create(CultureInfo.InvariantCulture, $"{2000 + t / 4}-Q{t % 4 + 1}")).ToList();
            series.Add(new TimeSeries($"gen-{i:000}-{process}-m{m}", periods, values, m));
        }
        return series;
    }

    private static double Uniform(Random r, double lo, double hi) => lo + (hi - lo) * r.NextDouble();

    private static double Normal(Random r)
    {
        var u1 = 1.0 - r.NextDouble();
        var u2 = r.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A seasonal shape: a sine of the given amplitude with a random phase, plus 5 % noise per position.</summary>
    private static double[] Shape(Random r, int m, double amplitude)
    {
        var phase = Uniform(r, 0, 2 * Math.PI);
        return Enumerable.Range(0, m).Select(i => amplitude * Math.Sin(2 * Math.PI * i / m + phase) + 0.05 * amplitude * Normal(r)).ToArray();
    }

    private static double[] Draw(string process, int m, int n, Random r)
    {
        var start = Uniform(r, 100, 1000);
        var y = new double[n];
        switch (process)
        {
            case "airline":
            {
                var (theta, seasonalTheta, sigma) = (Uniform(r, -0.7, -0.2), Uniform(r, -0.8, -0.3), Uniform(r, 0.02, 0.06));
                var shape = Shape(r, m, Uniform(r, 0.1, 0.3));
                var log = new double[n];
                var e = new double[n];
                var drift = Uniform(r, -0.002, 0.008);
                for (var t = 0; t < n; t++)
                {
                    e[t] = sigma * Normal(r);
                    if (t < m + 1)
                    {
                        log[t] = Math.Log(start) + shape[t % m] + drift * t + e[t];
                        continue;
                    }
                    // (1 − B)(1 − B^m) log y = (1 + θB)(1 + ΘB^m) e
                    log[t] = log[t - 1] + log[t - m] - log[t - m - 1] + e[t] + theta * e[t - 1] + seasonalTheta * e[t - m] + theta * seasonalTheta * e[t - m - 1];
                }
                for (var t = 0; t < n; t++)
                {
                    y[t] = Math.Exp(log[t]);
                }
                break;
            }
            case "ets-mnm" or "ets-madm":
            {
                var damped = process == "ets-madm";
                var (alpha, gamma, sigma) = (Uniform(r, 0.05, 0.4), Uniform(r, 0.01, 0.2), Uniform(r, 0.03, 0.1));
                gamma = Math.Min(gamma, 1 - alpha);
                var (beta, phi) = damped ? (Uniform(r, 0.01, 0.1) * alpha, Uniform(r, 0.85, 0.98)) : (0, 0);
                var seasons = Shape(r, m, Uniform(r, 0.1, 0.4)).Select(v => 1 + v).ToArray();
                var (level, slope) = (start, damped ? start * Uniform(r, -0.01, 0.01) : 0);
                for (var t = 0; t < n; t++)
                {
                    var s = seasons[t % m];
                    var baseLevel = level + phi * slope;
                    var mu = baseLevel * s;
                    var epsilon = sigma * Normal(r);
                    y[t] = mu * (1 + epsilon);
                    level = baseLevel * (1 + alpha * epsilon);
                    slope = phi * slope + beta * baseLevel * epsilon;
                    seasons[t % m] = s * (1 + gamma * epsilon);
                    level = Math.Max(level, 0.01 * start);
                }
                break;
            }
            case "trend-ar":
            {
                var (slope, phi, sigma) = (start * Uniform(r, -0.005, 0.005), Uniform(r, 0.3, 0.9), start * Uniform(r, 0.02, 0.06));
                var shape = Shape(r, m, Uniform(r, 0.05, 0.3)).Select(v => v * start).ToArray();
                double noise = 0;
                for (var t = 0; t < n; t++)
                {
                    noise = phi * noise + sigma * Normal(r);
                    y[t] = start + slope * t + shape[t % m] + noise;
                }
                break;
            }
            default:
            {
                var (drift, sigma) = (start * Uniform(r, -0.003, 0.006), start * Uniform(r, 0.02, 0.05));
                var shape = Shape(r, m, Uniform(r, 0, 0.1)).Select(v => v * start).ToArray();
                var walk = start;
                for (var t = 0; t < n; t++)
                {
                    walk += drift + sigma * Normal(r);
                    y[t] = walk + shape[t % m];
                }
                break;
            }
        }
        for (var t = 0; t < n; t++)
        {
            y[t] = Math.Round(Math.Max(y[t], 0.01 * start), 3);
        }
        return y;
    }

    /// <summary>Writes each series as <c>NAME.csv</c> (<c>period,value</c>) in <paramref name="directory"/>.</summary>
    public static void Write(IEnumerable<TimeSeries> series, string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var s in series)
        {
            var lines = new List<string>(s.Count + 1) { "period,value" };
            lines.AddRange(s.Periods.Zip(s.Values, (p, v) => string.Create(CultureInfo.InvariantCulture, $"{p},{v}")));
            File.WriteAllLines(Path.Combine(directory, s.Name + ".csv"), lines);
        }
    }
}
