using Surge.Autoscale;

namespace Surge.Capacity;

/// <summary>A region lost for a while: its silos die at once; its cell fails over to its partner region (the nearest).</summary>
public sealed record RegionLossScenario
{
    /// <summary>The region lost (null: the one with the largest share of orders).</summary>
    public string? Region { get; init; }

    /// <summary>When, in seconds from the day's start (null: the moment of the day's peak).</summary>
    public double? AtS { get; init; }

    public double DurationS { get; init; } = 600;

    /// <summary>From the region's loss to the decision to fail its cell over (health checks from the other regions; assumed).</summary>
    public double DetectionS { get; init; } = 30;

    /// <summary>Asynchronous replication ships what is durable in the region every this many milliseconds (plus the one-way trip).</summary>
    public double ShipIntervalMs { get; init; } = 100;
}

/// <summary>Everything one `sim day` runs: the regions, the day, the silo, the controller's settings, the failures.</summary>
public sealed record DayScenario
{
    public IReadOnlyList<Region> Regions { get; init; } = Capacity.Regions.Parse(Capacity.Regions.Default);

    /// <summary>Orders per second at the day's busiest second, all regions together.</summary>
    public double PeakOrdersPerS { get; init; } = 583_000;

    /// <summary>Real seconds the day lasts (86,400; a compressed day, as `bench elastic` runs, is shorter).</summary>
    public double DaySeconds { get; init; } = 86_400;

    /// <summary>Seconds of one simulation step.</summary>
    public double StepS { get; init; } = 1;

    public int Seed { get; init; } = 1;

    /// <summary>Earlier days' level against the day simulated: −0.3 = a forecast 30 % too low.</summary>
    public double ForecastBias { get; init; }

    public int HistoryDays { get; init; } = 14;

    /// <summary>Seed of the order history the forecast learns from (null: derived from <see cref="Seed"/> and the region).</summary>
    public int? HistorySeed { get; init; }

    /// <summary>Mean hours between two failures of one silo (0: none).</summary>
    public double SiloMtbfHours { get; init; } = 720;

    public int PartitionsPerRegion { get; init; } = 4_096;
    public double ControlIntervalS { get; init; } = 5;
    public double SloP99Ms { get; init; } = 50;
    public double SloRefusedShare { get; init; } = 0.01;

    /// <summary>Real seconds of one service-level window (a minute of a real day).</summary>
    public double SloWindowS { get; init; } = 60;

    /// <summary>Share of a silo's capacity the controller plans for (null: the highest at which the calibrated p99 is at most
    /// <see cref="SloHeadroom"/> of the SLO's bound — a silo run hotter breaches the SLO by itself).</summary>
    public double? TargetUtilization { get; init; }

    /// <summary>Share of the p99 bound the latency curve may reach at the planned utilization (the rest is for waits).</summary>
    public double SloHeadroom { get; init; } = 0.9;

