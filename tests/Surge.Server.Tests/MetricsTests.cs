using System.Diagnostics;
using System.Net;

namespace Surge.Server.Tests;

public sealed class MetricsTests
{
    [Fact]
    public async Task Metrics_CountOrderOutcomesByReason_AndPassPromtoolsCheck()
    {
        await using var server = await TestServer.StartAsync();
        var (_, sellerId) = await server.SellerWithStockAsync("cup", units: 2);
        var accepted = await server.Admin.PostAsync("/v1/orders", TestServer.Order("m1", (sellerId, "cup", 2)));
        var refused = await server.Admin.PostAsync("/v1/orders", TestServer.Order("m2", (sellerId, "cup", 1)), idempotencyKey: "m2-key");
        Assert.Equal((HttpStatusCode.Created, "insufficient_stock"), (accepted.Status, refused.ProblemCode));

        var metrics = await new ApiClient(server.Server.BaseAddress, null).GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, metrics.Status);
        Assert.Equal("text/plain", metrics.ContentType);
        var lines = metrics.Body.Split('\n');
        Assert.Contains("surge_orders_accepted_total 1", lines);
        Assert.Contains("surge_orders_rejected_total{reason=\"insufficient_stock\"} 1", lines);
        Assert.Contains(lines, l => l.StartsWith("surge_partition_queued_commands{partition=\"0\"}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("surge_flow_lag_records{stage=\"fulfillment\",partition=\"0\"}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("surge_journal_group_commits_total{partition=", StringComparison.Ordinal));
        // The keyed refusal is kept (with its answer) in the seller's partition, and nothing was forgotten early.
        Assert.Equal(1, lines.Where(l => l.StartsWith("surge_idempotency_keys{", StringComparison.Ordinal)).Sum(l => double.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(lines.Where(l => l.StartsWith("surge_idempotency_keys_evicted_early{", StringComparison.Ordinal)), l => Assert.EndsWith(" 0", l));
        Assert.DoesNotContain(lines, l => l.Contains("ord_", StringComparison.Ordinal) || l.Contains("sel_", StringComparison.Ordinal));
        Assert.True(Surge.Autoscale.Actuators.SiloSignals.Sum(metrics.Body, "surge_process_cpu_seconds_total") > 0, "the process's CPU time is exported");
        Assert.Contains($"surge_process_cpus {Environment.ProcessorCount}", lines);

        var (exit, output) = await PromtoolAsync(metrics.Body);
        Assert.True(exit == 0 && output.Trim().Length == 0, $"promtool check metrics (exit {exit}):\n{output}");
    }

    /// <summary>Runs `promtool check metrics` (Debian package prometheus; scripts/test.sh installs it) on the text.</summary>
    private static async Task<(int Exit, string Output)> PromtoolAsync(string exposition)
    {
        var start = new ProcessStartInfo("promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"promtool is not installed ({e.Message}): apt-get install prometheus (scripts/test.sh does)");
            throw;
        }
        using (process)
        {
            await process.StandardInput.WriteAsync(exposition);
            process.StandardInput.Close();
            var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken)
                + await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            return (process.ExitCode, output);
        }
    }
}
