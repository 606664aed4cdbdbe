using Surge.Autoscale;

namespace Surge.Capacity.Tests;

/// <summary>One test per rule the cell models: start-up, partition moves, failover, drain, admission, queueing, the SLO.</summary>
public sealed class CellTests
{
    private static readonly DateTimeOffset Epoch = DaySimulation.Epoch;

    internal static SiloCalibration Silo(double perS = 1_000, double startup = 10, double move = 0.5, double failover = 1, double drain = 2, double cap = 0) => new()
    {
        SiloOrdersPerS = perS,
        LatencyCurve = [new LatencyPoint(0.1, 2, 8), new LatencyPoint(0.9, 5, 20)],
        StartupS = startup,
        MoveS = move,
        FailoverS = failover,
        DrainS = drain,
        RequestDeadlineS = 2,
        AdmissionCapOrdersPerS = cap,
    };

    private static Cell NewCell(ScalingMode mode, SiloCalibration silo, int initial, int silosMax = 16, double firstRate = 0, int partitions = 64,
        LoadForecast[]? forecast = null, double jitter = 0) =>
        new(new CellOptions
        {
            Region = new Region("r", 8, 1),
            Silo = silo,
            Mode = mode,
            Partitions = partitions,
            InitialSilos = initial,
            ControlIntervalS = 1,
            StartupJitter = jitter,
            Controller = new AutoscaleOptions
            {
                SilosMin = 1, SilosMax = silosMax, SiloOrdersPerSMax = silo.SiloOrdersPerS, TargetUtilization = 0.5,
                LeadTime = TimeSpan.FromSeconds(30), ScaleOutCooldown = TimeSpan.FromSeconds(5), ScaleInCooldown = TimeSpan.FromSeconds(20),
                QueueDepthHigh = double.MaxValue, CpuHigh = double.MaxValue,
            },
        }, forecast ?? [], Epoch, firstRate);

    /// <summary>Runs the cell from <paramref name="from"/> for <paramref name="seconds"/> at a constant rate, one tally per second.</summary>
    private static List<WindowTally> Run(Cell cell, double from, int seconds, double rate)
    {
        var tallies = new List<WindowTally>();
        for (var s = 0; s < seconds; s++)
        {
            var tally = new WindowTally();
            cell.Step(from + s, 1, rate, tally);
            tallies.Add(tally);
        }
        return tallies;
    }

    [Fact]
    public void ANewSilo_ServesOnlyAfterItsStartUpTime()
    {
        var cell = NewCell(ScalingMode.Reactive, Silo(startup: 10), initial: 1);
        var tallies = Run(cell, 0, 30, rate: 2_000); // needs 4 silos at 50 %: the controller sees it at t = 1 and asks
        Assert.Equal(1, tallies[10].SilosServing);
        Assert.True(tallies[10].Target >= 4);
        Assert.True(tallies[11].SilosServing >= 4, $"serving at 11 s: {tallies[11].SilosServing}");
        Assert.True(tallies[10].Refused > 0); // one silo for twice its capacity meanwhile
    }

    [Fact]
    public void PartitionsThatMove_MakeTheirOrdersWait_ForTheMoveTime()
    {
        static double SlowAfterJoin(double move)
        {
            var cell = NewCell(ScalingMode.Reactive, Silo(startup: 5, move: move), initial: 1);
            return Run(cell, 0, 12, rate: 700).Skip(5).Sum(t => t.Slow);
        }
        Assert.True(SlowAfterJoin(move: 0) < 1, $"{SlowAfterJoin(move: 0)} slow without moves"); // the latency curve's own tail only
        Assert.True(SlowAfterJoin(move: 0.5) > 10 + SlowAfterJoin(move: 0));
        Assert.True(SlowAfterJoin(move: 1.5) > SlowAfterJoin(move: 0.5));
    }