    /// <summary>How far ahead the predictive controller reads the forecast: long enough to grow in <see cref="ForecastStepMax"/> steps.</summary>
    public TimeSpan LeadTime { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary>Most one scale-out for the forecast adds (share of the silos there are; +∞ = no bound; null: derived from the
    /// calibration — see <see cref="DaySimulation.ForecastStep"/>).</summary>
    public double? ForecastStepMax { get; init; }

    /// <summary>Share of the silos one scale-in may drain (0 = one at a time).</summary>
    public double ScaleInStepShare { get; init; } = 0.1;
    public TimeSpan ScaleOutCooldown { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan ScaleInCooldown { get; init; } = TimeSpan.FromMinutes(5);
    public double RejectShareHigh { get; init; } = 0.01;
    public double QueueDepthHigh { get; init; } = 1_000;
    public double CpuHigh { get; init; } = 0.85;
    public int SilosMin { get; init; } = 2;

    /// <summary>The elastic modes may grow to this many times the fixed-peak size (a budget guard).</summary>
    public double SilosMaxFactor { get; init; } = 2;

    /// <summary>Silos per region of the fixed-peak cluster, and every mode's bound (null: sized from the forecast's peak).</summary>
    public int? FixedPeakSilos { get; init; }

    /// <summary>Silos serving at the day's start in the elastic modes (null: what the first second's load needs).</summary>
    public int? InitialSilos { get; init; }

    public IReadOnlyList<ScalingMode> Modes { get; init; } = [ScalingMode.FixedPeak, ScalingMode.Reactive, ScalingMode.PredictiveReactive];

    /// <summary>The region-loss runs (predictive + reactive, synchronous and asynchronous replication); null: none.</summary>
    public RegionLossScenario? RegionLoss { get; init; } = new();

    public double PricePerSiloHour { get; init; } = 0.10;

    public void Validate()
    {
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }
        Require(Regions.Count > 0, "name at least one region");
        Require(PeakOrdersPerS > 0 && double.IsFinite(PeakOrdersPerS), "the peak must be a positive number of orders per second");
        Require(DaySeconds >= 60 && StepS > 0 && StepS <= DaySeconds / 100, "the day must last at least 60 s and a step at most 1 % of it");
        Require(ForecastBias > -1 && ForecastBias <= 10, "the forecast bias must be above −1 (−0.3 = 30 % low)");
        Require(HistoryDays >= 2, "the forecast needs at least two days of history");
        Require(SiloMtbfHours >= 0, "the silos' MTBF cannot be negative (0 = no failures)");
        Require(PartitionsPerRegion >= 1, "a region needs at least one partition");
        Require(ControlIntervalS >= StepS && SloWindowS >= StepS, "the control interval and the SLO window must be at least one step");
        Require(SilosMin >= 1 && SilosMaxFactor >= 1, "at least one silo, and a bound of at least the fixed-peak size");
        Require(FixedPeakSilos is null or >= 1 && InitialSilos is null or >= 1, "fixed-peak and initial silos must be at least 1");
        Require(Modes.Count > 0, "name at least one mode");
        Require(TargetUtilization is null or (> 0 and <= 1) && SloHeadroom is > 0 and <= 1, "the target utilization and the SLO headroom must be shares in (0, 1]");
        Require(RegionLoss is null || (RegionLoss.DurationS > 0 && RegionLoss.DetectionS >= 0 && RegionLoss.ShipIntervalMs >= 0),
            "a region loss needs a positive duration and non-negative detection and shipping times");
        Require(RegionLoss is null || Regions.Count > 1, "a region loss needs a second region to fail over to");
        Require(RegionLoss?.Region is null || Regions.Any(r => r.Name == RegionLoss.Region), $"the region to lose ({RegionLoss?.Region}) is not among those simulated");
    }
}

public sealed record RegionFigures(string Region, double SiloHours, int SilosPeak, double SloBreachMinutes, double Offered, double Refused,
    double P99AtPeakMs, int Failures, long PartitionMoves);

public sealed record ModeFigures(string Mode, double SiloHours, double SiloHoursRatio, double BilledHours, double Cost, double SloBreachMinutes,
    double Refused, double Lost, double Offered, int SilosPeak, int Failures, IReadOnlyList<RegionFigures> Regions, IReadOnlyList<string> BreachedAt);

public sealed record RegionLossFigures(string Region, string Partner, double AtHour, double DurationS, double RttMs, double SyncLost, double AsyncLost,
    double AsyncLagMs, double OrdersAtRiskPerSOfLag, double RtoS, double RecoveredWithinSloS, double Refused, double SloBreachMinutes,
    double SyncSloBreachMinutes, IReadOnlyDictionary<string, double> SyncLatencyCostMs, IReadOnlyDictionary<string, double> SyncP99AtPeakMs);

/// <summary>Capacity shared across regions whose peaks do not coincide: the silos each region needs at its own busiest
/// moment, summed, against the most needed at one moment by all together (predictive + reactive).</summary>
public sealed record CapacitySharing(int SumOfRegionalPeaks, int PeakOfTheSum, double Saving);

/// <summary>Reactive alone given at least the silo-hours predictive + reactive used: its controller planned at a lower
/// <paramref name="TargetUtilization"/> (more silos kept for the same load) until it cost as much. Compares the two
/// modes at the same cost, not each at its own.</summary>
public sealed record SameCostFigures(double TargetUtilization, double SiloHours, double SiloHoursRatio, double SloBreachMinutes, double Refused, double Lost);

/// <summary>One minute (window) of one region in one mode, for the plots.</summary>
public sealed record WindowPoint(double Hour, double OrdersPerS, double ForecastUpperPerS, int SilosAlive, int SilosServing, bool Breach);

public sealed record DayReport
{
    public double WallS { get; set; }
    public int SilosMax { get; init; }
    public double PeakOrdersPerS { get; init; }
    public double SiloOrdersPerS { get; init; }

    /// <summary>The share of a silo's capacity the controllers planned for.</summary>
    public double TargetUtilization { get; init; }

    /// <summary>The most one scale-out for the forecast added (share of the silos there were).</summary>
    public double ForecastStepMax { get; init; }
    public IReadOnlyList<string> Regions { get; init; } = [];
    public IReadOnlyList<ModeFigures> Modes { get; init; } = [];
    public RegionLossFigures? RegionLoss { get; init; }
    public CapacitySharing? CapacitySharing { get; init; }

    /// <summary>Reactive at the cost of predictive + reactive (both modes run; null otherwise).</summary>
    public SameCostFigures? ReactiveAtSameCost { get; init; }

    /// <summary>Per mode, per region, one point per SLO window (not written to JSON by default: plots).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, WindowPoint[]>> Timelines { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, WindowPoint[]>>();

    /// <summary>The first decisions of each mode and region (for the log).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Decisions { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
}

/// <summary>
/// A day of the marketplace on modelled silos in several regions, each region's cluster (<see cref="Cell"/>) run by the
/// real controller in each mode, then the region-loss runs. Deterministic: the same scenario and calibration give the
/// same report, to the last digit (no clock, no I/O; the wall time is the caller's to add).
/// </summary>
public static class DaySimulation
{
    /// <summary>22:00 of 10 November in UTC+8: the controller's clock at the day's start.</summary>
    public static readonly DateTimeOffset Epoch = new(2026, 11, 10, 22, 0, 0, TimeSpan.FromHours(SaleDay.SaleUtcOffsetHours));

    public static string Name(ScalingMode mode) => mode switch
    {
        ScalingMode.FixedPeak => "fixed-peak",
        ScalingMode.Reactive => "reactive",
        _ => "predictive-reactive",
    };

    /// <summary>The clock hour (sale time zone) at <paramref name="t"/> seconds into a day of <paramref name="daySeconds"/>.</summary>
    /// <summary>A seed for one stream of random numbers from the scenario's seed: stable across processes and machines
    /// (HashCode is seeded per process), different for each (purpose, index).</summary>
    public static int Mix(int seed, int purpose, int index)
    {
        var z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)purpose << 32 ^ (ulong)(uint)index;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & int.MaxValue);
    }

