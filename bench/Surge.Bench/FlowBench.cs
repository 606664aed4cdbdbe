using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using HdrHistogram;
using Surge.Cli.Load;
using Surge.Flow;
using Surge.Server;

namespace Surge.Bench;

public sealed record FlowBenchOptions(int Orders, int Partitions, int Sellers, int IngestPerS, int ManifestShipments, double TimeoutS);

public sealed record FlowBenchResult(
    int Orders,
    double BacklogBuildS,
    double PlannedS,
    double DrainS,
    double OrdersPerS,
    long ShipmentsDispatched,
    long CarrierRequests,
    long CarrierDuplicates,
    long IngestAccepted,
    double IngestOrdersPerS,
    long IngestWorstSecond,
    double IngestP99Ms,
    int Partitions,
    int ManifestShipments,
    IReadOnlyList<FlowBenchSample> Timeline);

/// <summary>One second of the drain: shipments planned and dispatched so far, orders taken by the intake.</summary>
public sealed record FlowBenchSample(double AtS, long Planned, long Dispatched, long IngestAccepted);

/// <summary>
/// `surge bench flow`: builds a backlog of paid orders with the downstream stages stopped, then starts them and
/// measures how long planning and carrier notification take to drain it — every shipment accepted by a
/// `surge carrier-sim` process on this machine — while new orders keep arriving through the intake.
/// </summary>
internal static class FlowBench
{
    private const string CarrierId = "bench-carrier";
    private const int ChunkOrders = 1_000;

