using System.Globalization;

namespace Surge.Autoscale.Actuators;

/// <summary>
/// The live signals of a cluster, read from each silo's Prometheus `/metrics`: orders per second and the share refused
/// for want of capacity (from counter increments between two reads), the deepest partition queue, and the mean share
/// of its processors each silo's process kept busy (silos sharing one machine share its processors, so there it
/// says little). Business refusals (sold out, limits) are not a capacity signal and are left out.
/// </summary>
public sealed class SiloSignals(HttpClient http)
{
    /// <summary>Refusal codes that mean "no room": the answer a bigger cluster would not have given.</summary>
    public static readonly IReadOnlySet<string> CapacityRefusals = new HashSet<string>(StringComparer.Ordinal)
    {
        "silo_capacity", "node_saturated", "partition_overloaded", "partition_unavailable", "deadline_exceeded", "draining",
    };

    private readonly Dictionary<Uri, (DateTimeOffset At, double Accepted, double Refused, double CpuSeconds)> _last = [];

    /// <summary>Reads every silo (in parallel; a silo that does not answer is left out) and returns the signals
    /// since the previous read of each.</summary>
    public async Task<ClusterSignals> ReadAsync(IReadOnlyList<Uri> silos, int target, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var reads = await Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                return (silo, Text: await http.GetStringAsync(new Uri(silo, "metrics"), cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return (silo, Text: (string?)null);
            }
        })).ConfigureAwait(false);
        double ordersPerS = 0, refusedPerS = 0, queue = 0, cpuShares = 0;
        var cpuSilos = 0;
        foreach (var (silo, text) in reads)
        {
            if (text is null)
            {
                continue;
            }
            var accepted = Sum(text, "surge_orders_accepted_total");
            var refused = Sum(text, "surge_orders_rejected_total", labels => CapacityRefusals.Contains(Label(labels, "reason") ?? ""));
            queue = Math.Max(queue, Max(text, "surge_partition_queued_commands"));
            var cpuSeconds = Sum(text, "surge_process_cpu_seconds_total");
            if (_last.TryGetValue(silo, out var last) && now > last.At && accepted >= last.Accepted)
            {
                var seconds = (now - last.At).TotalSeconds;
                var refusedDelta = refused - last.Refused;
                ordersPerS += (accepted - last.Accepted + refusedDelta) / seconds;
                refusedPerS += refusedDelta / seconds;
                if (cpuSeconds >= last.CpuSeconds)
                {
                    cpuShares += Math.Min(1, (cpuSeconds - last.CpuSeconds) / seconds / Math.Max(1, Max(text, "surge_process_cpus")));
                    cpuSilos++;
                }
            }
            _last[silo] = (now, accepted, refused, cpuSeconds);
        }
        return new ClusterSignals(now, target, ordersPerS, ordersPerS <= 0 ? 0 : refusedPerS / ordersPerS, queue, cpuSilos == 0 ? 0 : cpuShares / cpuSilos);
    }

    /// <summary>The sum of a metric's samples (optionally those whose labels pass <paramref name="where"/>).</summary>
    public static double Sum(string text, string metric, Func<string, bool>? where = null) => Samples(text, metric, where).Sum();

    public static double Max(string text, string metric) => Samples(text, metric, null).DefaultIfEmpty(0).Max();

    /// <summary>The partitions a silo hosts now (<c>surge_partition_hosted{partition="N"} 1</c>), in order.</summary>
    public static int[] HostedPartitions(string text) => LabelledSamples(text, "surge_partition_hosted", null)
        .Where(s => s.Value == 1 && int.TryParse(Label(s.Labels, "partition"), CultureInfo.InvariantCulture, out _))
        .Select(s => int.Parse(Label(s.Labels, "partition")!, CultureInfo.InvariantCulture))
        .Order()
        .ToArray();

    /// <summary>Whether the partitions are spread over the silos: each of 0..<paramref name="partitions"/>-1 hosted
    /// by exactly one of them, and each silo holding at least its share (⌊partitions / silos⌋).</summary>
    public static bool Spread(IReadOnlyList<int[]> hostedBySilo, int partitions)
    {
        var all = hostedBySilo.SelectMany(h => h).ToArray();
        return all.Length == partitions && all.Distinct().Count() == partitions
            && hostedBySilo.All(h => h.Length >= partitions / Math.Max(1, hostedBySilo.Count));
    }

    private static IEnumerable<double> Samples(string text, string metric, Func<string, bool>? where) =>
        LabelledSamples(text, metric, where).Select(s => s.Value);

    private static IEnumerable<(string Labels, double Value)> LabelledSamples(string text, string metric, Func<string, bool>? where)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || !line.StartsWith(metric, StringComparison.Ordinal))
            {
                continue;
            }
            var rest = line[metric.Length..];
            string labels = "";
            if (rest.StartsWith('{'))
            {
                var close = rest.IndexOf('}', StringComparison.Ordinal);
                if (close < 0)
                {
                    continue;
                }
                labels = rest[1..close];
                rest = rest[(close + 1)..];
            }
            else if (rest.Length == 0 || rest[0] != ' ')
            {
                continue; // another metric whose name begins with this one
            }
            var value = rest.Trim().Split(' ')[0];
            if ((where is null || where(labels)) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                yield return (labels, number);
            }
        }
    }

    /// <summary>A label's value in <c>a="x",b="y"</c>, or null.</summary>
    public static string? Label(string labels, string name)
    {
        var key = name + "=\"";
        var start = labels.IndexOf(key, StringComparison.Ordinal);
        if (start < 0 || (start > 0 && labels[start - 1] != ','))
        {
            return null;
        }
        start += key.Length;
        var end = labels.IndexOf('"', start);
        return end < 0 ? null : labels[start..end];
    }
}