    public static double Hour(double t, double daySeconds) => (SaleDay.StartsAtHour + t / daySeconds * 24) % 24;

    /// <summary>Orders per second each region offers at time t (seconds from the day's start), scaled so that the busiest
    /// second of all regions together is the scenario's peak.</summary>
    public static Func<double, double>[] Rates(DayScenario scenario)
    {
        var regions = scenario.Regions;
        double Sum(double hour) => regions.Sum(r => r.LoadShare * SaleDay.Shape(hour, r.UtcOffsetHours));
        var peakShape = Enumerable.Range(0, 86_400).Max(s => Sum(SaleDay.StartsAtHour + s / 3600.0));
        var scale = scenario.PeakOrdersPerS / peakShape;
        return [.. regions.Select(r => (Func<double, double>)(t => scale * r.LoadShare * SaleDay.Shape(SaleDay.StartsAtHour + t / scenario.DaySeconds * 24, r.UtcOffsetHours)))];
    }

    /// <summary>Each region's forecast, one point per slot (a minute of the day), learnt from its earlier days.</summary>
    public static LoadForecast[][] Forecasts(DayScenario scenario, Func<double, double>[] rates)
    {
        var slotS = scenario.DaySeconds / (24 * 60);
        return [.. scenario.Regions.Select((region, i) =>
        {
            var seed = scenario.HistorySeed ?? Mix(scenario.Seed, 1, i);
            var profile = SaleDay.History(m => rates[i]((m + 0.5) * slotS) * 60, scenario.HistoryDays, seed, scenario.ForecastBias);
            return Enumerable.Range(0, profile.Slots)
                .Select(m => new LoadForecast(Epoch + TimeSpan.FromSeconds(m * slotS), profile.Mean[m] / 60, profile.Upper[m] / 60)).ToArray();
        })];
    }

