using System.Text.Json;
using Surge.Autoscale;

namespace Surge.Capacity.Tests;

public sealed class LatencyModelTests
{
    private static readonly LatencyModel Model = new([new LatencyPoint(0.2, 2, 10), new LatencyPoint(0.8, 6, 30)]);

    [Fact]
    public void TheCurveIsInterpolated_AndHeldAtItsEnds()
    {
        var (p50, p99) = Model.At(0.5);
        Assert.Equal(4, p50, 9);
        Assert.Equal(20, p99, 9);
        Assert.Equal((2, 10), Model.At(0));
        Assert.Equal((6, 30), Model.At(1.5));
    }

    [Fact]
    public void ThePercentilesOfTheCurve_AreWhereTheShareSays()
    {
        Assert.Equal(0.5, Model.ShareSlowerThan(4, 0.5), 6);
        Assert.Equal(0.01, Model.ShareSlowerThan(20, 0.5), 6);
        Assert.True(Model.ShareSlowerThan(50, 0.5) < 0.001);
    }

    [Fact]
    public void WaitingAddsToEveryOrder()
    {
        Assert.Equal(0.01, Model.ShareSlowerThan(50, 0.5, addedMs: 30), 6);
        Assert.Equal(1, Model.ShareSlowerThan(50, 0.5, addedMs: 70));
    }
}

public sealed class RegionsTests
{
    [Fact]
    public void EachRegionReplicatesToItsNearest()
    {
        var regions = Regions.Parse(["seoul", "tokyo", "singapore"]);
        Assert.Equal("tokyo", Regions.Partner(regions[0], regions)!.Name);
        Assert.Equal("seoul", Regions.Partner(regions[1], regions)!.Name);
        Assert.Equal("seoul", Regions.Partner(regions[2], regions)!.Name); // 70 ms to both: the name decides
        Assert.Null(Regions.Partner(regions[0], [regions[0]]));
    }

    [Fact]
    public void SharesAreRenormalisedOverTheChosenRegions()
    {
        var regions = Regions.Parse(["tokyo", "singapore"]);
        Assert.Equal(1, regions.Sum(r => r.LoadShare), 9);
        Assert.Equal(0.35 / 0.60, regions[0].LoadShare, 9);
    }

    [Theory]
    [InlineData("mars")]
    [InlineData("seoul,seoul")]
    [InlineData("")]
    public void UnknownRepeatedOrNoRegions_AreErrors(string names) =>
        Assert.Throws<ArgumentException>(() => Regions.Parse(names.Split(',', StringSplitOptions.RemoveEmptyEntries)));
}

public sealed class SaleDayTests
{
    [Fact]
    public void TheSpikeIsAtMidnightInTheSaleTimeZone_ForEveryRegion()
    {
        var twoMinutesIn = 2 / 60.0;
        Assert.True(SaleDay.Shape(twoMinutesIn, 8) > 15);
        Assert.True(SaleDay.Shape(twoMinutesIn, 1) > 15); // Frankfurt's 17:02 has the spike too
        Assert.True(SaleDay.Shape(12, 8) < 5);
    }

    [Fact]
    public void TheEveningBumpFollowsTheLocalClock()
    {
        // 20:30 in UTC+1 is 03:30 in UTC+8.
        Assert.True(SaleDay.Shape(3.5, 1) > SaleDay.Shape(3.5, 8) + 3);
    }

    [Fact]
    public void AForecastBias_ScalesTheHistory()
    {
        var fair = SaleDay.History(_ => 6_000, 14, seed: 5);
        var low = SaleDay.History(_ => 6_000, 14, seed: 5, bias: -0.3);
        Assert.Equal(0.7, low.Mean.Average() / fair.Mean.Average(), 2);
    }
}

