using System.Text.Json.Nodes;

namespace Surge.Server.Tests;

/// <summary>`surge bench soak` at a small size: it runs the lifecycle to the end, recovers the partitions three times,
/// loses nothing, and reports the names outside checks read.</summary>
public sealed class SoakBenchTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-soak-tests-").FullName;

    [Fact]
    public async Task ASmallSoak_LosesNothing_AndReportsEverySample()
    {
        var json = Path.Combine(_directory, "soak.json");
        var (exit, output) = await CliProcess.RunAsync(["bench", "soak", "--orders", "20000", "--rate", "10000", "--partitions", "4", "--samples", "4",
            "--dir", _directory, "--json", json], TimeSpan.FromMinutes(5));

        Assert.True(exit == 0, $"exit {exit}:\n{output}");
        var result = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(0, result["lost"]!.GetValue<long>());
        var acknowledged = result["acknowledged"]!.GetValue<long>();
        Assert.True(acknowledged >= 20_000, $"acknowledged {acknowledged}");
        Assert.Equal(acknowledged, result["in_read_model"]!.GetValue<long>());
        var samples = result["samples"]!.AsArray();
        Assert.True(samples.Count >= 4, $"{samples.Count} samples");
        foreach (var sample in samples)
        {
            foreach (var name in new[] { "orders_processed", "engine_bytes", "rss_bytes", "snapshot_bytes", "read_model_lag_s", "listing_p99_ms" })
            {
                Assert.NotNull(sample![name]);
            }
        }
        Assert.Equal(3, samples.Count(s => s!["recovery_s"] is not null)); // recovered at 20 %, 50 % and 100 % of the run
        Assert.True(samples[^1]!["orders_processed"]!.GetValue<long>() >= 20_000);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