    public static DayReport Run(DayScenario scenario, SiloCalibration silo)
    {
        scenario.Validate();
        silo.Validate();
        var rates = Rates(scenario);
        var forecasts = Forecasts(scenario, rates);
        var perSilo = silo.AdmissionCapOrdersPerS > 0 ? silo.AdmissionCapOrdersPerS : silo.SiloOrdersPerS;
        scenario = scenario with { TargetUtilization = scenario.TargetUtilization ?? PlannedUtilization(silo, scenario.SloP99Ms * scenario.SloHeadroom) };
        scenario = scenario with { ForecastStepMax = scenario.ForecastStepMax ?? ForecastStep(silo, scenario) };
        var fixedSilos = scenario.Regions.Select((_, i) => scenario.FixedPeakSilos
            ?? Math.Max(scenario.SilosMin, (int)Math.Ceiling(forecasts[i].Max(f => f.UpperOrdersPerS) / (perSilo * scenario.TargetUtilization!.Value)))).ToArray();
        var runs = scenario.Modes.Select(mode => RunDay(scenario, silo, mode, rates, forecasts, fixedSilos, loss: null, syncReplication: false)).ToList();
        var fixedRun = runs.FirstOrDefault(r => r.Mode == ScalingMode.FixedPeak);
        var modes = runs.Select(r => r.Figures(fixedRun?.SiloHours, scenario)).ToList();
        RegionLossFigures? regionLoss = null;
        if (scenario.RegionLoss is { } loss)
        {
            var lostIndex = loss.Region is null
                ? scenario.Regions.Select((r, i) => (r, i)).MaxBy(x => x.r.LoadShare).i
                : scenario.Regions.Select((r, i) => (r, i)).First(x => x.r.Name == loss.Region).i;
            var at = loss.AtS ?? Enumerable.Range(0, (int)(scenario.DaySeconds / scenario.StepS)).Select(k => k * scenario.StepS)
                .MaxBy(t => rates.Sum(rate => rate(t)));
            var asyncRun = RunDay(scenario, silo, ScalingMode.PredictiveReactive, rates, forecasts, fixedSilos, (lostIndex, at, loss), syncReplication: false);
            var syncRun = RunDay(scenario, silo, ScalingMode.PredictiveReactive, rates, forecasts, fixedSilos, (lostIndex, at, loss), syncReplication: true);
            regionLoss = asyncRun.LossFigures(syncRun, scenario);
        }
        var predictive = runs.FirstOrDefault(r => r.Mode == ScalingMode.PredictiveReactive);
        var reactive = runs.FirstOrDefault(r => r.Mode == ScalingMode.Reactive);
        var sameCost = predictive is null || reactive is null ? null
            : ReactiveAtCost(scenario, silo, rates, forecasts, fixedSilos, reactive, predictive.SiloHours, fixedRun?.SiloHours);
        CapacitySharing? sharing = predictive is null ? null : new CapacitySharing(predictive.SumOfRegionalPeaks, predictive.SilosPeak,
            Math.Round(1 - (double)predictive.SilosPeak / Math.Max(1, predictive.SumOfRegionalPeaks), 4));
        return new DayReport
        {
            SilosMax = runs.Max(r => r.SilosPeak),
            PeakOrdersPerS = scenario.PeakOrdersPerS,
            SiloOrdersPerS = perSilo,
            TargetUtilization = scenario.TargetUtilization!.Value,
            ForecastStepMax = scenario.ForecastStepMax!.Value,
            Regions = [.. scenario.Regions.Select(r => r.Name)],
            Modes = modes,
            RegionLoss = regionLoss,
            CapacitySharing = sharing,
            ReactiveAtSameCost = sameCost,
            Timelines = runs.ToDictionary(r => Name(r.Mode), r => (IReadOnlyDictionary<string, WindowPoint[]>)r.Timeline),
            Decisions = runs.SelectMany(r => r.Cells.Select(c => ($"{Name(r.Mode)}/{c.Region.Name}", (IReadOnlyList<string>)c.Decisions.Take(40).ToList())))
                .ToDictionary(x => x.Item1, x => x.Item2),
        };
    }

