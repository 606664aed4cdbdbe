using System.Diagnostics;
using System.Globalization;
using System.Net;
using Surge.Testing;

namespace Surge.Server.Tests;

/// <summary>
/// Cluster mode with two `surge serve` processes (Orleans membership in Redis, journals in PostgreSQL — both
/// started by the test on loopback). The silo that hosts every partition is killed with SIGKILL; the other
/// silo must serve every partition again (re-activated and recovered from PostgreSQL) within a bound, with every
/// acknowledged order and all stock accounted for. Today only the silo that took the sellers and SKUs through
/// its API can route their orders (that state is not shared between silos yet), so the API used is the survivor's.
/// </summary>
public sealed class ClusterFailoverTests
{
    private const string AdminKey = "ak_cluster_failover_test_key_0123456789";

    /// <summary>How long the partitions may take to serve again after the kill (the goal is about 2 s;
    /// the bound leaves room for a loaded CI machine).</summary>
    private static readonly TimeSpan FailoverBound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task KillingTheSiloThatHostsThePartitions_TheOtherServesThemAgain_AndNothingAcknowledgedIsLost()
    {
        await using var redis = await LocalRedis.StartAsync([]);
        await using var postgres = await LocalPostgres.StartAsync();
        var directory = Directory.CreateTempSubdirectory("surge-cluster-test-").FullName;
        Process? host = null, survivor = null;
        try
        {
            // The first silo activates every partition at start; the second joins afterwards and hosts none.
            host = await StartSiloAsync(redis, postgres, Path.Combine(directory, "host"), out _);
            survivor = await StartSiloAsync(redis, postgres, Path.Combine(directory, "survivor"), out var port);
            var api = new ApiClient(new Uri($"http://127.0.0.1:{port}"), AdminKey);
            Assert.Equal(HttpStatusCode.Created, (await api.PostAsync("/v1/warehouses", new { id = "wh-1", region = "seoul", country = "KR" })).Status);
            var sellers = new List<(string Id, ApiClient Client)>();
            for (var s = 0; s < 12; s++)
            {
                var created = await api.PostAsync("/v1/sellers", new { name = $"seller {s}" });
                var client = new ApiClient(api.BaseAddress, created.Json!["api_key"]!.GetValue<string>());
                Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/skus", TestServer.Sku("item"))).Status);
                Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/stock/receipts", new { sku = "item", warehouse_id = "wh-1", quantity = 100 })).Status);
                sellers.Add((created.Json!["id"]!.GetValue<string>(), client));
            }
            var acknowledged = new List<string>();
            var units = new Dictionary<string, int>();
            async Task<bool> PlaceAsync(string seller, string buyer)
            {
                var placed = await api.PostAsync("/v1/orders", TestServer.Order(buyer, (seller, "item", 1)));
                if (placed.Status != HttpStatusCode.Created)
                {
                    return false;
                }
                acknowledged.Add(placed.Json!["id"]!.GetValue<string>());
                units[seller] = units.GetValueOrDefault(seller) + 1;
                return true;
            }
            foreach (var (id, _) in sellers)
            {
                Assert.True(await PlaceAsync(id, "before-" + id));
            }

            host.Kill(); // SIGKILL
            var clock = Stopwatch.StartNew();
            var waiting = sellers.Select(s => s.Id).ToHashSet();
            var attempt = 0;
            await Poll.UntilAsync(async () =>
            {
                foreach (var seller in waiting.ToList())
                {
                    if (await PlaceAsync(seller, $"after-{seller}-{attempt++}"))
                    {
                        waiting.Remove(seller);
                    }
                }
                return waiting.Count == 0;
            }, "every partition serves again on the surviving silo", (int)FailoverBound.TotalSeconds);
            TestContext.Current.SendDiagnosticMessage($"partitions served again {clock.Elapsed.TotalSeconds:F2} s after the kill");

            foreach (var id in acknowledged)
            {
                Assert.Equal(HttpStatusCode.OK, (await api.GetAsync($"/v1/orders/{id}")).Status);
            }
            foreach (var (id, client) in sellers)
            {
                var stock = (await client.GetAsync("/v1/skus/item/stock")).Json!;
                Assert.Equal(units[id], stock["reserved"]!.GetValue<long>()); // each acknowledged order holds its unit, no more
                Assert.Equal(100 - units[id], stock["available"]!.GetValue<long>());
            }
        }
        finally
        {
            foreach (var process in new[] { host, survivor })
            {
                if (process is { HasExited: false })
                {
                    process.Kill();
                    await process.WaitForExitAsync(TestContext.Current.CancellationToken);
                }
                process?.Dispose();
            }
            Directory.Delete(directory, recursive: true);
        }
    }

    private static Task<Process> StartSiloAsync(LocalRedis redis, LocalPostgres postgres, string data, out int port)
    {
        port = LocalProcess.FreePort();
        return CliProcess.StartAsync(["serve", "--data", data, "--port", port.ToString(CultureInfo.InvariantCulture), "--partitions", "8",
            "--cluster-redis", $"127.0.0.1:{redis.Port}", "--journal-postgres", postgres.ConnectionString],
            "surge: ready", new Dictionary<string, string> { ["SURGE_ADMIN_KEY"] = AdminKey });
    }
}
