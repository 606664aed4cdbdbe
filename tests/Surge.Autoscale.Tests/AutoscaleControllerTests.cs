using Surge.Autoscale;

namespace Surge.Autoscale.Tests;

public class AutoscaleControllerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 11, 0, 0, 0, TimeSpan.Zero);
    private static readonly AutoscaleOptions Options = new() { SilosMin = 1, SilosMax = 8, SiloOrdersPerSMax = 1_000, TargetUtilization = 0.5 };

    private static ClusterSignals Quiet(DateTimeOffset at, int silos, double ordersPerS = 100) => new(at, silos, ordersPerS, 0, 0, 0.1);

    [Fact]
    public void FixedPeak_AlwaysAsksForTheMaximum()
    {
        var controller = new AutoscaleController(ScalingMode.FixedPeak, Options);

        Assert.Equal(8, controller.Decide(Quiet(T0, 1), []).Silos);
    }

    [Fact]
    public void Predictive_ScalesOutOneLeadTimeBeforeTheForecastPeak()
    {
        var controller = new AutoscaleController(ScalingMode.PredictiveReactive, Options);
        var peak = T0.AddMinutes(10);
        LoadForecast[] forecast = [new(peak, 3_000, 3_400)]; // 3,400 / (1,000 × 0.5) → 7 silos

        Assert.Equal(1, controller.Decide(Quiet(peak - Options.LeadTime - TimeSpan.FromSeconds(1), 1), forecast).Silos);
        var decision = controller.Decide(Quiet(peak - Options.LeadTime, 1), forecast);
        Assert.Equal(7, decision.Silos);
        Assert.Contains("forecast", decision.Reason);
    }

    [Fact]
    public void WithAForecastStep_ALaterNeedStartsTheRampEarlyEnoughToArrive()
    {
        var stepped = Options with { SilosMax = 200, ForecastStepMax = 0.1, ScaleOutCooldown = TimeSpan.FromMinutes(1), LeadTime = TimeSpan.FromHours(1) };
        LoadForecast[] forecast = [new(T0.AddMinutes(10), 45_000, 50_000)]; // 100 silos, ten steps away
        var decision = new AutoscaleController(ScalingMode.PredictiveReactive, stepped).Decide(Quiet(T0, 30), forecast);
        Assert.Equal(33, decision.Silos); // ⌈100 / 1.1^9⌉ = 43 are needed now (one step kept for start-up), 30 + 10 % allowed

        var silos = 43;
        var controller = new AutoscaleController(ScalingMode.PredictiveReactive, stepped);
        for (var minute = 0; minute <= 9; minute++)
        {
            silos = controller.Decide(Quiet(T0.AddMinutes(minute), silos), forecast).Silos;
        }
        Assert.Equal(100, silos);
    }

    [Fact]
    public void AScaleInStep_DrainsAShareOfTheSilos_NeverBelowTheNeed()
    {
        var big = Options with { SilosMax = 1_000, ScaleInStepShare = 0.1, ScaleInCooldown = TimeSpan.Zero };
        var controller = new AutoscaleController(ScalingMode.Reactive, big);
        Assert.Equal(900, controller.Decide(Quiet(T0, 1_000, ordersPerS: 100_000), []).Silos); // needs 200: 10 % fewer
        Assert.Equal(200, controller.Decide(Quiet(T0.AddSeconds(1), 210, ordersPerS: 100_000), []).Silos); // not below the need
    }

    [Fact]
    public void AForecastStep_BoundsScaleOutsForTheForecast_ButNotForSaturation()
    {
        var stepped = Options with { SilosMax = 64, ForecastStepMax = 0.5, ScaleOutCooldown = TimeSpan.Zero };
        LoadForecast[] forecast = [new(T0.AddMinutes(1), 9_000, 10_000)]; // 10,000 / 500 → 20 silos
        var controller = new AutoscaleController(ScalingMode.PredictiveReactive, stepped);

        Assert.Equal(6, controller.Decide(Quiet(T0, 4), forecast).Silos); // 4 + 50 %
        Assert.Equal(9, controller.Decide(Quiet(T0.AddSeconds(10), 6), forecast).Silos);
        Assert.Equal(20, controller.Decide(Quiet(T0.AddSeconds(20), 14), forecast).Silos);
        var saturated = new ClusterSignals(T0.AddSeconds(30), 2, 9_000, RejectShare: 0.05, QueueDepth: 0, Cpu: 0.5);
        Assert.Equal(20, new AutoscaleController(ScalingMode.PredictiveReactive, stepped).Decide(saturated, forecast).Silos);
    }

    [Fact]
    public void Reactive_AddsASiloWhenSaturated_ThenWaitsForTheCooldown()
    {
        var controller = new AutoscaleController(ScalingMode.Reactive, Options);
        var hot = new ClusterSignals(T0, 2, 1_000, RejectShare: 0.05, QueueDepth: 10, Cpu: 0.95); // 1,000/s needs 2, saturated → 3

        Assert.Equal(3, controller.Decide(hot, []).Silos);
        var hotter = hot with { Silos = 3, OrdersPerS = 1_500 }; // needs 3, saturated → 4
        var soon = controller.Decide(hotter with { At = T0 + Options.ScaleOutCooldown - TimeSpan.FromSeconds(1) }, []);
        Assert.Equal(3, soon.Silos);
        Assert.Contains("cooling down", soon.Reason);
        Assert.Equal(4, controller.Decide(hotter with { At = T0 + Options.ScaleOutCooldown }, []).Silos);
    }

    [Fact]
    public void ScaleIn_IsOneSiloAtATime_AfterAQuietCooldown_AndNeverBelowTheForecast()
    {
        var controller = new AutoscaleController(ScalingMode.PredictiveReactive, Options);
        var start = T0.AddHours(1);
        LoadForecast[] forecast = [new(start.AddMinutes(1), 1_200, 1_400)]; // 3 silos wanted ahead
        Assert.Equal(3, controller.Decide(Quiet(start, 1), forecast).Silos);

        Assert.Equal(3, controller.Decide(Quiet(start.AddMinutes(1), 3), forecast).Silos); // forecast still asks for 3
        var later = start + Options.ScaleInCooldown + TimeSpan.FromMinutes(5);
        Assert.Equal(2, controller.Decide(Quiet(later, 3), []).Silos);
        Assert.Equal(2, controller.Decide(Quiet(later.AddSeconds(10), 2), []).Silos); // cooling down again
        Assert.Equal(1, controller.Decide(Quiet(later + Options.ScaleInCooldown, 2), []).Silos);
        Assert.Equal(1, controller.Decide(Quiet(later + 3 * Options.ScaleInCooldown, 1, ordersPerS: 0), []).Silos); // the minimum
    }

    [Fact]
    public void BadOptions_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => new AutoscaleController(ScalingMode.Reactive, Options with { SilosMin = 0 }));
        Assert.Throws<ArgumentException>(() => new AutoscaleController(ScalingMode.Reactive, Options with { SilosMax = 0 }));
        Assert.Throws<ArgumentException>(() => new AutoscaleController(ScalingMode.Reactive, Options with { TargetUtilization = 1.5 }));
        Assert.Throws<ArgumentException>(() => new AutoscaleController(ScalingMode.Reactive, Options with { LeadTime = TimeSpan.FromSeconds(-1) }));
    }

    /// <summary>
    /// A model day (not the benchmark: no processes, a silo is a capacity that arrives a minute after it is
    /// asked for): quiet, a 20× midnight spike, an evening bump. With a forecast that knows the shape, the
    /// predictive controller is ready before the spike and uses a fraction of the fixed capacity; the reactive
    /// one, starting silos only once saturated, refuses orders at the spike.
    /// </summary>
    [Fact]
    public void OnAModelDay_PredictiveIsReadyForTheSpike_AndReactiveAloneIsNot()
    {
        var options = new AutoscaleOptions { SilosMin = 1, SilosMax = 8, SiloOrdersPerSMax = 5_000, TargetUtilization = 0.7 };
        static double Load(int s) => s switch { < 300 => 500, < 420 => 10_000, < 700 => 1_500, < 800 => 4_000, _ => 1_000 };

        (double SiloSeconds, int BreachSeconds) Run(ScalingMode mode)
        {
            var controller = new AutoscaleController(mode, options);
            var ready = new List<int>(); // seconds at which each silo became (or becomes) ready
            ready.Add(0);
            double siloSeconds = 0;
            var breaches = 0;
            var wanted = 1;
            for (var s = 0; s < 1_000; s++)
            {
                var at = T0.AddSeconds(s);
                var readyNow = ready.Count(r => r <= s);
                var capacity = readyNow * options.SiloOrdersPerSMax;
                var load = Load(s);
                var rejected = Math.Max(0, load - capacity) / load;
                breaches += rejected > 0.01 ? 1 : 0;
                siloSeconds += ready.Count; // starting silos are paid for too
                if (s % 10 != 0)
                {
                    continue;
                }
                var forecast = Enumerable.Range(0, 180).Select(k => new LoadForecast(at.AddSeconds(k), Load(s + k), Load(s + k) * 1.1)).ToList();
                var signals = new ClusterSignals(at, ready.Count, Math.Min(load, capacity), rejected, rejected > 0 ? 5_000 : 0, Math.Min(1, load / capacity));
                wanted = controller.Decide(signals, forecast).Silos;
                while (ready.Count < wanted)
                {
                    ready.Add(s + 60); // a new silo takes a minute to start and take partitions
                }
                while (ready.Count > wanted)
                {
                    ready.RemoveAt(ready.Count - 1); // drained and stopped
                }
            }
            return (siloSeconds, breaches);
        }

        var fixedPeak = Run(ScalingMode.FixedPeak);
        var reactive = Run(ScalingMode.Reactive);
        var predictive = Run(ScalingMode.PredictiveReactive);

        Assert.Equal(0, fixedPeak.BreachSeconds);
        Assert.Equal(0, predictive.BreachSeconds);
        Assert.True(reactive.BreachSeconds > 0, "reactive scaling cannot start silos ahead of a 20× jump");
        Assert.True(predictive.SiloSeconds <= 0.4 * fixedPeak.SiloSeconds,
            $"predictive used {predictive.SiloSeconds:N0} silo-seconds, fixed {fixedPeak.SiloSeconds:N0}");
    }
}