    private sealed class DayRun
    {
        public required ScalingMode Mode { get; init; }
        public required Cell[] Cells { get; init; }
        public required WindowTally[][] Windows { get; init; } // [region][window]
        public required double DaySeconds { get; init; }
        public required Dictionary<string, WindowPoint[]> Timeline { get; init; }
        public double[] P99AtPeakMs { get; init; } = [];
        public int SilosPeak { get; set; }
        public int SumOfRegionalPeaks { get; set; }
        public double Lost { get; set; }
        public double AsyncLagMs { get; set; }
        public double RiskPerS { get; set; }
        public double RtoS { get; set; }
        public double LossRefused { get; set; }
        public double LossAtS { get; set; }
        public int LostRegion { get; set; } = -1;
        public int Partner { get; set; } = -1;
        public double RecoveredWithinSloS { get; set; }
        public double RegionLossDurationS { get; set; }

        public double SiloHours => Cells.Sum(c => c.SiloSeconds(DaySeconds)) / 3600;

        /// <summary>Minutes of the day one SLO window stands for.</summary>
        private double WindowMinutes(DayScenario scenario) => scenario.SloWindowS / (DaySeconds / (24 * 60));

        public double BreachMinutes(DayScenario scenario, int? region = null)
        {
            var count = Enumerable.Range(0, Windows[0].Length).Count(w =>
                (region is { } r ? [Windows[r][w]] : Windows.Select(x => x[w])).Any(t => t.Breach(scenario.SloRefusedShare)));
            return Math.Round(count * WindowMinutes(scenario), 1);
        }

        /// <summary>The first windows that breached (region and clock time), to find out why.</summary>
        public IReadOnlyList<string> BreachedAt(DayScenario scenario) =>
            [.. Enumerable.Range(0, Windows[0].Length).SelectMany(w => Cells.Select((c, r) => (c, r)).Where(x => Windows[x.r][w].Breach(scenario.SloRefusedShare))
                .Select(x => $"{x.c.Region.Name} {Clock(Hour(w * scenario.SloWindowS, DaySeconds))}: {Describe(Windows[x.r][w])}")).Take(30)];

        private static string Clock(double hour)
        {
            var second = (int)Math.Round(hour * 3600) % 86_400;
            return $"{second / 3600:00}:{second / 60 % 60:00}:{second % 60:00}";
        }

        private static string Describe(WindowTally t) =>
            $"{t.Refused / Math.Max(1, t.Offered):P2} refused, {t.Slow / Math.Max(1, t.Accepted):P2} slow, {t.SilosServing} serving of {t.SilosAlive}";

        public ModeFigures Figures(double? fixedHours, DayScenario scenario)
        {
            var regions = Cells.Select((c, i) => new RegionFigures(c.Region.Name, Math.Round(c.SiloSeconds(DaySeconds) / 3600, 1), c.SilosAlivePeak,
                BreachMinutes(scenario, i), Math.Round(Windows[i].Sum(w => w.Offered)), Math.Round(Windows[i].Sum(w => w.Refused)),
                Math.Round(P99AtPeakMs[i], 1), c.Failures, c.PartitionMoves)).ToList();
            var billed = Cells.Sum(c => c.BilledHours(DaySeconds));
            return new ModeFigures(Name(Mode), Math.Round(SiloHours, 1), fixedHours is > 0 ? Math.Round(SiloHours / fixedHours.Value, 4) : 1,
                billed, Math.Round(billed * scenario.PricePerSiloHour, 2), BreachMinutes(scenario),
                Math.Round(Windows.Sum(r => r.Sum(w => w.Refused))), Math.Round(Lost), Math.Round(Windows.Sum(r => r.Sum(w => w.Offered))),
                SilosPeak, Cells.Sum(c => c.Failures), regions, BreachedAt(scenario));
        }

