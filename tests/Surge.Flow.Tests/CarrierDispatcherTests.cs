using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Flow.Tests;

public sealed class CarrierDispatcherTests
{
    /// <summary>A carrier that answers from a script: each call takes the next answer (the last one repeats).</summary>
    private sealed class ScriptedCarrier(params Func<HttpRequestMessage, Task<HttpResponseMessage>>[] answers) : HttpMessageHandler
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _calls) - 1;
            return answers[Math.Min(call, answers.Length - 1)](request);
        }
    }

    private static async Task<HttpResponseMessage> Accepting(HttpRequestMessage request)
    {
        var body = JsonNode.Parse(await request.Content!.ReadAsStringAsync())!;
        var accepted = new JsonArray(body["data"]!["shipments"]!.AsArray()
            .Select(s => (JsonNode)new JsonObject { ["shipment_id"] = s!["id"]!.GetValue<string>(), ["tracking_number"] = "T-" + s["id"] }).ToArray());
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(new JsonObject { ["accepted"] = accepted }.ToJsonString()) };
    }

    [Fact]
    public async Task AnAnswerThatIsNotTheExpectedJson_IsAFailedAttempt_AndTheShipmentIsSentAgainAndDispatched()
    {
        var carrierConfig = new CarrierConfig
        {
            Id = "c", Endpoint = "http://127.0.0.1:9/shipments", Secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            Countries = ["KR"], Classes = [ShippingClass.Parcel], Services = ["standard"],
            Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(1, 1) }, RateLimitPerSecond = 1_000,
        };
        await using var store = ShipmentStore.Open(new SimulatedStorage(seed: 3), new JournalOptions { SegmentBytesMax = 64 * 1024, PreallocateSegments = false });
        var planned = new PlannedShipment(64, 0, 1, ShippingClass.Parcel, TemperatureClass.Ambient, "standard", "wh", new Destination("KR", null), 100,
            [new ShipmentItem("mug", 1)], "c", 1, "KRW", false, null, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var stored = await store.AppendPlansAsync([[planned]]);
        var carrier = new ScriptedCarrier(
            _ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{\"accepted\": [{\"shipment_id\": 7}]}", Encoding.UTF8) }),
            _ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>busy</html>", Encoding.UTF8) }),
            Accepting);
        using var http = new HttpClient(carrier);
        var dispatched = new List<string>();
        await using var dispatcher = new CarrierDispatcher(new FulfillmentRules { Carriers = [carrierConfig] }, store, http, (shipments, _) =>
        {
            lock (dispatched)
            {
                dispatched.AddRange(shipments.Select(s => s.Id));
            }
            return Task.CompletedTask;
        }, new DispatchOptions { FirstRetryDelay = TimeSpan.FromMilliseconds(20), RetryDelayMax = TimeSpan.FromMilliseconds(40) });

        dispatcher.Start();

        var clock = Stopwatch.StartNew();
        int Reported()
        {
            lock (dispatched)
            {
                return dispatched.Count;
            }
        }
        while (Reported() == 0) // the callback runs once the dispatch record is durable
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"not dispatched after {carrier.Calls} calls");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
        Assert.Equal(3, carrier.Calls);
        Assert.Equal(1, store.Dispatched);
        lock (dispatched)
        {
            Assert.Equal([stored[0].Id], dispatched);
        }
        Assert.Equal(("T-" + stored[0].Id, DeliveryState.Dispatched), (stored[0].TrackingNumber, stored[0].Delivery));
    }

    [Fact]
    public async Task TrackingEvents_AreKeptInTheOrderTheyHappened_NotTheOrderTheyArrived()
    {
        await using var store = ShipmentStore.Open(new SimulatedStorage(seed: 5), new JournalOptions { SegmentBytesMax = 64 * 1024, PreallocateSegments = false });
        var planned = new PlannedShipment(64, 0, 1, ShippingClass.Parcel, TemperatureClass.Ambient, "standard", "wh", new Destination("KR", null), 100,
            [new ShipmentItem("mug", 1)], "c", 1, "KRW", false, null, 1_000);
        var shipment = (await store.AppendPlansAsync([[planned]])).Single().Id;

        // The carrier's "out for delivery" is retried and arrives after its "delivered".
        await store.AppendTrackingAsync([new TrackingUpdate(shipment, "in_transit", "IT", 2_000, "e1", null)]);
        await store.AppendTrackingAsync([new TrackingUpdate(shipment, "delivered", "DL", 4_000, "e3", null)]);
        await store.AppendTrackingAsync([new TrackingUpdate(shipment, "out_for_delivery", "OD", 3_000, "e2", null)]);

        var state = store.Find(shipment)!;
        Assert.Equal(["in_transit", "out_for_delivery", "delivered"], state.Tracking.Select(t => t.Status));
        Assert.Equal("delivered", state.TrackingStatus);
    }
}
