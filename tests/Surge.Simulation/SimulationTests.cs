namespace Surge.Simulation;

public class SimulationTests
{
    private const int StepsPerSeed = 400;

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        foreach (var seed in Enumerable.Range(1, 12))
        {
            data.Add(seed);
        }
        return data;
    }

    /// <summary>Seeds that once found a bug stay for ever. 330017 and 100 found that a crash between renaming
    /// a zero-filled spare into place and syncing its header left a segment without a header that recovery
    /// called corrupt; 169 and 214 (as segment sequences under seeds 11 and 100) found that a recycled
    /// segment's stale records were taken as evidence of damage.</summary>
    public static TheoryData<int> RegressionSeeds() => [330017, 100, 11];

    [Theory]
    [MemberData(nameof(RegressionSeeds))]
    public async Task RegressionSeed_StaysFixed(int seed)
    {
        using var simulator = new Simulator(seed);
        await simulator.RunAsync(StepsPerSeed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task RandomSchedule_KeepsInvariantsAndLosesNoAcknowledgedBatch(int seed)
    {
        using var simulator = new Simulator(seed);
        try
        {
            await simulator.RunAsync(StepsPerSeed);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"simulation failed with seed {seed} (rerun: SURGE_SIM_SEED={seed})", e);
        }
        Assert.True(simulator.Recoveries > 1);
    }

    [Fact]
    public async Task ScheduleFromEnvironment_OrADaySeed()
    {
        var text = Environment.GetEnvironmentVariable("SURGE_SIM_SEED");
        var seed = int.TryParse(text, out var s) ? s : DateTime.UtcNow.DayOfYear * 1000 + 17;
        using var simulator = new Simulator(seed);
        try
        {
            await simulator.RunAsync(StepsPerSeed);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"simulation failed with seed {seed} (rerun: SURGE_SIM_SEED={seed})", e);
        }
    }

    [Fact]
    public async Task Schedules_ExerciseCrashesFaultsAndSnapshots()
    {
        var totals = (crashes: 0, faults: 0, snapshots: 0, shared: 0);
        foreach (var seed in Enumerable.Range(100, 3))
        {
            using var simulator = new Simulator(seed);
            await simulator.RunAsync(StepsPerSeed);
            totals = (totals.crashes + simulator.Crashes, totals.faults + simulator.Faults, totals.snapshots + simulator.Snapshots,
                totals.shared + simulator.SharedGroupCommits);
        }
        Assert.True(totals.crashes > 10, $"crashes {totals.crashes}");
        Assert.True(totals.shared > 3, $"shared group commits {totals.shared}");
        Assert.True(totals.faults > 3, $"faults {totals.faults}");
        Assert.True(totals.snapshots > 10, $"snapshots {totals.snapshots}");
    }
}
