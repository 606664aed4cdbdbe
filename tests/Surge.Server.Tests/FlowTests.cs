using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Surge.Flow;

namespace Surge.Server.Tests;

/// <summary>The fulfillment stage inside the server: paid orders get shipments and become allocated.</summary>
public sealed class FlowTests
{
    private static readonly FulfillmentRules Rules = new()
    {
        Carriers =
        [
            new CarrierConfig
            {
                Id = "kr-parcel", Countries = ["KR"], Classes = [ShippingClass.Parcel], Services = ["standard"],
                Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(3_000, 400) },
            },
            new CarrierConfig
            {
                Id = "kr-cold", Countries = ["KR"], Classes = [ShippingClass.ColdChain], Services = ["express"],
                Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.ColdChain] = new(6_000, 900) },
            },
        ],
    };

    [Fact]
    public async Task PaidOrder_GetsShipmentsByClassAndCarrier_AndBecomesAllocated_AndStaysSoAfterARestart()
    {
        await using var server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { Rules = Rules } });
        var (seller, sellerId) = await server.SellerWithStockAsync("kettle", units: 10);
        Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", TestServer.Sku("yogurt", temperature: "chilled"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", new { sku = "yogurt", warehouse_id = "wh-kr-1", quantity = 10 })).Status);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("f1", (sellerId, "kettle", 2), (sellerId, "yogurt", 3)));
        var id = placed.Json!["id"]!.GetValue<string>();
        var unpaid = await server.Admin.PostAsync("/v1/orders", TestServer.Order("f2", (sellerId, "kettle", 1)));
        Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { })).Status);

        var order = await Poll.UntilAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "allocated", "the paid order is allocated");

        var shipments = order["seller_orders"]![0]!["shipments"]!.AsArray();
        Assert.Equal(
            [("parcel", "standard", "kr-parcel", "kettle", 2), ("cold_chain", "express", "kr-cold", "yogurt", 3)],
            shipments.Select(s => (s!["shipping_class"]!.GetValue<string>(), s["service_level"]!.GetValue<string>(), s["carrier_id"]!.GetValue<string>(),
                s["items"]![0]!["sku"]!.GetValue<string>(), s["items"]![0]!["quantity"]!.GetValue<int>())));
        var ids = shipments.Select(s => s!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(2, ids.Distinct().Count());
        var stillUnpaid = (await server.Admin.GetAsync($"/v1/orders/{unpaid.Json!["id"]}")).Json!;
        Assert.Equal("pending_payment", stillUnpaid["status"]!.GetValue<string>());
        Assert.Empty(stillUnpaid["seller_orders"]![0]!["shipments"]!.AsArray());

        var flow = await Poll.UntilAsync(async () => (await server.Admin.GetAsync("/v1/flow")).Json!,
            f => f["stages"]!.AsArray().All(s => s!["lag_records"]!.GetValue<long>() == 0), "every stage caught up");
        var stages = flow["stages"]!.AsArray().Select(s => s!["stage"]!.GetValue<string>()).ToList();
        Assert.Equal(server.Options.Partitions, stages.Count(s => s == "fulfillment"));
        Assert.Equal(server.Options.Partitions, stages.Count(s => s == "read-model"));
        Assert.Equal((1, 2), (flow["orders_planned"]!.GetValue<long>(), flow["shipments_planned"]!.GetValue<long>()));
        Assert.Equal("forbidden", (await seller.GetAsync("/v1/flow")).ProblemCode);

        await server.RestartAsync();

        var after = (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!;
        Assert.Equal("allocated", after["status"]!.GetValue<string>());
        Assert.Equal(ids, after["seller_orders"]![0]!["shipments"]!.AsArray().Select(s => s!["id"]!.GetValue<string>()));
        flow = await Poll.UntilAsync(async () => (await server.Admin.GetAsync("/v1/flow")).Json!,
            f => f["stages"]!.AsArray().All(s => s!["lag_records"]!.GetValue<long>() == 0), "every stage caught up after the restart");
        Assert.Equal((1, 2), (flow["orders_planned"]!.GetValue<long>(), flow["shipments_planned"]!.GetValue<long>()));
    }

    private static readonly byte[] CarrierKey = RandomNumberGenerator.GetBytes(32);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>POSTs a tracking CloudEvent for a shipment as the carrier would, signed with <paramref name="key"/>.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> CarrierEventAsync(TestServer server, string carrier, string webhookId,
        string shipment, string code, byte[]? key = null, DateTimeOffset? sentAt = null, string? body = null)
    {
        var time = sentAt ?? DateTimeOffset.UtcNow;
        body ??= $$$"""{"specversion":"1.0","type":"com.example.tracking","source":"/carrier","id":"{{{webhookId}}}","data":{"shipment_id":"{{{shipment}}}","code":"{{{code}}}","occurred_at":"{{{time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}}}"}}""";
        var bytes = Encoding.UTF8.GetBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Server.BaseAddress, $"/v1/carriers/{carrier}/events"))
        {
            Content = new ByteArrayContent(bytes),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/cloudevents+json");
        var timestamp = time.ToUnixTimeSeconds();
        request.Headers.Add("webhook-id", webhookId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", StandardWebhooks.Sign(key ?? CarrierKey, webhookId, timestamp, bytes));
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private static string Code(string problem) => JsonNode.Parse(problem)!["code"]!.GetValue<string>();

    [Fact]
    public async Task CarrierEvents_AreVerifiedNormalizedAndApplied_AndEveryBadOneIsRefusedWithItsReason()
    {
        var rules = new FulfillmentRules
        {
            Carriers =
            [
                new CarrierConfig
                {
                    Id = "offline-post", Secret = "whsec_" + Convert.ToBase64String(CarrierKey), Countries = ["KR"], Classes = [ShippingClass.Parcel],
                    Services = ["standard"], Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(1_000, 100) },
                    StatusCodes = new Dictionary<string, string> { ["ARR"] = "in_transit" },
                },
            ],
        };
        await using var server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { Rules = rules } });
        var (_, sellerId) = await server.SellerWithStockAsync("globe", units: 5);
        var id = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("t1", (sellerId, "globe", 1)))).Json!["id"]!.GetValue<string>();
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });
        var order = await Poll.UntilAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "allocated", "the order is allocated");
        var shipment = order["seller_orders"]![0]!["shipments"]![0]!["id"]!.GetValue<string>();

        var good = await CarrierEventAsync(server, "offline-post", "evt-1", shipment, "ARR");
        Assert.Equal(HttpStatusCode.Accepted, good.Status);
        Assert.Equal(1, JsonNode.Parse(good.Body)!["accepted"]!.GetValue<int>());
        Assert.Equal((HttpStatusCode.Conflict, "webhook_replayed"), Replay(await CarrierEventAsync(server, "offline-post", "evt-1", shipment, "ARR")));
        Assert.Equal((HttpStatusCode.Unauthorized, "bad_webhook_signature"),
            Replay(await CarrierEventAsync(server, "offline-post", "evt-2", shipment, "DL", key: RandomNumberGenerator.GetBytes(32))));
        Assert.Equal((HttpStatusCode.Unauthorized, "webhook_timestamp_out_of_tolerance"),
            Replay(await CarrierEventAsync(server, "offline-post", "evt-3", shipment, "DL", sentAt: DateTimeOffset.UtcNow.AddMinutes(-6))));
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "unknown_tracking_code"), Replay(await CarrierEventAsync(server, "offline-post", "evt-4", shipment, "ZZZ")));
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "unknown_shipment"), Replay(await CarrierEventAsync(server, "offline-post", "evt-5", "shp_1_0", "DL")));
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "invalid_request"),
            Replay(await CarrierEventAsync(server, "offline-post", "evt-6", shipment, "DL", body: """{"specversion":"0.3","id":"x","type":"t","data":{}}""")));
        Assert.Equal((HttpStatusCode.BadRequest, "malformed_json"),
            Replay(await CarrierEventAsync(server, "offline-post", "evt-7", shipment, "DL", body: "{not json")));
        Assert.Equal((HttpStatusCode.NotFound, "unknown_carrier"), Replay(await CarrierEventAsync(server, "nobody", "evt-8", shipment, "DL")));

        order = await Poll.UntilAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "in_transit", "the order is in transit");
        var tracked = order["seller_orders"]![0]!["shipments"]![0]!;
        Assert.Equal("in_transit", tracked["status"]!.GetValue<string>());
        Assert.Equal(("in_transit", "ARR"), (tracked["tracking"]![0]!["status"]!.GetValue<string>(), tracked["tracking"]![0]!["raw_code"]!.GetValue<string>()));

        Assert.Equal(HttpStatusCode.Accepted, (await CarrierEventAsync(server, "offline-post", "evt-9", shipment, "DL")).Status);
        await Poll.UntilAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "delivered", "the order is delivered");
    }

    private static (HttpStatusCode, string) Replay((HttpStatusCode Status, string Body) answer) => (answer.Status, Code(answer.Body));

    [Fact]
    public async Task WithoutCarriers_ShipmentsArePlannedButUnassigned_WithTheReason()
    {
        await using var server = await TestServer.StartAsync();
        var (_, sellerId) = await server.SellerWithStockAsync("lamp", units: 5);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("n1", (sellerId, "lamp", 1)));
        var id = placed.Json!["id"]!.GetValue<string>();
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });

        var order = await Poll.UntilAsync(async () => (await server.Admin.GetAsync($"/v1/orders/{id}")).Json!,
            o => o["status"]!.GetValue<string>() == "allocated", "the paid order is allocated");

        var shipment = Assert.Single(order["seller_orders"]![0]!["shipments"]!.AsArray())!;
        Assert.Null(shipment["carrier_id"]);
        Assert.Equal("no_carrier_covers", shipment["problem"]!.GetValue<string>());
    }

    /// <summary>The unit's stage stops on a store that failed; it opens again from its checkpoint — even when the
    /// checkpoint store itself refuses the first tries (it used to give up, leaving the partition serving with its
    /// downstream stopped and its reads answered 500).</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task AStageWhoseStoreFails_OpensAgainFromItsCheckpoint_AndThePaidOrderIsStillPlanned_ReadsNeverAnswering500(int checkpointFailures)
    {
        var directory = Path.Combine(Path.GetTempPath(), "surge-server-tests", Guid.NewGuid().ToString("N"), "flow");
        var journals = new FailingOnceFlowJournals(new DirectoryFlowJournals(directory, new Journal.JournalOptions { SegmentBytesMax = 1024 * 1024 }));
        await using var server = await TestServer.StartAsync(o => o with { Storage = o.Storage with { FlowJournals = journals } });
        var (_, sellerId) = await server.SellerWithStockAsync("kettle", units: 5);
        journals.CheckpointFailures = checkpointFailures; // the tries to hold the journal at the checkpoint that fail
        journals.FailNextShipmentAppend = true; // not a transient failure: the stage stops on it
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("f1", (sellerId, "kettle", 1)));
        var id = placed.Json!["id"]!.GetValue<string>();
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });

        var statuses = new HashSet<HttpStatusCode>();
        await Poll.UntilAsync(async () =>
        {
            var read = await server.Admin.GetAsync($"/v1/orders/{id}");
            statuses.Add(read.Status);
            return read.Status == HttpStatusCode.OK && read.Json!["status"]!.GetValue<string>() == "allocated";
        }, "the paid order is allocated by the unit opened again");
        Assert.Equal((1, 0), (journals.Failures, journals.CheckpointFailures));
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"a read answered {(int)s}"));
    }

    /// <summary>Flow journals whose shipment store refuses one append when told to (a disk or database error).</summary>
    private sealed class FailingOnceFlowJournals(IFlowJournals inner) : IFlowJournals
    {
        private int _armed;
        private int _failures;

        public bool FailNextShipmentAppend { set => Volatile.Write(ref _armed, value ? 1 : 0); }

        public int Failures => Volatile.Read(ref _failures);

        public Journal.IJournal OpenStore(int partition, string name) =>
            name == "shipments" ? new FailingJournal(this, inner.OpenStore(partition, name)) : inner.OpenStore(partition, name);

        private int _checkpointFailures;

        /// <summary>Calls for the checkpoint store still to refuse (the store not answering for a while).</summary>
        public int CheckpointFailures
        {
            get => Volatile.Read(ref _checkpointFailures);
            set => Volatile.Write(ref _checkpointFailures, value);
        }

        public Journal.IJournalStorage Checkpoints(int partition)
        {
            var left = Volatile.Read(ref _checkpointFailures);
            while (left > 0)
            {
                if (Interlocked.CompareExchange(ref _checkpointFailures, left - 1, left) == left)
                {
                    throw new IOException("injected: the checkpoint store did not answer");
                }
                left = Volatile.Read(ref _checkpointFailures);
            }
            return inner.Checkpoints(partition);
        }

        private sealed class FailingJournal(FailingOnceFlowJournals owner, Journal.IJournal journal) : Journal.IJournal
        {
            public long LastSequence => journal.LastSequence;
            public long DurableSequence => journal.DurableSequence;
            public Journal.SnapshotInfo? LatestSnapshot => journal.LatestSnapshot;

            public Journal.AppendTicket Append(ReadOnlySpan<byte> payload)
            {
                if (Interlocked.Exchange(ref owner._armed, 0) == 1)
                {
                    Interlocked.Increment(ref owner._failures);
                    throw new IOException("injected: the shipment store's disk failed");
                }
                return journal.Append(payload);
            }

            public void Replay(long afterSequence, Journal.RecordVisitor visitor) => journal.Replay(afterSequence, visitor);
            public Task WriteSnapshotAsync(long sequence, Action<Stream> write, CancellationToken cancellationToken = default) =>
                journal.WriteSnapshotAsync(sequence, write, cancellationToken);
            public Stream OpenSnapshot(Journal.SnapshotInfo snapshot) => journal.OpenSnapshot(snapshot);
            public long Compact() => journal.Compact();
            public Journal.IJournalReader OpenReader(long afterSequence) => journal.OpenReader(afterSequence);
            public ValueTask DisposeAsync() => journal.DisposeAsync();
        }
    }
}
