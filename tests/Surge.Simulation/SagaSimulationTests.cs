namespace Surge.Simulation;

public class SagaSimulationTests
{
    private const int StepsPerSeed = 300;

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 10)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task MultiSellerCarts_WithTheProcessDyingAtAnyStep_StayAllOrNothing_AndOversellNothing(int seed)
    {
        var simulator = new SagaSimulator(seed);
        try
        {
            await simulator.RunAsync(StepsPerSeed);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"saga simulation failed with seed {seed} (rerun: SURGE_SAGA_SEED={seed})", e);
        }
    }

    [Fact]
    public async Task ScheduleFromEnvironment_OrADaySeed()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SURGE_SAGA_SEED"), out var s) ? s : DateTime.UtcNow.DayOfYear * 1000 + 29;
        await new SagaSimulator(seed).RunAsync(StepsPerSeed);
    }

    [Fact]
    public async Task Schedules_PlaceAndPayMultiSellerCarts_AndCrashOften()
    {
        var (crashes, multi, paid, retries, retired) = (0, 0, 0, 0, 0);
        var refused = new Dictionary<string, int>();
        foreach (var seed in Enumerable.Range(500, 3))
        {
            var simulator = new SagaSimulator(seed);
            await simulator.RunAsync(StepsPerSeed);
            (crashes, multi, paid, retries, retired) = (crashes + simulator.Crashes, multi + simulator.MultiSellerCarts, paid + simulator.CartsPaid,
                retries + simulator.KeyedRetries, retired + simulator.Retired);
            foreach (var (code, n) in simulator.Refused)
            {
                refused[code] = refused.GetValueOrDefault(code) + n;
            }
        }
        var seen = $"crashes {crashes}, multi-seller carts {multi}, paid {paid}, keyed retries {retries}, retired {retired}, refused: " + string.Join(", ", refused.Select(r => $"{r.Key} {r.Value}"));
        Assert.True(refused.GetValueOrDefault("place insufficient_stock") > 10, "placements refused for want of stock (the compensation path): " + seen);
        Assert.True(crashes > 15, $"crashes {crashes}");
        Assert.True(multi > 100, $"multi-seller carts placed {multi}");
        TestContext.Current.SendDiagnosticMessage(seen);
        Assert.True(paid > 20, "carts paid (keyed retries take a quarter of the placement steps): " + seen);
        Assert.True(retries > 30, "keyed placements retried: " + seen);
        Assert.True(retired > 50, "seller orders retired from the engines during the runs: " + seen);
        Assert.True(refused.GetValueOrDefault("keyed place partition_unavailable") > 3, "keyed placements whose answer a crash took: " + seen);
    }
}