        public RegionLossFigures LossFigures(DayRun sync, DayScenario scenario)
        {
            var (lost, partner) = (Cells[LostRegion].Region, Cells[Partner].Region);
            var cost = sync.Cells.Select((c, i) => (c.Region.Name, Math.Round(sync.P99AtPeakMs[i] - P99AtPeakMs[i], 1))).ToDictionary(x => x.Name, x => x.Item2);
            var p99 = sync.Cells.Select((c, i) => (c.Region.Name, Math.Round(sync.P99AtPeakMs[i], 1))).ToDictionary(x => x.Name, x => x.Item2);
            var lossWindows = Enumerable.Range(0, Windows[0].Length).Where(w => (w + 1) * scenario.SloWindowS > LossAtS
                && w * scenario.SloWindowS < LossAtS + RegionLossDurationS + scenario.SloWindowS * 10).ToList();
            var breachDuring = lossWindows.Count(w => Windows.Any(r => r[w].Breach(scenario.SloRefusedShare))) * WindowMinutes(scenario);
            return new RegionLossFigures(lost.Name, partner.Name, Math.Round(Hour(LossAtS, DaySeconds), 3), RegionLossDurationS,
                Regions.RttMs(lost.Name, partner.Name), Math.Round(sync.Lost), Math.Round(Lost), Math.Round(AsyncLagMs, 1), Math.Round(RiskPerS),
                Math.Round(RtoS, 1), Math.Round(RecoveredWithinSloS, 1), Math.Round(LossRefused), Math.Round(breachDuring, 1),
                sync.BreachMinutes(scenario), cost, p99);
        }
    }

    /// <summary>Halvings of the target-utilization interval when reactive is given the cost of predictive + reactive.</summary>
    private const int SameCostSearchSteps = 8;

    /// <summary>Lowest target utilization the same-cost search tries (a silo kept at a twentieth of its capacity).</summary>
    private const double SameCostUtilizationMin = 0.05;

    /// <summary>Reactive with the least headroom that still costs at least <paramref name="hours"/> silo-hours: a
    /// bisection on its target utilization (lower keeps more silos; cost falls as it rises).</summary>
    private static SameCostFigures ReactiveAtCost(DayScenario scenario, SiloCalibration silo, Func<double, double>[] rates, LoadForecast[][] forecasts,
        int[] fixedSilos, DayRun reactive, double hours, double? fixedHours)
    {
        var (high, low) = (scenario.TargetUtilization!.Value, SameCostUtilizationMin);
        DayRun Run(double utilization) =>
            RunDay(scenario with { TargetUtilization = utilization }, silo, ScalingMode.Reactive, rates, forecasts, fixedSilos, loss: null, syncReplication: false);
        var (best, bestUtilization) = (reactive, high);
        if (reactive.SiloHours < hours)
        {
            (best, bestUtilization) = (Run(low), low);
            for (var step = 0; step < SameCostSearchSteps && best.SiloHours >= hours; step++)
            {
                var middle = (low + high) / 2;
                var run = Run(middle);
                if (run.SiloHours >= hours)
                {
                    (best, bestUtilization, low) = (run, middle, middle);
                }
                else
                {
                    high = middle;
                }
            }
        }
        var figures = best.Figures(fixedHours, scenario);
        return new SameCostFigures(Math.Round(bestUtilization, 4), figures.SiloHours, figures.SiloHoursRatio, figures.SloBreachMinutes, figures.Refused, figures.Lost);
    }

