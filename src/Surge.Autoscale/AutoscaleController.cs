namespace Surge.Autoscale;

/// <summary>How the controller decides: the three ways the elastic benchmark compares.</summary>
public enum ScalingMode
{
    /// <summary>Always <see cref="AutoscaleOptions.SilosMax"/>: capacity owned for the peak all day.</summary>
    FixedPeak,

    /// <summary>Live signals only: scale out when silos are saturated or refusing, in when they idle.</summary>
    Reactive,

    /// <summary>The traffic forecast sets a floor ahead of time; live signals add to it.</summary>
    PredictiveReactive,
}

/// <summary>Bounds and thresholds of the controller, each with its unit.</summary>
public sealed record AutoscaleOptions
{
    public int SilosMin { get; init; } = 1;
    public int SilosMax { get; init; } = 8;

    /// <summary>Orders per second one silo takes at its cap (measured, or the cap it is given).</summary>
    public double SiloOrdersPerSMax { get; init; } = 5_000;

    /// <summary>Share of a silo's capacity to plan for (the rest is headroom for the forecast's error).</summary>
    public double TargetUtilization { get; init; } = 0.7;

    /// <summary>How far ahead the forecast is read: the time a new silo needs to start and take partitions over.</summary>
    public TimeSpan LeadTime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Least time between two scale-outs (lets the last one take effect before judging again).</summary>
    public TimeSpan ScaleOutCooldown { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Least time since the last change before a scale-in (scale-in is cheap to delay, costly to undo).</summary>
    public TimeSpan ScaleInCooldown { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Most a scale-out made for the forecast alone adds, as a share of the silos there are (0.25 = a quarter more;
    /// +∞ = no bound). New silos take partitions over, and a partition that moves cannot answer for a while: growing
    /// ahead of the forecast in steps keeps the share of partitions moving at once small (`sim day` measures it). A
    /// scale-out for the load measured now is never bounded. The forecast's later needs then count early enough for the
    /// steps to arrive in time (within <see cref="LeadTime"/>, which must be long enough for them).</summary>
    public double ForecastStepMax { get; init; } = double.PositiveInfinity;

    /// <summary>Share of the silos one scale-in may drain (0 = one silo at a time). One at a time suits a few silos; at a
    /// thousand, one every <see cref="ScaleInCooldown"/> would keep the peak's silos for days (`sim day` shows it).</summary>
    public double ScaleInStepShare { get; init; }

    /// <summary>Share of orders refused (429/503) above which silos are saturated (0..1).</summary>
    public double RejectShareHigh { get; init; } = 0.01;

    /// <summary>Commands waiting per partition above which silos are saturated.</summary>
    public double QueueDepthHigh { get; init; } = 1_000;

    /// <summary>CPU share of the busiest silo above which it is saturated (0..1).</summary>
    public double CpuHigh { get; init; } = 0.85;

    public void Validate()
    {
        if (SilosMin < 1 || SilosMax < SilosMin)
        {
            throw new ArgumentException($"silos: need 1 ≤ min ≤ max, not {SilosMin}..{SilosMax}");
        }
        if (!(SiloOrdersPerSMax > 0) || TargetUtilization is not (> 0 and <= 1))
        {
            throw new ArgumentException("silo capacity must be positive and target utilization in (0, 1]");
        }
        if (ScaleInStepShare is < 0 or >= 1)
        {
            throw new ArgumentException("the scale-in step must be a share in [0, 1)");
        }
        if (!(ForecastStepMax > 0))
        {
            throw new ArgumentException("the forecast's scale-out step must be a positive share (or +∞ for none)");
        }
        if (LeadTime < TimeSpan.Zero || ScaleOutCooldown < TimeSpan.Zero || ScaleInCooldown < TimeSpan.Zero)
        {
            throw new ArgumentException("lead time and cooldowns cannot be negative");
        }
    }
}

/// <summary>What the cluster reports at one moment (the controller reads no clock: the time comes with it).</summary>
public readonly record struct ClusterSignals(DateTimeOffset At, int Silos, double OrdersPerS, double RejectShare, double QueueDepth, double Cpu);

/// <summary>A point of the traffic forecast: orders per second expected at a time, with an upper bound.</summary>
public readonly record struct LoadForecast(DateTimeOffset At, double OrdersPerS, double UpperOrdersPerS);

/// <summary>The controller's answer: how many silos, and why (for the log and the dashboard).</summary>
public sealed record ScalingDecision(int Silos, string Reason);

/// <summary>
/// Decides the number of silos. Deterministic: the same signals and forecast give the same decision; time
/// comes with the signals. Predictive part: enough silos for the forecast's upper bound over the next
/// <see cref="AutoscaleOptions.LeadTime"/> at the target utilization. Reactive part: enough for the load
/// measured now at that utilization, one more while silos are saturated (refusing orders, long queues, hot
/// CPU). Scale-out is immediate up to the cooldown (a scale-out for the forecast alone grows by at most
/// <see cref="AutoscaleOptions.ForecastStepMax"/>, its ramp started early enough to arrive); scale-in drains one silo (or
/// <see cref="AutoscaleOptions.ScaleInStepShare"/> of them) after a quiet <see cref="AutoscaleOptions.ScaleInCooldown"/>,
/// never below what the forecast asks for.
/// </summary>
public sealed class AutoscaleController
{
    private readonly AutoscaleOptions _options;
    private DateTimeOffset? _lastScaleOut;
    private DateTimeOffset? _lastChange;

    public AutoscaleController(ScalingMode mode, AutoscaleOptions options)
    {
        options.Validate();
        (Mode, _options) = (mode, options);
    }

    public ScalingMode Mode { get; }

    public ScalingDecision Decide(ClusterSignals now, IReadOnlyList<LoadForecast> forecast)
    {
        var o = _options;
        if (Mode == ScalingMode.FixedPeak)
        {
            return new ScalingDecision(o.SilosMax, "fixed capacity for the peak");
        }
        var perSilo = o.SiloOrdersPerSMax * o.TargetUtilization;
        var saturated = now.RejectShare > o.RejectShareHigh || now.QueueDepth > o.QueueDepthHigh || now.Cpu > o.CpuHigh;
        var reactive = SilosFor(now.OrdersPerS, perSilo) + (saturated ? 1 : 0);
        var predictive = 0;
        if (Mode == ScalingMode.PredictiveReactive)
        {
            predictive = PredictiveSilos(now.At, forecast, perSilo);
        }
        var wanted = Math.Clamp(Math.Max(reactive, predictive), o.SilosMin, o.SilosMax);
        var stepped = false;
        if (predictive > reactive && !saturated && wanted > now.Silos && double.IsFinite(o.ForecastStepMax))
        {
            var step = Math.Max(now.Silos + 1, (int)Math.Ceiling(now.Silos * (1 + o.ForecastStepMax)));
            (wanted, stepped) = (Math.Min(wanted, step), step < wanted);
        }
        var reason = predictive > reactive ? $"forecast needs {predictive} within {o.LeadTime.TotalMinutes:0.#} min{(stepped ? $", growing by at most {o.ForecastStepMax:P0}" : "")}"
            : saturated ? $"saturated (rejects {now.RejectShare:P1}, queue {now.QueueDepth:N0}, cpu {now.Cpu:P0})"
            : $"load {now.OrdersPerS:N0}/s needs {reactive}";
        if (wanted > now.Silos)
        {
            if (_lastScaleOut is { } last && now.At - last < o.ScaleOutCooldown)
            {
                return new ScalingDecision(now.Silos, $"scale-out cooling down ({reason})");
            }
            (_lastScaleOut, _lastChange) = (now.At, now.At);
            return new ScalingDecision(wanted, reason);
        }
        if (wanted < now.Silos)
        {
            if (_lastChange is { } changed && now.At - changed < o.ScaleInCooldown)
            {
                return new ScalingDecision(now.Silos, $"scale-in cooling down ({reason})");
            }
            _lastChange = now.At;
            var fewer = Math.Max(1, (int)(now.Silos * o.ScaleInStepShare));
            return fewer == 1 ? new ScalingDecision(now.Silos - 1, $"one silo fewer ({reason})")
                : new ScalingDecision(Math.Max(wanted, now.Silos - fewer), $"up to {fewer} silos fewer ({reason})");
        }
        return new ScalingDecision(now.Silos, reason);
    }

    /// <summary>Silos the forecast asks for now: enough for its upper bound over the lead time. With a
    /// <see cref="AutoscaleOptions.ForecastStepMax"/>, a need at a later time counts divided by the growth the steps
    /// still allowed before it can give (one step per scale-out cooldown), so that the ramp starts early enough to arrive.</summary>
    private int PredictiveSilos(DateTimeOffset now, IReadOnlyList<LoadForecast> forecast, double perSilo)
    {
        var o = _options;
        var stepped = double.IsFinite(o.ForecastStepMax) && o.ScaleOutCooldown > TimeSpan.Zero;
        var silos = 0;
        foreach (var point in forecast)
        {
            if (point.At < now || point.At > now + o.LeadTime)
            {
                continue;
            }
            var needed = SilosFor(point.UpperOrdersPerS, perSilo);
            if (stepped)
            {
                // One step fewer than the time allows: the last silos asked for must still start before the need.
                var steps = Math.Max(0, Math.Floor((point.At - now) / o.ScaleOutCooldown) - 1);
                needed = (int)Math.Ceiling(needed / Math.Pow(1 + o.ForecastStepMax, steps) - 1e-9);
            }
            silos = Math.Max(silos, needed);
        }
        return silos;
    }

    private static int SilosFor(double ordersPerS, double perSilo) => ordersPerS <= 0 ? 0 : (int)Math.Ceiling(ordersPerS / perSilo);
}
