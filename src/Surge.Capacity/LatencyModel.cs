using MathNet.Numerics;

namespace Surge.Capacity;

/// <summary>
/// A silo's latency at a utilization, from the measured curve: p50 and p99 interpolated linearly between the measured
/// points (held at the ends), the distribution between them taken as log-normal (median p50, σ from p99/p50) so that
/// the share of orders slower than a bound can be read at any bound. Waiting (a queue, a partition moving, a
/// replication round trip) adds to every order's latency.
/// </summary>
public sealed class LatencyModel
{
    private const double Z99 = 2.3263478740408408;
    private readonly LatencyPoint[] _curve;

    public LatencyModel(IReadOnlyList<LatencyPoint> curve)
    {
        if (curve.Count == 0)
        {
            throw new ArgumentException("a latency curve needs at least one point");
        }
        _curve = [.. curve.OrderBy(p => p.Utilization)];
    }

    /// <summary>p50 and p99 (ms) at <paramref name="utilization"/> of the silo's capacity.</summary>
    public (double P50Ms, double P99Ms) At(double utilization)
    {
        if (utilization <= _curve[0].Utilization)
        {
            return (_curve[0].P50Ms, _curve[0].P99Ms);
        }
        for (var i = 1; i < _curve.Length; i++)
        {
            if (utilization <= _curve[i].Utilization)
            {
                var (a, b) = (_curve[i - 1], _curve[i]);
                var w = (utilization - a.Utilization) / (b.Utilization - a.Utilization);
                return (a.P50Ms + w * (b.P50Ms - a.P50Ms), a.P99Ms + w * (b.P99Ms - a.P99Ms));
            }
        }
        return (_curve[^1].P50Ms, _curve[^1].P99Ms);
    }

    /// <summary>Share (0..1) of orders slower than <paramref name="boundMs"/> at <paramref name="utilization"/>, when
    /// each also waits <paramref name="addedMs"/>.</summary>
    public double ShareSlowerThan(double boundMs, double utilization, double addedMs = 0)
    {
        var room = boundMs - addedMs;
        if (room <= 0)
        {
            return 1;
        }
        var (p50, p99) = At(utilization);
        if (p99 <= p50)
        {
            return p50 > room ? 1 : 0;
        }
        var sigma = Math.Log(p99 / p50) / Z99;
        var z = (Math.Log(room) - Math.Log(p50)) / sigma;
        return 0.5 * SpecialFunctions.Erfc(z / Math.Sqrt(2));
    }
}