    private static DayRun RunDay(DayScenario scenario, SiloCalibration silo, ScalingMode mode, Func<double, double>[] rates, LoadForecast[][] forecasts,
        int[] fixedSilos, (int Region, double AtS, RegionLossScenario Scenario)? loss, bool syncReplication)
    {
        var regions = scenario.Regions;
        var perSilo = silo.AdmissionCapOrdersPerS > 0 ? silo.AdmissionCapOrdersPerS : silo.SiloOrdersPerS;
        var partners = regions.Select(r => Regions.Partner(r, regions)).ToArray();
        var cells = regions.Select((region, i) => new Cell(new CellOptions
        {
            Region = region,
            Silo = silo,
            Mode = mode,
            Partitions = scenario.PartitionsPerRegion,
            InitialSilos = scenario.InitialSilos,
            ControlIntervalS = scenario.ControlIntervalS,
            SiloMtbfHours = scenario.SiloMtbfHours,
            SloP99Ms = scenario.SloP99Ms,
            SloRefusedShare = scenario.SloRefusedShare,
            ReplicationAddedMs = syncReplication && partners[i] is { } partner ? Regions.RttMs(region.Name, partner.Name) : 0,
            Seed = Mix(scenario.Seed, 2 + (int)mode, i),
            Controller = ControllerFor(mode, fixedSilos[i], scenario, perSilo),
        }, forecasts[i], Epoch, rates[i](0))).ToArray();
        var windowCount = (int)Math.Ceiling(scenario.DaySeconds / scenario.SloWindowS);
        var windows = regions.Select(_ => Enumerable.Range(0, windowCount).Select(_ => new WindowTally()).ToArray()).ToArray();
        var run = new DayRun
        {
            Mode = mode, Cells = cells, Windows = windows, DaySeconds = scenario.DaySeconds,
            Timeline = [], P99AtPeakMs = new double[regions.Count],
        };
        var peakRate = new double[regions.Count];
        var regionalPeaks = new int[regions.Count];
        var steps = (int)Math.Round(scenario.DaySeconds / scenario.StepS);
        var dt = scenario.StepS;
        // Region loss: where the lost region's orders go, and when they come back.
        var lostRegion = loss?.Region ?? -1;
        var partnerIndex = loss is null ? -1 : regions.Select((r, i) => (r, i)).First(x => x.r.Name == partners[lostRegion]!.Name).i;
        var failedOverAt = loss is { } l ? l.AtS + l.Scenario.DetectionS + silo.FailoverS : double.MaxValue;
        var restoredAt = loss is { } l2 ? l2.AtS + l2.Scenario.DurationS : double.MaxValue;
        var (lostState, returned) = (0, false); // 0 before, 1 lost, 2 restored
        double lastAccepted = 0, lastBreachEnd = 0;
        for (var k = 0; k < steps; k++)
        {
            var t = k * dt;
            var w = Math.Min(windowCount - 1, (int)(t / scenario.SloWindowS));
            var alive = 0;
            var divert = 0.0;
            if (loss is { } lossNow)
            {
                if (lostState == 0 && t >= lossNow.AtS)
                {
                    lostState = 1;
                    cells[lostRegion].Lose(t);
                    run.RiskPerS = lastAccepted / dt;
                    run.AsyncLagMs = Regions.RttMs(regions[lostRegion].Name, regions[partnerIndex].Name) / 2 + lossNow.Scenario.ShipIntervalMs;
                    run.Lost = syncReplication ? 0 : run.RiskPerS * run.AsyncLagMs / 1000;
                }
                if (lostState == 1 && t >= restoredAt)
                {
                    lostState = 2;
                    cells[lostRegion].Restore(t);
                }
                if (lostState == 2 && !returned && cells[lostRegion].PlannedCapacity >= rates[lostRegion](t))
                {
                    returned = true;
                    cells[lostRegion].MoveAllPartitions(t);
                }
                if (lostState >= 1 && !returned && t >= failedOverAt)
                {
                    divert = rates[lostRegion](t);
                }
            }
            for (var i = 0; i < cells.Length; i++)
            {
                var own = rates[i](t);
                double rate;
                if (i == lostRegion && lostState >= 1 && !returned)
                {
                    rate = t >= failedOverAt ? 0 : own; // before the failover its buyers' orders find no one (refused)
                }
                else
                {
                    rate = own + (i == partnerIndex ? divert : 0);
                }
                var accepted = cells[i].Step(t, dt, rate, windows[i][w]);
                if (i == lostRegion)
                {
                    lastAccepted = accepted;
                }
                if (rate > peakRate[i] && (loss is null || t < loss.Value.AtS)) // the latency at its own peak, before any loss
                {
                    peakRate[i] = rate;
                    run.P99AtPeakMs[i] = cells[i].P99Ms(rate);
                }
                alive += cells[i].Alive;
                regionalPeaks[i] = Math.Max(regionalPeaks[i], cells[i].Alive);
            }
            run.SilosPeak = Math.Max(run.SilosPeak, alive);
            if (loss is not null && lostState >= 1 && t < restoredAt + scenario.SloWindowS * 10
                && (windows[lostRegion][w].Breach(scenario.SloRefusedShare) || windows[partnerIndex][w].Breach(scenario.SloRefusedShare)))
            {
                lastBreachEnd = (w + 1) * scenario.SloWindowS;
            }
        }
        run.SumOfRegionalPeaks = regionalPeaks.Sum();
        if (loss is { } done)
        {
            run.LostRegion = lostRegion;
            run.Partner = partnerIndex;
            run.LossAtS = done.AtS;
            run.RegionLossDurationS = done.Scenario.DurationS;
            run.RtoS = done.Scenario.DetectionS + silo.FailoverS;
            run.LossRefused = windows.Sum(r => r.Where((_, x) => x * scenario.SloWindowS >= done.AtS && x * scenario.SloWindowS < restoredAt).Sum(x => x.Refused));
            run.RecoveredWithinSloS = Math.Max(0, lastBreachEnd - done.AtS);
        }
        for (var i = 0; i < cells.Length; i++)
        {
            var slotS = scenario.DaySeconds / forecasts[i].Length;
            run.Timeline[regions[i].Name] = [.. windows[i].Select((tally, x) =>
            {
                var at = x * scenario.SloWindowS;
                var slot = Math.Min(forecasts[i].Length - 1, (int)(at / slotS));
                return new WindowPoint(Math.Round(Hour(at, scenario.DaySeconds), 4), Math.Round(tally.Offered / scenario.SloWindowS, 1),
                    Math.Round(forecasts[i][slot].UpperOrdersPerS, 1), tally.SilosAlive, tally.SilosServing, tally.Breach(scenario.SloRefusedShare));
            })];
        }
        return run;
    }