    [Fact]
    public void ADeadSilo_RefusesUntilTheFailover_AndIsReplaced()
    {
        var cell = NewCell(ScalingMode.FixedPeak, Silo(failover: 1.5, startup: 4), initial: 4, silosMax: 4);
        Run(cell, 0, 3, rate: 1_000);
        cell.FailSilo(3);
        var after = Run(cell, 3, 12, rate: 1_000);
        Assert.Equal(1, cell.Failures);
        Assert.True(after[0].Refused > 0, "orders to the dead silo's front end fail until it is declared dead");
        Assert.Equal(0, after[3].Refused, 6);
        Assert.Equal(4, after[1].Target); // the controller asked for a replacement
        Assert.Equal(3, after[2].SilosServing);
        Assert.Equal(4, after[^1].SilosServing); // …which serves once started
    }

    [Fact]
    public void ScaleIn_DrainsTheNewestSilo_BilledUntilItLeaves()
    {
        var cell = NewCell(ScalingMode.Reactive, Silo(drain: 3), initial: 3);
        var tallies = Run(cell, 0, 30, rate: 100); // needs one silo: one fewer at once, the next after the 20 s cooldown
        Assert.Equal(1, tallies[^1].SilosServing);
        Assert.Equal(2, cell.Decisions.Count(d => d.Contains("one silo fewer", StringComparison.Ordinal)));
        Assert.Equal(2, tallies[0].SilosServing);
        Assert.Equal(3, tallies[0].SilosAlive); // the drained silo is still running (and billed)…
        Assert.Equal(2, tallies[3].SilosAlive); // …until it leaves, drain_s later
        Assert.Equal(30 + (20 + 3) + (0 + 3), cell.SiloSeconds(30), 6);
    }

    [Fact]
    public void AnAdmissionCap_RefusesTheExcessAtOnce()
    {
        var cell = NewCell(ScalingMode.FixedPeak, Silo(perS: 2_000, cap: 500), initial: 1, silosMax: 1);
        var tally = Run(cell, 0, 1, rate: 800)[0];
        Assert.Equal(300, tally.Refused, 6);
        Assert.Equal(500, tally.Accepted, 6);
    }

    [Fact]
    public void WithoutACap_AnOverloadQueues_UpToTheRequestDeadline()
    {
        var cell = NewCell(ScalingMode.FixedPeak, Silo(perS: 1_000), initial: 1, silosMax: 1);
        var tallies = Run(cell, 0, 4, rate: 2_000);
        Assert.Equal(0, tallies[0].Refused, 6); // 1,000 queued: one second's wait, within the 2 s deadline
        Assert.True(tallies[0].Slow > 0.9 * tallies[0].Accepted);
        Assert.Equal(0, tallies[1].Refused, 6); // 2,000 queued: the deadline
        Assert.Equal(1_000, tallies[2].Refused, 6); // beyond it, the excess is refused
    }

    [Fact]
    public void ALostRegion_RefusesEverything_UntilItIsBackAndHasSilos()
    {
        var cell = NewCell(ScalingMode.Reactive, Silo(startup: 3), initial: 2);
        Run(cell, 0, 2, rate: 500);
        cell.Lose(2);
        Assert.Equal(0, cell.Alive);
        var lost = Run(cell, 2, 5, rate: 500);
        Assert.All(lost, t => Assert.Equal(t.Offered, t.Refused, 6));
        cell.Restore(7);
        var back = Run(cell, 7, 6, rate: 500);
        Assert.True(back[^1].SilosServing >= 1);
        Assert.Equal(0, back[^1].Refused, 6);
    }

    [Theory]
    [InlineData(100, 1, 0, 0, false)] // 1 % refused: at the bound
    [InlineData(100, 1.5, 0, 0, true)] // 1.5 % refused
    [InlineData(100, 0, 1.5, 98, true)] // 1.5 % of the accepted slower than the bound: p99 above it
    [InlineData(100, 0, 0.9, 99, false)]
    public void AWindowBreaches_OnRefusalsOrOnItsP99(double offered, double refused, double slow, double accepted, bool breach)
    {
        var tally = new WindowTally { Offered = offered, Refused = refused, Slow = slow, Accepted = accepted == 0 ? offered - refused : accepted };
        Assert.Equal(breach, tally.Breach(0.01));
    }
}
