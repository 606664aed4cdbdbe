using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Surge.Flow;

namespace Surge.Server.Tests;

/// <summary>
/// The downstream flow end to end with the real `surge carrier-sim` process: order → payment → plan → signed
/// manifest to the carrier → tracking events back → delivered. Signatures are checked on both sides, and the
/// manifests the carrier received are verified again by the `standardwebhooks` npm package under Node.
/// </summary>
public sealed class CarrierFlowTests
{
    internal const string CarrierId = "sim-parcel";
    private static readonly string Secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private sealed record Setup(TestServer Server, Process Carrier, int CarrierPort, string Capture) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            Carrier.Kill(entireProcessTree: true);
            await Carrier.WaitForExitAsync();
            Carrier.Dispose();
            File.Delete(Capture);
        }
    }

    private static async Task<Setup> StartAsync(string[] simArgs, DispatchOptions? dispatch = null)
    {
        var serverPort = SurgeServer.FreePort();
        var capture = Path.Combine(Path.GetTempPath(), $"surge-capture-{Guid.NewGuid():N}.jsonl");
        var (carrier, carrierPort) = await CliProcess.StartOnFreePortAsync(port =>
            ["carrier-sim", "--port", port.ToString(CultureInfo.InvariantCulture), "--carrier-id", CarrierId, "--secret", Secret,
                "--callback", $"http://127.0.0.1:{serverPort}/", "--step-ms", "100", "--capture", capture, .. simArgs],
            "carrier-sim: ready");
        var server = await TestServer.StartAsync(o => o with { Http = o.Http with { Port = serverPort }, Flow = o.Flow with { Rules = Rules(carrierPort), Dispatch = dispatch ?? o.Flow.Dispatch } });
        return new Setup(server, carrier, carrierPort, capture);
    }

    internal static FulfillmentRules Rules(int carrierPort) => new()
    {
        Carriers =
        [
            new CarrierConfig
            {
                Id = CarrierId, Endpoint = $"http://127.0.0.1:{carrierPort}/shipments", Secret = Secret, Countries = ["KR"],
                Classes = [ShippingClass.Parcel], Services = ["standard"], RateLimitPerSecond = 1_000,
                Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(3_000, 400) },
            },
        ],
    };

    private static async Task<List<string>> PaidOrdersAsync(TestServer server, string sellerId, string sku, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order($"buyer-{i}", (sellerId, sku, 1)));
            Assert.Equal(HttpStatusCode.Created, placed.Status);
            var id = placed.Json!["id"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { })).Status);
            ids.Add(id);
        }
        return ids;
    }

    private static async Task<List<JsonNode>> OrdersAsync(TestServer server, IEnumerable<string> ids)
    {
        var orders = new List<JsonNode>();
        foreach (var id in ids)
        {
            orders.Add((await server.Admin.GetAsync($"/v1/orders/{id}")).Json!);
        }
        return orders;
    }

    private static async Task<JsonNode> SimStatsAsync(int port) =>
        JsonNode.Parse(await Http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/stats"), TestContext.Current.CancellationToken))!;

    private static IEnumerable<JsonNode> Shipments(JsonNode order) =>
        order["seller_orders"]!.AsArray().SelectMany(c => c!["shipments"]!.AsArray()).Select(s => s!);

    /// <summary>Runs the npm `standardwebhooks` verifier over what the carrier received; returns (verified, failed).</summary>
    private static async Task<(int Verified, int Failed)> VerifyWithNodeAsync(string capture, string? secret = null)
    {
        var tool = Path.Combine(CliProcess.RepositoryRoot(), "tools", "webhook-verify");
        Assert.True(Directory.Exists(Path.Combine(tool, "node_modules", "standardwebhooks")),
            $"run `npm install` in {tool} first (scripts/test.sh does)");
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = tool };
        foreach (var arg in new[] { "verify.mjs", secret ?? Secret, capture })
        {
            start.ArgumentList.Add(arg);
        }
        using var node = Process.Start(start)!;
        var output = await node.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = await node.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await node.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(output.Length > 0, $"the verifier printed nothing: {errors}");
        var result = JsonNode.Parse(output)!;
        return (result["verified"]!.GetValue<int>(), result["failed"]!.GetValue<int>());
    }

    [Fact]
    public async Task PaidOrders_AreHandedToTheCarrier_AndFollowItsEventsToDelivered_InOrder_WithSignaturesVerifiedByNode()
    {
        await using var setup = await StartAsync([]);
        var server = setup.Server;
        var (_, sellerId) = await server.SellerWithStockAsync("teapot", units: 100);
        var ids = await PaidOrdersAsync(server, sellerId, "teapot", 12);

        await Poll.UntilAsync(async () => (await OrdersAsync(server, ids)).All(o => o["status"]!.GetValue<string>() == "delivered"),
            "every order is delivered", seconds: 45);

        var orders = await OrdersAsync(server, ids);
        var shipments = orders.SelectMany(Shipments).ToList();
        Assert.Equal(12, shipments.Count);
        Assert.All(shipments, s =>
        {
            Assert.Equal("delivered", s["status"]!.GetValue<string>());
            Assert.StartsWith("SIM", s["tracking_number"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal([("in_transit", "PU"), ("out_for_delivery", "OD"), ("delivered", "DL")],
                s["tracking"]!.AsArray().Select(t => (t!["status"]!.GetValue<string>(), t["raw_code"]!.GetValue<string>())));
        });
        Assert.Equal(12, shipments.Select(s => s["tracking_number"]!.GetValue<string>()).Distinct().Count());
        var stats = await SimStatsAsync(setup.CarrierPort);
        Assert.Equal((12, 0L), (stats["shipments"]!.GetValue<int>(), stats["bad_signatures"]!.GetValue<long>()));
        var (verified, failed) = await VerifyWithNodeAsync(setup.Capture);
        Assert.Equal((stats["requests"]!.GetValue<int>(), 0), (verified, failed));
        Assert.True(verified > 0);
    }

    /// <summary>Reads a Server-Sent Events stream until its `end` event: (event, data) pairs in order.</summary>
    private static async Task<List<(string Event, JsonNode Data)>> ReadStreamAsync(Stream stream, TimeSpan deadline)
    {
        using var reader = new StreamReader(stream);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(deadline);
        var events = new List<(string, JsonNode)>();
        var name = "message";
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name, JsonNode.Parse(line["data: ".Length..])!));
                if (name == "end")
                {
                    break;
                }
            }
        }
        return events;
    }

    [Fact]
    public async Task TheBuyersLiveStream_FollowsTheOrderFromPlacedToDelivered_InEnglishOrKorean()
    {
        await using var setup = await StartAsync([]);
        var server = setup.Server;
        var (_, sellerId) = await server.SellerWithStockAsync("lamp", units: 10);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("buyer-live", (sellerId, "lamp", 1)));
        var id = placed.Json!["id"]!.GetValue<string>();
        var token = placed.Json!["tracking_token"]!.GetValue<string>();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Server.BaseAddress, $"/v1/track/{token}/events"));
        request.Headers.AcceptLanguage.ParseAdd("ko-KR,ko;q=0.9,en;q=0.8");
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reading = ReadStreamAsync(await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken), TimeSpan.FromSeconds(45));

        Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { })).Status);
        var events = await reading;

        Assert.Equal(("end", "delivered"), (events[^1].Event, events[^1].Data["status"]!.GetValue<string>()));
        var steps = events.Where(e => e.Event == "timeline").Select(e => e.Data["status"]!.GetValue<string>()).ToList();
        Assert.Equal(["placed", "paid", "shipment_planned", "handed_to_carrier", "in_transit", "out_for_delivery", "delivered"], steps);
        Assert.Contains("배송이 완료되었습니다", events.Select(e => e.Data["message"]?.GetValue<string>()));
        var english = (await new ApiClient(server.Server.BaseAddress, null).GetAsync($"/v1/track/{token}?lang=en")).Json!;
        Assert.Equal(("en", "delivered"), (english["language"]!.GetValue<string>(), english["status"]!.GetValue<string>()));
        Assert.Equal("Delivered", english["timeline"]!.AsArray()[^1]!["message"]!.GetValue<string>());
        Assert.Equal("DL", english["timeline"]!.AsArray()[^1]!["raw_code"]!.GetValue<string>());
    }

    [Fact]
    public async Task KillNine_WhileManifestsAreInFlight_RestartLosesNothing_AndRepeatsOnlyWithTheSameIds()
    {
        const string AdminKey = "ak_dispatch_crash_test";
        var directory = Path.Combine(Path.GetTempPath(), "surge-dispatch-crash", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var serverPort = SurgeServer.FreePort();
        var capture = Path.Combine(directory, "capture.jsonl");
        // The carrier answers each manifest 1.5 s after receiving it: the server is killed while it waits.
        var (carrier, carrierPort) = await CliProcess.StartOnFreePortAsync(port =>
            ["carrier-sim", "--port", port.ToString(CultureInfo.InvariantCulture), "--carrier-id", CarrierId, "--secret", Secret,
                "--callback", $"http://127.0.0.1:{serverPort}/", "--step-ms", "100", "--latency-ms", "1500", "--capture", capture],
            "carrier-sim: ready");
        using var carrierProcess = carrier;
        var rules = Path.Combine(directory, "rules.json");
        await File.WriteAllTextAsync(rules, System.Text.Json.JsonSerializer.Serialize(Rules(carrierPort), FulfillmentRules.JsonOptions),
            TestContext.Current.CancellationToken);
        string[] serve = ["serve", "--data", Path.Combine(directory, "data"), "--port", serverPort.ToString(CultureInfo.InvariantCulture),
            "--partitions", "4", "--fulfillment", rules, "--allow-outbound-host", "127.0.0.1"];
        var environment = new Dictionary<string, string> { ["SURGE_ADMIN_KEY"] = AdminKey };
        var process = await CliProcess.StartAsync(serve, "surge: ready", environment);
        try
        {
            var admin = new ApiClient(new Uri($"http://127.0.0.1:{serverPort}/"), AdminKey);
            await admin.PostAsync("/v1/warehouses", new { id = "wh-kr-1", region = "seoul", country = "KR" });
            var created = (await admin.PostAsync("/v1/sellers", new { name = "crash seller" })).Json!;
            var seller = new ApiClient(admin.BaseAddress, created["api_key"]!.GetValue<string>());
            await seller.PostAsync("/v1/skus", TestServer.Sku("mug"));
            await seller.PostAsync("/v1/stock/receipts", new { sku = "mug", warehouse_id = "wh-kr-1", quantity = 100 });
            var ids = new List<string>();
            for (var i = 0; i < 20; i++)
            {
                var placed = await admin.PostAsync("/v1/orders", TestServer.Order($"crash-{i}", (created["id"]!.GetValue<string>(), "mug", 1)));
                var id = placed.Json!["id"]!.GetValue<string>();
                Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/v1/orders/{id}/payment", new { })).Status);
                ids.Add(id);
            }
            await Poll.UntilAsync(async () => File.Exists(capture) && (await File.ReadAllLinesAsync(capture)).Length > 0, "a manifest reached the carrier", seconds: 45);

            process.Kill(entireProcessTree: true); // the carrier has not answered yet
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            process.Dispose();
            process = await CliProcess.StartAsync(serve, "surge: ready", environment);

            await Poll.UntilAsync(async () => (await OrdersAsync(admin, ids)).All(o => o["status"]!.GetValue<string>() == "delivered"),
                "every paid order is delivered after the restart", seconds: 60);
            var shipments = (await OrdersAsync(admin, ids)).SelectMany(Shipments).ToList();
            Assert.Equal(20, shipments.Count);
            var stats = await SimStatsAsync(carrierPort);
            Assert.Equal(20, stats["shipments"]!.GetValue<int>()); // each shipment id once at the carrier
            Assert.Equal(20, shipments.Select(s => s["tracking_number"]!.GetValue<string>()).Distinct().Count());
            var manifests = (await File.ReadAllLinesAsync(capture, TestContext.Current.CancellationToken)).Select(l => JsonNode.Parse(l)!)
                .Select(l => (Id: l["webhook-id"]!.GetValue<string>(), Shipments: JsonNode.Parse(l["body"]!.GetValue<string>())!["data"]!["shipments"]!
                    .AsArray().Select(x => x!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList()))
                .ToList();
            // The manifest that was never answered was sent again after the restart…
            Assert.Contains(manifests.SelectMany(m => m.Shipments).GroupBy(id => id), g => g.Count() > 1);
            // …and a webhook id always carried the same shipments.
            Assert.All(manifests.GroupBy(m => m.Id), g => Assert.Single(g.Select(m => string.Join(",", m.Shipments)).Distinct()));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            process.Dispose();
            carrier.Kill(entireProcessTree: true);
            await carrier.WaitForExitAsync(TestContext.Current.CancellationToken);
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<List<JsonNode>> OrdersAsync(ApiClient admin, IEnumerable<string> ids)
    {
        var orders = new List<JsonNode>();
        foreach (var id in ids)
        {
            orders.Add((await admin.GetAsync($"/v1/orders/{id}")).Json!);
        }
        return orders;
    }

    /// <summary>A subscriber endpoint on loopback that keeps what it receives (and writes it as the Node verifier reads it).</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly Microsoft.AspNetCore.Builder.WebApplication _app;

        public Receiver(int port, string capture)
        {
            var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            Microsoft.AspNetCore.Hosting.WebHostBuilderKestrelExtensions.ConfigureKestrel(builder.WebHost, k => k.Listen(IPAddress.Loopback, port));
            _app = builder.Build();
            Microsoft.AspNetCore.Builder.EndpointRouteBuilderExtensions.MapPost(_app, "/hook/{name}", async (Microsoft.AspNetCore.Http.HttpContext c) =>
            {
                using var reader = new StreamReader(c.Request.Body);
                var body = await reader.ReadToEndAsync();
                var line = new Dictionary<string, string>
                {
                    ["webhook-id"] = c.Request.Headers["webhook-id"].ToString(),
                    ["webhook-timestamp"] = c.Request.Headers["webhook-timestamp"].ToString(),
                    ["webhook-signature"] = c.Request.Headers["webhook-signature"].ToString(),
                    ["body"] = body,
                };
                lock (Received)
                {
                    Received.Add(((string)c.Request.RouteValues["name"]!, line));
                    File.AppendAllText(capture, System.Text.Json.JsonSerializer.Serialize(line) + "\n");
                }
                return Microsoft.AspNetCore.Http.Results.Ok();
            });
        }

        public List<(string Name, Dictionary<string, string> Request)> Received { get; } = [];

        public Task StartAsync() => _app.StartAsync(TestContext.Current.CancellationToken);

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }

    [Fact]
    public async Task MerchantWebhooks_DeliverTheirSellersOrderEvents_InOrder_Signed_AndVerifiedByNode()
    {
        await using var setup = await StartAsync([]);
        var server = setup.Server;
        var capture = Path.Combine(Path.GetTempPath(), $"surge-hooks-{Guid.NewGuid():N}.jsonl");
        var port = SurgeServer.FreePort();
        await using var receiver = new Receiver(port, capture);
        await receiver.StartAsync();
        var (sellerA, idA) = await server.SellerWithStockAsync("kettle", units: 10);
        var (sellerB, _) = await server.SellerWithStockAsync("toaster", units: 10);
        string[] types = ["order.paid", "order.dispatched", "order.delivered"];
        var hookA = await sellerA.PostAsync("/v1/webhooks", new { url = $"http://127.0.0.1:{port}/hook/a", event_types = types });
        var hookB = await sellerB.PostAsync("/v1/webhooks", new { url = $"http://127.0.0.1:{port}/hook/b", event_types = types });
        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (hookA.Status, hookB.Status));
        var secret = hookA.Json!["secret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal("invalid_request", (await sellerA.PostAsync("/v1/webhooks", new { url = "ftp://x", event_types = types })).ProblemCode);
        string[] unknown = ["order.teleported"];
        Assert.Equal("invalid_request", (await sellerA.PostAsync("/v1/webhooks", new { url = $"http://127.0.0.1:{port}/", event_types = unknown })).ProblemCode);

        var ids = await PaidOrdersAsync(server, idA, "kettle", 3);
        await Poll.UntilAsync(() => Task.FromResult(receiver.Received.Count(r => r.Name == "a") == 9), "nine events reached seller A", seconds: 45);

        Assert.DoesNotContain(receiver.Received, r => r.Name == "b");
        Assert.True(WebhookSecret.TryParse(secret, out var key));
        var events = receiver.Received.Select(r => (Body: JsonNode.Parse(r.Request["body"])!, r.Request)).ToList();
        Assert.All(events, e => Assert.Equal(WebhookVerdict.Valid, StandardWebhooks.Verify(key, e.Request["webhook-id"], e.Request["webhook-timestamp"],
            e.Request["webhook-signature"], System.Text.Encoding.UTF8.GetBytes(e.Request["body"]), DateTimeOffset.UtcNow)));
        foreach (var order in events.GroupBy(e => e.Body["data"]!["order_id"]!.GetValue<string>()))
        {
            Assert.Contains(order.Key, ids);
            Assert.Equal(["com.surge.order.paid", "com.surge.order.dispatched", "com.surge.order.delivered"], order.Select(e => e.Body["type"]!.GetValue<string>()));
        }
        Assert.Equal(9, events.Select(e => e.Request["webhook-id"]).Distinct().Count());
        var (verified, failed) = await VerifyWithNodeAsync(capture, secret);
        Assert.Equal((9, 0), (verified, failed));

        // The outbox records a delivery once the receiver's answer is back, a moment after the receiver has the event.
        var listed = (await Poll.UntilAsync(async () => (await sellerA.GetAsync("/v1/webhooks")).Json!,
            j => j["webhooks"]!.AsArray().Single()!["pending"]!.GetValue<int>() == 0, "the outbox counted every delivery"))["webhooks"]!.AsArray().Single()!;
        Assert.Equal((9, 0, 0), (listed["delivered"]!.GetValue<int>(), listed["pending"]!.GetValue<int>(), listed["dead_letters"]!.GetValue<int>()));
        Assert.Null(listed["secret"]);
        var deliveries = (await sellerA.GetAsync($"/v1/webhooks/{hookA.Json!["id"]}/deliveries?limit=5")).Json!["deliveries"]!.AsArray();
        Assert.Equal(5, deliveries.Count);
        Assert.All(deliveries, d => Assert.Equal("delivered", d!["state"]!.GetValue<string>()));
        Assert.All(deliveries, d => Assert.Contains(d!["order_id"]!.GetValue<string>(), ids));
        var times = deliveries.Select(d => d!["at"]!.GetValue<DateTimeOffset>()).ToList();
        Assert.Equal(times.OrderByDescending(t => t), times); // newest first
        Assert.Equal(HttpStatusCode.NotFound, (await sellerB.GetAsync($"/v1/webhooks/{hookA.Json!["id"]}/deliveries")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await sellerB.SendRawAsync(HttpMethod.Delete, $"/v1/webhooks/{hookA.Json!["id"]}", null, null)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await sellerA.SendRawAsync(HttpMethod.Delete, $"/v1/webhooks/{hookA.Json!["id"]}", null, null)).Status);
        Assert.Empty((await sellerA.GetAsync("/v1/webhooks")).Json!["webhooks"]!.AsArray());
        File.Delete(capture);
    }

    [Fact]
    public async Task CarrierOutage_OpensTheBreaker_LosesNothing_AndEveryShipmentArrivesOncePerId()
    {
        var dispatch = new DispatchOptions
        {
            FirstRetryDelay = TimeSpan.FromMilliseconds(100), RetryDelayMax = TimeSpan.FromMilliseconds(500), ManifestShipmentsMax = 3,
            BreakerMinimumCalls = 2, BreakerSamplingDuration = TimeSpan.FromSeconds(2), BreakerBreakDuration = TimeSpan.FromMilliseconds(500),
        };
        await using var setup = await StartAsync(["--outage", "0-6"], dispatch);
        var server = setup.Server;
        var (_, sellerId) = await server.SellerWithStockAsync("kettle", units: 100);
        var ids = await PaidOrdersAsync(server, sellerId, "kettle", 10);

        var sawOpen = false;
        await Poll.UntilAsync(async () =>
        {
            var carriers = (await server.Admin.GetAsync("/v1/carriers")).Json!["carriers"]!.AsArray();
            sawOpen |= carriers[0]!["breaker"]!.GetValue<string>() == "open";
            return (await OrdersAsync(server, ids)).All(o => o["status"]!.GetValue<string>() == "delivered");
        }, "every order is delivered after the outage", seconds: 60);

        Assert.True(sawOpen, "the breaker should have opened during the outage");
        var stats = await SimStatsAsync(setup.CarrierPort);
        Assert.True(stats["injected_failures"]!.GetValue<long>() > 0, "the outage should have refused manifests");
        Assert.Equal(10, stats["shipments"]!.GetValue<int>());
        var shipments = (await OrdersAsync(server, ids)).SelectMany(Shipments).ToList();
        Assert.Equal(10, shipments.Select(s => s["tracking_number"]!.GetValue<string>()).Distinct().Count());
        Assert.All(shipments, s => Assert.Equal(3, s["tracking"]!.AsArray().Count));
    }

    [Fact]
    public async Task PastTheRetryHorizon_ShipmentsAreDeadLettered_AndARedriveDeliversThem()
    {
        var dispatch = new DispatchOptions
        {
            FirstRetryDelay = TimeSpan.FromMilliseconds(100), RetryDelayMax = TimeSpan.FromMilliseconds(200), RetryHorizon = TimeSpan.FromSeconds(1),
            BreakerMinimumCalls = 1_000,
        };
        await using var setup = await StartAsync(["--outage", "0-8"], dispatch); // long enough that the shipments are first tried inside it on a loaded machine
        var server = setup.Server;
        var (_, sellerId) = await server.SellerWithStockAsync("vase", units: 10);
        var ids = await PaidOrdersAsync(server, sellerId, "vase", 3);

        JsonArray dead = [];
        await Poll.UntilAsync(async () =>
        {
            dead = (await server.Admin.GetAsync($"/v1/carriers/{CarrierId}/dead-letters")).Json!["dead_letters"]!.AsArray();
            return dead.Count == 3;
        }, "the three shipments are dead-lettered", seconds: 45);
        Assert.All(dead, d => Assert.Equal("http_503", d!["reason"]!.GetValue<string>()));
        Assert.All(await OrdersAsync(server, ids), o => Assert.Equal("dead_letter", Shipments(o).Single()["status"]!.GetValue<string>()));
        await Poll.UntilAsync(() => OutageOverAsync(setup.CarrierPort), "the outage is over", seconds: 45);

        var redrive = await server.Admin.PostAsync($"/v1/carriers/{CarrierId}/dead-letters/redrive", new { });
        Assert.True(redrive.Status == HttpStatusCode.OK, redrive.Body);
        Assert.Equal(3, redrive.Json!["redriven"]!.GetValue<int>());

        await Poll.UntilAsync(async () => (await OrdersAsync(server, ids)).All(o => o["status"]!.GetValue<string>() == "delivered"),
            "every redriven order is delivered", seconds: 45);
        Assert.Empty((await server.Admin.GetAsync($"/v1/carriers/{CarrierId}/dead-letters")).Json!["dead_letters"]!.AsArray());
        Assert.Equal("unknown_carrier", (await server.Admin.GetAsync("/v1/carriers/nope/dead-letters")).ProblemCode);
    }

    /// <summary>True once a probe manifest (unsigned, so refused with 401 rather than 503) shows the outage ended.</summary>
    private static async Task<bool> OutageOverAsync(int port)
    {
        using var content = new StringContent("{}");
        using var response = await Http.PostAsync(new Uri($"http://127.0.0.1:{port}/shipments"), content, TestContext.Current.CancellationToken);
        return response.StatusCode != HttpStatusCode.ServiceUnavailable;
    }
}