    /// <summary>The highest utilization at which the calibrated p99 is at most <paramref name="p99BoundMs"/> (read off the curve
    /// in steps of 0.5 %, up to the first utilization above the bound after one within it). When no utilization meets the
    /// bound, the one with the lowest p99: the silo breaches the SLO at every load, least there.</summary>
    public static double PlannedUtilization(SiloCalibration silo, double p99BoundMs)
    {
        var model = new LatencyModel(silo.LatencyCurve);
        double? best = null;
        var (lowest, lowestP99) = (0.005, double.MaxValue);
        for (var k = 1; k <= 200; k++)
        {
            var u = k / 200.0;
            var p99 = model.At(u).P99Ms;
            if (p99 < lowestP99)
            {
                (lowest, lowestP99) = (u, p99);
            }
            if (p99 <= p99BoundMs)
            {
                best = u;
            }
            else if (best is not null)
            {
                break;
            }
        }
        return Math.Round(best ?? lowest, 3);
    }

    /// <summary>
    /// The largest forecast step whose partition moves stay within half of what the SLO leaves: a step of s moves
    /// s / (1 + s) of the partitions, each away for <see cref="SiloCalibration.MoveS"/>, and steps come once per scale-out
    /// cooldown; the SLO allows 1 % of a window's orders to be slow, less what the latency curve makes slow at the planned
    /// utilization. +∞ when moves cost nothing.
    /// </summary>
    public static double ForecastStep(SiloCalibration silo, DayScenario scenario)
    {
        if (silo.MoveS <= 0 || scenario.ScaleOutCooldown <= TimeSpan.Zero)
        {
            return double.PositiveInfinity;
        }
        var curveSlow = new LatencyModel(silo.LatencyCurve).ShareSlowerThan(scenario.SloP99Ms, scenario.TargetUtilization ?? 1);
        var budget = Math.Max(0.0005, 0.5 * (0.01 - curveSlow)); // share of a window's orders that may wait for moves
        // A window holds window / cooldown steps, each making movedPerStep of the partitions wait move_s: budget × window.
        var movedPerStep = Math.Min(0.5, budget * scenario.ScaleOutCooldown.TotalSeconds / silo.MoveS);
        return Math.Round(movedPerStep / (1 - movedPerStep), 4);
    }

    private static AutoscaleOptions ControllerFor(ScalingMode mode, int fixedSilos, DayScenario scenario, double perSilo) => new()
    {
        SilosMin = Math.Min(scenario.SilosMin, fixedSilos),
        SilosMax = mode == ScalingMode.FixedPeak || scenario.FixedPeakSilos is not null ? fixedSilos : (int)Math.Ceiling(fixedSilos * scenario.SilosMaxFactor),
        SiloOrdersPerSMax = perSilo,
        TargetUtilization = scenario.TargetUtilization!.Value,
        ForecastStepMax = scenario.ForecastStepMax!.Value,
        ScaleInStepShare = scenario.ScaleInStepShare,
        LeadTime = scenario.LeadTime,
        ScaleOutCooldown = scenario.ScaleOutCooldown,
        ScaleInCooldown = scenario.ScaleInCooldown,
        RejectShareHigh = scenario.RejectShareHigh,
        QueueDepthHigh = scenario.QueueDepthHigh,
        CpuHigh = scenario.CpuHigh,
    };
}