    public static async Task<FlowBenchResult> RunAsync(FlowBenchOptions options, Action<string, double> progress)
    {
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        // No callbacks: tracking events are not part of this drain.
        var (carrier, carrierPort) = await Programs.StartCarrierSimAsync(port =>
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--carrier-id", CarrierId, "--secret", secret, "--latency-ms", "0"]);
        using var carrierProcess = carrier;
        var directory = Path.Combine(Path.GetTempPath(), $"surge-bench-flow-{Environment.ProcessId}");
        try
        {
            var rules = new FulfillmentRules
            {
                Carriers =
                [
                    new CarrierConfig
                    {
                        Id = CarrierId, Endpoint = $"http://127.0.0.1:{carrierPort}/shipments", Secret = secret, Countries = ["KR"],
                        Classes = [ShippingClass.Parcel], Services = ["standard"], RateLimitPerSecond = 100_000,
                        Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(3_000, 400) },
                    },
                ],
            };
            await using var server = await SurgeServer.StartAsync(new ServerOptions
            {
                DataDirectory = directory, Http = new() { Port = 0 }, Partitions = options.Partitions,
                Flow = new()
                {
                    Rules = rules, Start = false, Dispatch = new DispatchOptions { ManifestShipmentsMax = options.ManifestShipments },
                    OutboundAllowedHosts = ["127.0.0.1"], // the carrier simulator on loopback
                },
                Orders = new() { ReservationTtl = TimeSpan.FromHours(2) },
            });
            using var api = new SurgeClient(server.BaseAddress, server.AdminKey);
            var sellers = await CatalogAsync(api, options.Sellers);
            var build = Stopwatch.StartNew();
            await BacklogAsync(server, sellers, options.Orders, progress);
            var backlogS = build.Elapsed.TotalSeconds;

            var flow = server.State.Flow;
            var clock = Stopwatch.StartNew();
            server.StartFlow();
            using var stopIngest = new CancellationTokenSource();
            var latency = new LongHistogram(TimeSpan.TicksPerMinute, 3);
            long ingested = 0;
            var ingest = Task.Run(() => IngestAsync(server, sellers, options.IngestPerS, latency, n => Interlocked.Add(ref ingested, n), stopIngest.Token));
            var timeline = new List<FlowBenchSample>();
            double plannedS = double.NaN;
            var nextSample = 1.0;
            while (flow.ShipmentCounts().Dispatched < options.Orders && clock.Elapsed.TotalSeconds < options.TimeoutS)
            {
                await Task.Delay(20);
                var at = clock.Elapsed.TotalSeconds;
                if (double.IsNaN(plannedS) && flow.OrdersPlanned() >= options.Orders)
                {
                    plannedS = at;
                }
                if (at >= nextSample)
                {
                    timeline.Add(new FlowBenchSample(Math.Round(at, 1), flow.OrdersPlanned(), flow.ShipmentCounts().Dispatched, Interlocked.Read(ref ingested)));
                    nextSample += 1;
                }
                progress("drain (shipments dispatched)", Math.Min(1, flow.ShipmentCounts().Dispatched / (double)options.Orders));
            }
            var drainS = clock.Elapsed.TotalSeconds;
            await stopIngest.CancelAsync();
            await ingest;
            var stats = JsonNode.Parse(await new HttpClient().GetStringAsync(new Uri($"http://127.0.0.1:{carrierPort}/stats")))!;
            var dispatched = flow.ShipmentCounts().Dispatched;
            var drained = dispatched >= options.Orders;
            return new FlowBenchResult(options.Orders, Math.Round(backlogS, 2), Math.Round(plannedS, 2), drained ? Math.Round(drainS, 2) : double.NaN,
                Math.Round(Math.Min(dispatched, options.Orders) / drainS), dispatched, stats["requests"]!.GetValue<long>(),
                stats["duplicate_shipments"]!.GetValue<long>(), Interlocked.Read(ref ingested), Math.Round(Interlocked.Read(ref ingested) / drainS),
                WorstSecond(timeline), Math.Round(latency.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond, 1), options.Partitions,
                options.ManifestShipments, timeline);
        }
        finally
        {
            carrier.Kill(entireProcessTree: true);
            await carrier.WaitForExitAsync();
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>Fewest new orders taken in any whole second of the drain (the intake's worst moment).</summary>
    private static long WorstSecond(List<FlowBenchSample> timeline) =>
        timeline.Count < 2 ? 0 : timeline.Zip(timeline.Skip(1)).Min(p => p.Second.IngestAccepted - p.First.IngestAccepted);

    private static async Task<long[]> CatalogAsync(SurgeClient api, int count)
    {
        var created = await OneSkuSellers.CreateAsync(api, count, units: 100_000_000, weightGrams: 400, name: "flow seller");
        var sellers = new long[count];
        for (var s = 0; s < count; s++)
        {
            _ = Ids.TryParseSeller(created[s].Id, out sellers[s]);
        }
        return sellers;
    }

    private static OrderRequest Order(long seller, long n) =>
        new($"buyer-{n}", "KR", "seoul", "04524", [new OrderLineRequest(seller, "item", 1)]);

    /// <summary>Places and pays <paramref name="orders"/> single-seller orders through the server's own order
    /// path (placement in batches as the batch endpoint does; payment as one command group per partition).</summary>
    private static async Task BacklogAsync(SurgeServer server, long[] sellers, int orders, Action<string, double> progress)
    {
        var state = server.State;
        var placed = 0;
        var inFlight = new List<Task>();
        for (var start = 0; start < orders; start += ChunkOrders)
        {
            var count = Math.Min(ChunkOrders, orders - start);
            var first = start;
            inFlight.Add(Task.Run(async () =>
            {
                var requests = Enumerable.Range(first, count).Select(i => (OrderRequest?)Order(sellers[i % sellers.Length], i)).ToList();
                var answers = await RetryAsync(() => state.Orders.PlaceManyAsync(requests, _ => default));
                var byPartition = answers.Select((a, i) => (a, Seller: sellers[(first + i) % sellers.Length]))
                    .Where(x => x.a.Accepted)
                    .GroupBy(x => state.Gateway.PartitionOf(x.Seller));
                foreach (var group in byPartition)
                {
                    var children = group.Select(x => Ids.Child(x.a.Id, 0)).ToList();
                    await RetryAsync(() => state.Gateway.SubmitGroup(group.Key, children.Count, w =>
                    {
                        foreach (var child in children)
                        {
                            w.ConfirmPayment(child);
                        }
                    }));
                }
                var done = Interlocked.Add(ref placed, count);
                progress("backlog (orders placed and paid)", done / (double)orders);
            }));
            if (inFlight.Count >= 8)
            {
                await Task.WhenAny(inFlight);
                inFlight.RemoveAll(t => t.IsCompleted);
            }
        }
        await Task.WhenAll(inFlight);
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> work)
    {
        while (true)
        {
            try
            {
                return await work();
            }
            catch (AdmissionException)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>New orders (unpaid) at <paramref name="perSecond"/> in batches of 100, open loop: a batch leaves on
    /// schedule whether or not earlier ones were answered (at most <see cref="IngestBatchesInFlightMax"/> waiting), as
    /// many independent clients would send them. Latency is from the scheduled time, so waiting for a slot counts.</summary>
    private static async Task IngestAsync(SurgeServer server, long[] sellers, int perSecond, LongHistogram latency, Action<long> add, CancellationToken stop)
    {
        if (perSecond <= 0)
        {
            return;
        }
        const int Batch = 100;
        var interval = TimeSpan.FromSeconds(Batch / (double)perSecond);
        var clock = Stopwatch.StartNew();
        var next = TimeSpan.Zero;
        long n = 10_000_000_000;
        using var slots = new SemaphoreSlim(IngestBatchesInFlightMax);
        var inFlight = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            next += interval;
            try
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, stop);
                }
                await slots.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var scheduled = next;
            var requests = Enumerable.Range(0, Batch).Select(_ => (OrderRequest?)Order(sellers[(int)(n % sellers.Length)], n++)).ToList();
            inFlight.RemoveAll(t => t.IsCompleted);
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    var answers = await server.State.Orders.PlaceManyAsync(requests, _ => default);
                    add(answers.Count(a => a.Accepted));
                }
                catch (AdmissionException)
                {
                    // refused at once under load: not taken
                }
                finally
                {
                    lock (latency)
                    {
                        latency.RecordValue(Math.Max(1, (clock.Elapsed - scheduled).Ticks));
                    }
                    slots.Release();
                }
            }, CancellationToken.None));
        }
        await Task.WhenAll(inFlight);
    }

    private const int IngestBatchesInFlightMax = 64;
}
