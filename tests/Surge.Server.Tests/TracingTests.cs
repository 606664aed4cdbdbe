using System.Diagnostics;
using System.Net;
using OpenTelemetry.Trace;

namespace Surge.Server.Tests;

/// <summary>OpenTelemetry: an operator follows one order from the HTTP request through the saga, the partition's batch
/// and the grain to the journal commit, in one trace; a problem answer names its trace.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task OnePlacedOrder_IsOneConnectedTrace_FromTheRequestToTheJournalCommit()
    {
        var spans = new Spans();
        await using var server = await TestServer.StartAsync(o => o with { Telemetry = new TelemetryOptions { ConfigureTracing = t => t.AddInMemoryExporter(spans) } });
        var (_, sellerId) = await server.SellerWithStockAsync("traced", units: 5);

        // The request carries a trace of the test's own (W3C traceparent), so that its spans are told apart from those of
        // other servers of this test process, whose requests the same listeners see.
        var traceId = ActivityTraceId.CreateRandom();
        using var http = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Server.BaseAddress, "/v1/orders"))
        {
            Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(TestServer.Order("trace-buyer", (sellerId, "traced", 1))),
                System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", server.Server.AdminKey);
        request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        using var placed = await http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        // A span is exported when it ends; the request's own span ends after its answer was sent.
        await Poll.UntilAsync(() => Task.FromResult(SnapshotOf(spans).Any(s => s.TraceId == traceId && s.OperationName == "journal.commit")
            && SnapshotOf(spans).Any(s => s.TraceId == traceId && s.Kind == ActivityKind.Server)), "the request's trace reached its journal commit");
        var ofThisOrder = SnapshotOf(spans).Where(s => s.TraceId == traceId).ToList();

        foreach (var step in new[] { "order.place", "partition.batch", "partition.execute", "journal.commit" })
        {
            Assert.Contains(ofThisOrder, s => s.OperationName == step);
        }
        // Connected: one root (the server's request, whose parent is the test's), every other span's parent in the trace.
        Assert.Single(ofThisOrder, s => !ofThisOrder.Any(parent => parent.SpanId == s.ParentSpanId));
        var commit = ofThisOrder.First(s => s.OperationName == "journal.commit");
        var execute = ofThisOrder.First(s => s.SpanId == commit.ParentSpanId);
        Assert.Equal("partition.execute", execute.OperationName);
    }

    [Fact]
    public async Task APaidOrder_IsPlannedForFulfillment_InThePaymentsTrace()
    {
        var spans = new Spans();
        await using var server = await TestServer.StartAsync(o => o with { Telemetry = new TelemetryOptions { ConfigureTracing = t => t.AddInMemoryExporter(spans) } });
        var (_, sellerId) = await server.SellerWithStockAsync("fulfilled", units: 5);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("trace-buyer", (sellerId, "fulfilled", 1)));
        var order = placed.Json!["id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{order}/payment", new { })).Status);

        await Poll.UntilAsync(() => Task.FromResult(SnapshotOf(spans) is var all && all.Any(s => s.OperationName == "order.pay" && s.GetTagItem("surge.order") as string == order)
            && all.Any(s => s.OperationName == "fulfillment.plan"
                && s.TraceId == all.First(p => p.OperationName == "order.pay" && p.GetTagItem("surge.order") as string == order).TraceId)),
            "the payment's trace holds the order's fulfillment planning");
        var all = SnapshotOf(spans);
        var pay = all.First(s => s.OperationName == "order.pay" && s.GetTagItem("surge.order") as string == order);
        var plan = all.First(s => s.OperationName == "fulfillment.plan" && s.TraceId == pay.TraceId);
        Assert.Equal(pay.SpanId, plan.ParentSpanId);
    }

    [Fact]
    public async Task AProblemAnswer_CarriesTheTraceIdOfItsRequest()
    {
        var spans = new Spans();
        await using var server = await TestServer.StartAsync(o => o with { Telemetry = new TelemetryOptions { ConfigureTracing = t => t.AddInMemoryExporter(spans) } });

        var refused = await server.Admin.GetAsync("/v1/orders/ord_404");

        Assert.Equal("order_not_found", refused.ProblemCode);
        var traceId = refused.Json!["trace_id"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{32}$", traceId);
        await Poll.UntilAsync(() => Task.FromResult(SnapshotOf(spans).Any(s => s.Kind == ActivityKind.Server && s.TraceId.ToHexString() == traceId)),
            "the request's span carries the trace id the problem gave");
    }

    private static List<Activity> SnapshotOf(Spans spans) => spans.Snapshot();

    /// <summary>What the in-memory exporter collects, safe to read while spans still end on other threads.</summary>
    private sealed class Spans : System.Collections.ObjectModel.Collection<Activity>
    {
        private readonly Lock _gate = new();

        protected override void InsertItem(int index, Activity item)
        {
            lock (_gate)
            {
                base.InsertItem(index, item);
            }
        }

        public List<Activity> Snapshot()
        {
            lock (_gate)
            {
                return [.. Items];
            }
        }
    }
}
