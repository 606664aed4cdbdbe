using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Surge.Capacity;

/// <summary>One point of a silo's latency curve: at this share of its capacity, the median and 99th percentile of an
/// order's latency (from when it was due to its acknowledgement).</summary>
public sealed record LatencyPoint(double Utilization, double P50Ms, double P99Ms);

/// <summary>
/// What the simulator knows about one silo and the cluster's rules, each number measured on a real machine by
/// `./surge sim calibrate` (or set by hand for a what-if) — see <see cref="Sources"/> for where each came from.
/// Times in seconds, rates in orders per second.
/// </summary>
public sealed record SiloCalibration
{
    /// <summary>Single orders per second one silo sustains (its front end and its share of the partitions).</summary>
    public double SiloOrdersPerS { get; init; }

    /// <summary>Latency at shares of <see cref="SiloOrdersPerS"/>, ascending by utilization.</summary>
    public IReadOnlyList<LatencyPoint> LatencyCurve { get; init; } = [];

    /// <summary>From asking for a silo to its serving (process start, cluster join, ready).</summary>
    public double StartupS { get; init; }

    /// <summary>How long a partition cannot answer while it moves between two live silos (deactivate, recover on the other).</summary>
    public double MoveS { get; init; }

    /// <summary>From a silo's death to the last of its partitions answering on another silo (detection + recovery).</summary>
    public double FailoverS { get; init; }

    /// <summary>From telling a silo to drain to its process leaving (billed until then).</summary>
    public double DrainS { get; init; }

    /// <summary>Longest an order waits for a partition or a queue before it is answered 503 (`Http:RequestDeadline`).</summary>
    public double RequestDeadlineS { get; init; } = 2;

    /// <summary>A silo's admission cap (`serve --capacity`, orders/s; 0 = none: excess queues up to the deadline).</summary>
    public double AdmissionCapOrdersPerS { get; init; }

    /// <summary>The machine, the date and the command the numbers come from.</summary>
    public string Machine { get; init; } = "";
    public string MeasuredAt { get; init; } = "";
    public string Command { get; init; } = "";

    /// <summary>For each parameter (by its JSON name), where its value came from.</summary>
    public IReadOnlyDictionary<string, string> Sources { get; init; } = new Dictionary<string, string>();

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The calibration measured on the reference machine (config/sim-calibration.json, built in).</summary>
    public static SiloCalibration Default
    {
        get
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("sim-calibration.json")
                ?? throw new InvalidOperationException("the built-in calibration is missing");
            return Parse(new StreamReader(stream).ReadToEnd(), "the built-in calibration");
        }
    }

    /// <summary>Reads a parameter file; a file that is not valid JSON or breaks a bound is an
    /// <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static SiloCalibration Parse(string json, string what)
    {
        SiloCalibration? read;
        try
        {
            read = JsonSerializer.Deserialize<SiloCalibration>(json, Json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{what} is not a calibration file: {e.Message}");
        }
        if (read is null)
        {
            throw new ArgumentException($"{what} is empty");
        }
        read.Validate(what);
        return read;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Validate(string what = "the calibration")
    {
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException($"{what}: {message}");
            }
        }
        Require(SiloOrdersPerS > 0, "silo_orders_per_s must be positive");
        Require(LatencyCurve.Count > 0, "latency_curve needs at least one point");
        Require(LatencyCurve.All(p => p.Utilization >= 0 && p.P50Ms > 0 && p.P99Ms >= p.P50Ms),
            "every latency point needs utilization ≥ 0 and 0 < p50_ms ≤ p99_ms");
        Require(LatencyCurve.Zip(LatencyCurve.Skip(1)).All(p => p.First.Utilization < p.Second.Utilization), "latency_curve must ascend by utilization");
        Require(StartupS >= 0 && MoveS >= 0 && FailoverS >= 0 && DrainS >= 0, "startup_s, move_s, failover_s and drain_s cannot be negative");
        Require(RequestDeadlineS > 0, "request_deadline_s must be positive");
        Require(AdmissionCapOrdersPerS >= 0, "admission_cap_orders_per_s cannot be negative");
    }
}
