using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Surge.Autoscale.Actuators;
using Surge.Testing;

namespace Surge.Server.Tests;

/// <summary>The actuators of elastic capacity: local silo processes (start, graceful drain) and the Kubernetes
/// StatefulSet scale; the signals read from silos' /metrics; the order history the forecast learns from.</summary>
[Collection(ClusterProcesses.Name)]
public sealed class ElasticTests
{
    private const string AdminKey = "ak_elastic_test_key_0123456789abcdef01";

    /// <summary>Retries of one order answered 503 deadline_exceeded (a loaded machine during a move), at most.</summary>
    private const int DeadlineRetriesMax = 5;

    [Fact]
    public async Task DrainingASilo_AndAddingOne_UnderLoad_FailsNoOrder_AndThePartitionsFollow()
    {
        await using var redis = await LocalRedis.StartAsync([]);
        await using var postgres = await LocalPostgres.StartAsync();
        var root = Directory.CreateTempSubdirectory("surge-elastic-test-").FullName;
        var actuator = new LocalSiloActuator(new LocalSiloOptions
        {
            Executable = "dotnet", ExecutableArguments = [CliProcess.FindCli()], DataRoot = root, Redis = $"127.0.0.1:{redis.Port}",
            Postgres = postgres.ConnectionString, Partitions = 8, AdminKey = AdminKey, ServeArguments = ["--no-categories"],
        });
        try
        {
            // The first silo activates every partition; two more join and take their share.
            await actuator.ScaleAsync(1, TestContext.Current.CancellationToken);
            Assert.True(await actuator.WaitServingAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            await actuator.ScaleAsync(3, TestContext.Current.CancellationToken);
            Assert.True(await actuator.WaitServingAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            Assert.Equal(3, actuator.Target);
            var host = actuator.Silos[0];
            var others = actuator.Silos.Skip(1).Select(s => new ApiClient(s.Api, AdminKey)).ToArray();
            Assert.Equal(HttpStatusCode.Created, (await others[0].PostAsync("/v1/warehouses", new { id = "wh-1", region = "seoul", country = "KR" })).Status);
            var sellers = new List<string>();
            for (var s = 0; s < 8; s++)
            {
                var created = await others[s % 2].PostAsync("/v1/sellers", new { name = $"seller {s}" });
                var seller = new ApiClient(others[(s + 1) % 2].BaseAddress, created.Json!["api_key"]!.GetValue<string>());
                Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", TestServer.Sku("item"))).Status);
                Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", new { sku = "item", warehouse_id = "wh-1", quantity = 100_000 })).Status);
                sellers.Add(created.Json!["id"]!.GetValue<string>());
            }
            await PartitionSpread.WaitAsync([new ApiClient(host.Api, AdminKey), .. others], 8);
            Assert.NotEmpty(await PartitionSpread.HostedAsync(new ApiClient(host.Api, AdminKey)));

            // Load through the two silos that stay; the first drains meanwhile (its partitions move to the others), then
            // a new silo joins (partitions move to it).
            var acknowledged = new ConcurrentBag<string>();
            var failures = new ConcurrentBag<string>();
            var deadlineRetries = 0;
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    // Each order has an Idempotency-Key: an answer 503 deadline_exceeded ("it may still complete: retry with
                    // the same Idempotency-Key") is retried as it says, a bounded number of times, and counted.
                    var order = TestServer.Order($"b-{w}-{i}", (sellers[(w * 3 + i) % sellers.Count], "item", 1));
                    var placed = await others[(w + i) % 2].PostAsync("/v1/orders", order, idempotencyKey: $"k-{w}-{i}");
                    for (var retry = 0; retry < DeadlineRetriesMax && placed.Status == HttpStatusCode.ServiceUnavailable && placed.ProblemCode == "deadline_exceeded"; retry++)
                    {
                        Interlocked.Increment(ref deadlineRetries);
                        placed = await others[(w + i + retry + 1) % 2].PostAsync("/v1/orders", order, idempotencyKey: $"k-{w}-{i}");
                    }
                    if (placed.Status == HttpStatusCode.Created)
                    {
                        acknowledged.Add(placed.Json!["id"]!.GetValue<string>());
                    }
                    else
                    {
                        failures.Add($"{(int)placed.Status} {placed.Body}");
                    }
                }
            })).ToArray();
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count >= 100), "the load flows", 30);
            var clock = Stopwatch.StartNew();
            await actuator.DrainAsync(host);
            TestContext.Current.SendDiagnosticMessage($"the silo drained and left in {clock.Elapsed.TotalSeconds:F2} s");
            Assert.Equal(0, host.ExitCode);
            await PartitionSpread.WaitAsync(others, 8);
            var afterDrain = acknowledged.Count;
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count >= afterDrain + 100), "orders go on after the drain", 30);

            await actuator.ScaleAsync(3, TestContext.Current.CancellationToken);
            Assert.True(await actuator.WaitServingAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            var joined = new ApiClient(actuator.Silos.Single(s => s != host && !others.Any(o => o.BaseAddress == s.Api)).Api, AdminKey);
            await PartitionSpread.WaitAsync([.. others, joined], 8);
            var afterJoin = acknowledged.Count;
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count >= afterJoin + 100), "orders go on after the partitions moved to the new silo", 30);
            await stop.CancelAsync();
            await Task.WhenAll(workers);

            TestContext.Current.SendDiagnosticMessage($"{acknowledged.Count} orders, {deadlineRetries} retried after deadline_exceeded");
            // Neither a graceful drain nor partitions moving to a new silo fails an order (retried as the answer says);
            // and since retries carry their key, each order holds exactly one unit.
            Assert.True(failures.IsEmpty, $"{failures.Count} orders failed; the first: " + string.Join("\n", failures.Take(5)));
            Assert.Equal(3, actuator.Target);
            Assert.Equal(0, actuator.Failures);
            foreach (var id in acknowledged)
            {
                Assert.Equal(HttpStatusCode.OK, (await others[0].GetAsync($"/v1/orders/{id}")).Status);
            }
            long reserved = 0;
            foreach (var seller in sellers)
            {
                reserved += (await others[1].GetAsync($"/v1/skus/item/stock?seller_id={seller}")).Json!["reserved"]!.GetValue<long>();
            }
            Assert.Equal(acknowledged.Count, reserved); // every acknowledged order holds its unit, nothing else does
        }
        finally
        {
            await actuator.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task KubernetesActuator_PatchesTheStatefulSetsScale()
    {
        var patches = new ConcurrentQueue<(string ContentType, string Body)>();
        var replicas = 2;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var api = builder.Build();
        const string path = "/apis/apps/v1/namespaces/shop/statefulsets/silos/scale";
        string Scale() => $$$"""{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"silos","namespace":"shop"},"spec":{"replicas":{{{replicas}}}}}""";
        api.MapGet(path, () => Results.Text(Scale(), "application/json"));
        api.MapMethods(path, ["PATCH"], async (HttpContext context) =>
        {
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            patches.Enqueue((context.Request.ContentType ?? "", body));
            replicas = JsonNode.Parse(body)!["spec"]!["replicas"]!.GetValue<int>();
            return Results.Text(Scale(), "application/json");
        });
        await api.StartAsync(TestContext.Current.CancellationToken);
        var client = new k8s.Kubernetes(new k8s.KubernetesClientConfiguration { Host = api.Urls.First() });
        await using var actuator = new KubernetesActuator(client, new KubernetesActuatorOptions { Namespace = "shop", StatefulSet = "silos" });

        Assert.Equal(2, await actuator.RefreshAsync(TestContext.Current.CancellationToken));
        await actuator.ScaleAsync(5, TestContext.Current.CancellationToken);

        Assert.Equal(5, actuator.Target);
        var (contentType, patch) = Assert.Single(patches);
        Assert.StartsWith("application/merge-patch+json", contentType);
        Assert.Equal(5, JsonNode.Parse(patch)!["spec"]!["replicas"]!.GetValue<int>());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => actuator.ScaleAsync(-1, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task SiloSignals_ReadTheShareOfItsProcessorsEachSiloKeptBusy()
    {
        var cpuSeconds = new[] { 10.0, 40.0 };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var silos = builder.Build();
        // Two fake silos (/a, /b) of 2 processors each; only the CPU counters move between the reads.
        silos.MapGet("/{silo}/metrics", (string silo) => Results.Text(
            $"surge_orders_accepted_total 0\nsurge_process_cpus 2\nsurge_process_cpu_seconds_total {cpuSeconds[silo == "a" ? 0 : 1]}\n", "text/plain"));
        await silos.StartAsync(TestContext.Current.CancellationToken);
        var (a, b) = (new Uri(silos.Urls.First() + "/a/"), new Uri(silos.Urls.First() + "/b/"));
        using var http = new HttpClient();
        var signals = new SiloSignals(http);
        var t0 = DateTimeOffset.UtcNow;

        Assert.Equal(0, (await signals.ReadAsync([a, b], 2, t0, TestContext.Current.CancellationToken)).Cpu); // one read: no interval yet
        cpuSeconds[0] += 3; // 3 CPU-seconds in 2 s on 2 processors: 75 % busy
        cpuSeconds[1] += 1; // 25 %
        var read = await signals.ReadAsync([a, b], 2, t0.AddSeconds(2), TestContext.Current.CancellationToken);

        Assert.Equal((0.75 + 0.25) / 2, read.Cpu, 6);
    }

    [Fact]
    public async Task SiloSignals_CountOrdersAndCapacityRefusals_NotSoldOut()
    {
        await using var server = await TestServer.StartAsync(o => o with { Http = o.Http with { CapacityOrdersPerSecond = 1, CapacityBurst = TimeSpan.FromSeconds(2) } });
        var (_, seller) = await server.SellerWithStockAsync("few", units: 1);
        using var http = new HttpClient();
        var signals = new SiloSignals(http);
        var t0 = DateTimeOffset.UtcNow;
        await signals.ReadAsync([server.Server.BaseAddress], 1, t0, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, (await server.Admin.PostAsync("/v1/orders", TestServer.Order("a", (seller, "few", 1)))).Status);
        Assert.Equal("insufficient_stock", (await server.Admin.PostAsync("/v1/orders", TestServer.Order("b", (seller, "few", 1)))).ProblemCode);
        Assert.Equal("silo_capacity", (await server.Admin.PostAsync("/v1/orders", TestServer.Order("c", (seller, "few", 1)))).ProblemCode);
        Assert.Equal("silo_capacity", (await server.Admin.PostAsync("/v1/orders", TestServer.Order("d", (seller, "few", 1)))).ProblemCode);

        var read = await signals.ReadAsync([server.Server.BaseAddress, new Uri("http://127.0.0.1:1")], 1, t0.AddSeconds(2), TestContext.Current.CancellationToken);

        Assert.Equal((1 + 2) / 2.0, read.OrdersPerS, 3); // accepted and refused for want of room, over 2 s; sold out is not load the cluster could take
        Assert.Equal(2 / 3.0, read.RejectShare, 3);

        // A server alone hosts every partition it has.
        var metrics = await http.GetStringAsync(new Uri(server.Server.BaseAddress, "/metrics"), TestContext.Current.CancellationToken);
        Assert.Equal(Enumerable.Range(0, server.Server.State.Options.Partitions), SiloSignals.HostedPartitions(metrics));
    }

    [Fact]
    public void OrderHistory_LearnsTheDailyProfile_AndRefusesMalformedRows()
    {
        var file = Path.GetTempFileName();
        try
        {
            var rows = new List<string> { "minute,orders" };
            for (var day = 1; day <= 3; day++)
            {
                for (var minute = 0; minute < 24 * 60; minute += 1)
                {
                    var at = new DateTimeOffset(2026, 11, day, 0, 0, 0, TimeSpan.Zero).AddMinutes(minute);
                    rows.Add($"{at:O},{(minute < 60 ? 1_200 : 60) + day}"); // a midnight hour twenty times the rest
                }
            }
            File.WriteAllLines(file, rows);
            var profile = OrderHistory.ReadProfile(file);
            Assert.Equal(1_202, profile.Mean[30], 6);
            Assert.Equal(62, profile.Mean[600], 6);
            Assert.True(profile.Upper[30] > profile.Mean[30]);
            var forecast = OrderHistory.Forecast(profile, new DateTimeOffset(2026, 11, 4, 23, 59, 30, TimeSpan.Zero), TimeSpan.FromMinutes(5));
            Assert.Contains(forecast, f => f.At.Hour == 0 && Math.Abs(f.OrdersPerS - 1_202 / 60.0) < 1e-9); // the next midnight, from the profile

            File.AppendAllLines(file, ["2026-11-04T00:00:00Z,many"]);
            Assert.Contains(":4322:", Assert.Throws<InvalidDataException>(() => OrderHistory.ReadProfile(file)).Message);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