public sealed class CalibrationTests
{
    [Fact]
    public void TheBuiltInCalibration_IsValid_AndNamesItsSources()
    {
        var calibration = SiloCalibration.Default;
        Assert.True(calibration.SiloOrdersPerS > 0);
        Assert.NotEmpty(calibration.LatencyCurve);
        Assert.Contains("silo_orders_per_s", calibration.Sources.Keys);
    }

    [Fact]
    public void ACalibrationRoundTripsThroughItsFile()
    {
        var calibration = CellTests.Silo();
        var again = SiloCalibration.Parse(calibration.ToJson(), "test");
        Assert.Equal(calibration.ToJson(), again.ToJson());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"silo_orders_per_s": 100, "latency_curve": [{"utilization": 0.5, "p50_ms": 10, "p99_ms": 5}]}""")]
    [InlineData("""{"silo_orders_per_s": 100, "latency_curve": [{"utilization": 0.5, "p50_ms": 1, "p99_ms": 5}], "startup_s": -1}""")]
    public void ABadFile_IsAnErrorThatSaysWhat(string json)
    {
        var error = Assert.Throws<ArgumentException>(() => SiloCalibration.Parse(json, "the file"));
        Assert.StartsWith("the file", error.Message, StringComparison.Ordinal);
    }
}

public sealed class DaySimulationTests
{
    /// <summary>A small day: two regions, compressed to half an hour, few partitions, frequent failures.</summary>
    private static DayScenario Small(int seed = 1) => new()
    {
        Regions = Regions.Parse(["seoul", "tokyo"]),
        PeakOrdersPerS = 40_000,
        DaySeconds = 1_800,
        Seed = seed,
        SiloMtbfHours = 1,
        PartitionsPerRegion = 256,
        ControlIntervalS = 2,
        SloWindowS = 10,
        LeadTime = TimeSpan.FromSeconds(60),
        ScaleOutCooldown = TimeSpan.FromSeconds(5),
        ScaleInCooldown = TimeSpan.FromSeconds(30),
        RegionLoss = new RegionLossScenario { DurationS = 60, DetectionS = 5 },
    };

    private static string Json(DayReport report) => JsonSerializer.Serialize(report, SiloCalibration.Json);

    [Fact]
    public void TheSameSeed_GivesTheSameReport()
    {
        var silo = CellTests.Silo(startup: 5);
        Assert.Equal(Json(DaySimulation.Run(Small(), silo)), Json(DaySimulation.Run(Small(), silo)));
        Assert.NotEqual(Json(DaySimulation.Run(Small(), silo)), Json(DaySimulation.Run(Small(seed: 2), silo)));
    }

    [Fact]
    public void FixedPeak_IsTheReference_AndTheElasticModesUseLess()
    {
        var report = DaySimulation.Run(Small() with { RegionLoss = null }, CellTests.Silo(startup: 5));
        var byMode = report.Modes.ToDictionary(m => m.Mode);
        Assert.Equal(1, byMode["fixed-peak"].SiloHoursRatio);
        Assert.True(byMode["reactive"].SiloHoursRatio < 1);
        Assert.True(byMode["predictive-reactive"].SiloHoursRatio < 1);
        Assert.All(report.Modes, m => Assert.Equal(0, m.Lost));
        Assert.True(byMode["fixed-peak"].Failures > 0, "an MTBF of one hour fails silos within the day");
    }

    [Fact]
    public void ReactiveAtTheSameCost_IsGivenAtLeastPredictivesSiloHours_ByPlanningBelowTheTarget()
    {
        var report = DaySimulation.Run(Small() with { RegionLoss = null }, CellTests.Silo(startup: 5));
        var byMode = report.Modes.ToDictionary(m => m.Mode);
        var same = report.ReactiveAtSameCost!;
        var (reactive, predictive) = (byMode["reactive"].SiloHours, byMode["predictive-reactive"].SiloHours);
        Assert.True(same.SiloHours >= predictive, $"{same.SiloHours} silo-hours for reactive, {predictive} for predictive + reactive");
        if (reactive < predictive)
        {
            Assert.True(same.TargetUtilization < report.TargetUtilization, $"planned at {same.TargetUtilization}, not below {report.TargetUtilization}");
            Assert.True(same.SiloHours <= predictive * 1.1, $"the search stopped at {same.SiloHours} silo-hours, not near {predictive}");
        }
        else
        {
            Assert.Equal((report.TargetUtilization, reactive), (same.TargetUtilization, same.SiloHours));
        }
        Assert.Null(DaySimulation.Run(Small() with { RegionLoss = null, Modes = [ScalingMode.Reactive] }, CellTests.Silo(startup: 5)).ReactiveAtSameCost);
    }

    [Fact]
    public void ARegionLoss_LosesNothingSynchronously_AndTheLagsWorthAsynchronously()
    {
        var report = DaySimulation.Run(Small() with { Modes = [ScalingMode.PredictiveReactive] }, CellTests.Silo(startup: 5, failover: 1));
        var loss = report.RegionLoss!;
        Assert.Equal("seoul", loss.Region);
        Assert.Equal("tokyo", loss.Partner);
        Assert.Equal(0, loss.SyncLost);
        Assert.Equal(30 / 2 + 100, loss.AsyncLagMs); // half the 30 ms round trip, plus the shipping interval
        Assert.Equal(Math.Round(loss.OrdersAtRiskPerSOfLag * loss.AsyncLagMs / 1000), loss.AsyncLost, 0);
        Assert.True(loss.AsyncLost > 0);
        Assert.Equal(5 + 1, loss.RtoS); // detection + failover
        Assert.True(loss.Refused > 0);
        Assert.Equal(30, loss.SyncLatencyCostMs["seoul"], 1); // every acknowledgement waits for Tokyo
    }

    [Fact]
    public void ABadScenario_IsAnErrorThatSaysWhat()
    {
        Assert.Throws<ArgumentException>(() => DaySimulation.Run(Small() with { PeakOrdersPerS = -1 }, CellTests.Silo()));
        Assert.Throws<ArgumentException>(() => DaySimulation.Run(Small() with { Regions = Regions.Parse(["seoul"]) }, CellTests.Silo()));
        Assert.Throws<ArgumentException>(() => DaySimulation.Run(Small() with { RegionLoss = new RegionLossScenario { Region = "virginia" } }, CellTests.Silo()));
    }
}

public sealed class PlanningTests
{
    private static SiloCalibration Curve(params (double U, double P99)[] points) => CellTests.Silo() with
    {
        LatencyCurve = [.. points.Select(p => new LatencyPoint(p.U, p.P99 / 4, p.P99))],
    };

    [Fact]
    public void TheSilosArePlanned_AtTheHighestUtilizationWhoseP99MeetsTheBound()
    {
        Assert.Equal(0.6, DaySimulation.PlannedUtilization(Curve((0.2, 10), (0.6, 40), (1.0, 80)), 40), 3);
        Assert.InRange(DaySimulation.PlannedUtilization(Curve((0.2, 10), (0.6, 20), (1.0, 40)), 30), 0.795, 0.8);
    }

    [Fact]
    public void ASiloThatAlwaysBreaches_IsPlannedWhereItBreachesLeast()
    {
        Assert.Equal(0.6, DaySimulation.PlannedUtilization(Curve((0.2, 100), (0.6, 60), (1.0, 200)), 45), 3);
    }

    [Fact]
    public void TheForecastStep_ShrinksAsMovesGetLonger()
    {
        var scenario = new DayScenario { TargetUtilization = 0.5 };
        var quick = DaySimulation.ForecastStep(CellTests.Silo(move: 0.5), scenario);
        var slow = DaySimulation.ForecastStep(CellTests.Silo(move: 2), scenario);
        Assert.True(quick > slow && slow > 0, $"{quick} vs {slow}");
        Assert.Equal(double.PositiveInfinity, DaySimulation.ForecastStep(CellTests.Silo(move: 0), scenario));
    }
}
