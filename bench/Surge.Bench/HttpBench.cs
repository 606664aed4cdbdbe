using System.Diagnostics;
using System.Text.Json.Nodes;
using HdrHistogram;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Surge.Cli.Load;
using Surge.Server;

namespace Surge.Bench;

public sealed record HttpBenchOptions(double Seconds, int Connections, int BatchOrders, int Partitions, int Sellers, double WarmupSeconds = 5);

public sealed record HttpBenchResult(
    double KestrelCeilingPerS,
    double SingleOrdersPerS,
    double SingleVsCeiling,
    double SingleP99Ms,
    double BatchOrdersPerS,
    double BatchP50Ms,
    double BatchP99Ms,
    double PacedOrdersPerS,
    double P99Ms,
    double P50Ms,
    double GcPauseShare,
    double AllocatedBytesPerOrder,
    double SingleAllocatedBytesPerOrder,
    long Acknowledged,
    long ReadBack,
    long Oversold,
    long Lost,
    int Connections,
    int BatchOrders,
    int Partitions,
    double Seconds,
    int OrderBytes);

/// <summary>
/// `surge bench http`: the same load generator (raw keep-alive HTTP/1.1, loopback) against (1) a bare Kestrel
/// endpoint that takes a POST of an order's size and does nothing — the machine's ceiling — (2) durable single
/// orders, (3) durable batches, and (4) batches paced at 80% of the measured batch rate, for the p99 (timed from
/// when each request was due). One order in <see cref="ScarceEvery"/> goes to a seller whose stock sells out early,
/// so an oversell would show. Then every acknowledged order is read back by id from the partitions (lost = those not
/// found), and the stock is checked (nothing oversold).
/// </summary>
internal static class HttpBench
{
    /// <summary>Units of the ordinary sellers' SKU: enough never to sell out, so throughput measures placing.</summary>
    private const int UnitsPerSku = 100_000_000;

    /// <summary>Sellers whose SKU holds <see cref="ScarceUnits"/> units, and how often an order goes to one.</summary>
    private const int ScarceSellers = 4, ScarceUnits = 2_000, ScarceEvery = 32;

    /// <summary>Seller orders read back from a partition in one call.</summary>
    private const int ReadBackOrdersMax = 4_096;

    public static async Task<HttpBenchResult> RunAsync(HttpBenchOptions options, Action<string, double> progress)
    {
        var ceiling = await MeasureCeilingAsync(options, progress);
        var directory = Path.Combine(Path.GetTempPath(), $"surge-bench-http-{Environment.ProcessId}");
        try
        {
            await using var server = await SurgeServer.StartAsync(new ServerOptions { DataDirectory = directory, Http = new() { Port = 0 }, Partitions = options.Partitions });
            using var api = new SurgeClient(server.BaseAddress, server.AdminKey);
            var plenty = await OneSkuSellers.CreateAsync(api, options.Sellers, UnitsPerSku);
            var scarce = await ScarceSellersAsync(api);
            string SellerOf(int order) => order % ScarceEvery == ScarceEvery - 1 ? scarce[order / ScarceEvery % scarce.Length].Id : plenty[order % plenty.Length].Id;
            var singleBodies = Enumerable.Range(0, 256).Select(i => RawHttpConnection.Post(server.BaseAddress, "/v1/orders", server.AdminKey,
                SingleOrder(SellerOf(i), i))).ToArray();
            var batchBodies = Enumerable.Range(0, 32).Select(b => RawHttpConnection.Post(server.BaseAddress, "/v1/orders/batch", server.AdminKey,
                OrderBodies.Batch(options.BatchOrders, (json, i) => OrderBodies.Write(json, $"buyer-{b}-{i}", "KR", "seoul",
                    [(SellerOf(b * options.BatchOrders + i), "item", 1)])))).ToArray();

            var acknowledged = new AcknowledgedIds();
            var (allocatedBefore, singleAcknowledged) = (GC.GetTotalAllocatedBytes(), acknowledged.Count);
            var single = await LoadAsync(server.BaseAddress, options, null, singleBodies, (status, body) => status == 201 ? acknowledged.Add(body) : 0,
                p => progress("single orders", p));
            var singleAllocated = (GC.GetTotalAllocatedBytes() - allocatedBefore) / (double)Math.Max(1, acknowledged.Count - singleAcknowledged);
            int CountAccepted(int status, ReadOnlySpan<byte> body) => status == 200 ? acknowledged.Add(body) : 0;
            var batchAcknowledged = acknowledged.Count;
            allocatedBefore = GC.GetTotalAllocatedBytes();
            var batch = await LoadAsync(server.BaseAddress, options, null, batchBodies, CountAccepted, p => progress("batches", p));
            var batchAllocated = (GC.GetTotalAllocatedBytes() - allocatedBefore) / (double)Math.Max(1, acknowledged.Count - batchAcknowledged);
            var (pausedBefore, pacedClock) = (GC.GetTotalPauseDuration(), Stopwatch.StartNew());
            var paced = await LoadAsync(server.BaseAddress, options, batch.OrdersPerS * 0.8 / options.BatchOrders,
                batchBodies, CountAccepted, p => progress("batches at 80%", p));
            var pacedGcPauseShare = (GC.GetTotalPauseDuration() - pausedBefore) / pacedClock.Elapsed; // server and load generator share the process

            var ids = acknowledged.Distinct();
            var readBack = await ReadBackAsync(server.State.Gateway, ids, p => progress("reading acknowledged orders back", p));
            progress("checking stock", 0);
            long oversold = 0;
            foreach (var ((_, key), units) in plenty.Select(s => (s, UnitsPerSku)).Concat(scarce.Select(s => (s, ScarceUnits))))
            {
                var stock = await api.WithKey(key).GetStockAsync(OneSkuSellers.Sku);
                var (onHand, reserved, sold, available) = (stock.OnHand, stock.Reserved, stock.Sold, stock.Available);
                oversold += Math.Max(0, reserved + sold - units) + (available < 0 ? -available : 0) + Math.Abs(onHand + sold - units);
            }
            progress("checking stock", 1);
            return new HttpBenchResult(ceiling, single.OrdersPerS, single.OrdersPerS / ceiling, single.P99Ms, batch.OrdersPerS, batch.P50Ms, batch.P99Ms,
                paced.OrdersPerS, paced.P99Ms, paced.P50Ms, pacedGcPauseShare, batchAllocated, singleAllocated, ids.Length, readBack, oversold,
                ids.Length - readBack, options.Connections, options.BatchOrders, options.Partitions, options.Seconds, SingleOrder(plenty[0].Id, 0).Length);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static async Task<(string Id, string Key)[]> ScarceSellersAsync(SurgeClient admin)
    {
        var created = new (string Id, string Key)[ScarceSellers];
        for (var s = 0; s < created.Length; s++)
        {
            var seller = await admin.CreateSellerAsync($"scarce seller {s}");
            var owner = admin.WithKey(seller.ApiKey);
            await owner.UpsertSkuAsync(new SkuBody(OneSkuSellers.Sku, "Scarce item", 1000, "KRW", 100, "ambient"));
            await owner.ReceiveStockAsync(OneSkuSellers.Sku, OneSkuSellers.Warehouse, ScarceUnits);
            created[s] = (seller.Id, seller.ApiKey);
        }
        return created;
    }

    /// <summary>How many of the acknowledged orders (single-seller parents) the partitions hold.</summary>
    private static async Task<long> ReadBackAsync(Gateway partitions, long[] parents, Action<double> progress)
    {
        long found = 0, done = 0;
        foreach (var home in parents.GroupBy(Application.Ids.Home))
        {
            foreach (var chunk in home.Select(p => Application.Ids.Child(p, 0)).Chunk(ReadBackOrdersMax))
            {
                found += (await partitions.GetOrders(home.Key, chunk)).Length;
                progress((done += chunk.Length) / (double)Math.Max(1, parents.Length));
            }
        }
        return found;
    }

    /// <summary>Ids of acknowledged orders, taken from the answers (<c>"id":"ord_N"</c>: a single order's answer, or each
    /// accepted order of a batch's answer).</summary>
    private sealed class AcknowledgedIds
    {
        private readonly List<long> _ids = [];

        public int Count
        {
            get
            {
                lock (_ids)
                {
                    return _ids.Count;
                }
            }
        }

        /// <summary>Adds the ids an answer names; returns how many.</summary>
        public int Add(ReadOnlySpan<byte> body)
        {
            var marker = "\"id\":\"ord_"u8;
            var found = new List<long>();
            for (var at = body.IndexOf(marker); at >= 0; at = body.IndexOf(marker))
            {
                body = body[(at + marker.Length)..];
                var end = body.IndexOf((byte)'"');
                if (end > 0 && System.Buffers.Text.Utf8Parser.TryParse(body[..end], out long id, out var consumed) && consumed == end)
                {
                    found.Add(id);
                }
            }
            lock (_ids)
            {
                _ids.AddRange(found);
            }
            return found.Count;
        }

        public long[] Distinct()
        {
            lock (_ids)
            {
                return [.. _ids.Distinct()];
            }
        }
    }

    private static byte[] SingleOrder(string seller, int i) => OrderBodies.Single($"single-{i}", "KR", "seoul", [(seller, "item", 1)]);

    /// <summary>A bare Kestrel endpoint: reads a POST body of an order's size, answers 201 with a small body.</summary>
    private static async Task<double> MeasureCeilingAsync(HttpBenchOptions options, Action<string, double> progress)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        await using var app = builder.Build();
        var answer = "{\"id\":\"ord_1\",\"status\":\"pending_payment\"}"u8.ToArray();
        app.MapPost("/v1/orders", async context =>
        {
            while (true)
            {
                var read = await context.Request.BodyReader.ReadAsync();
                context.Request.BodyReader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }
            context.Response.StatusCode = 201;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = answer.Length;
            await context.Response.Body.WriteAsync(answer);
        });
        await app.StartAsync();
        var address = new Uri(app.Urls.First());
        var bodies = Enumerable.Range(0, 256).Select(i => RawHttpConnection.Post(address, "/v1/orders", "ak_ceiling", SingleOrder("sel_1", i))).ToArray();
        var result = await LoadAsync(address, options, null, bodies, (status, _) => status == 201 ? 1 : 0, p => progress("kestrel ceiling", p));
        await app.StopAsync();
        return result.OrdersPerS;
    }

    private sealed record LoadResult(double OrdersPerS, double P50Ms, double P99Ms);

    private delegate int Accepted(int status, ReadOnlySpan<byte> body);

    /// <summary>Runs the requests over <paramref name="connections"/> keep-alive connections for a bounded time
    /// after a warm-up that is not counted (the JIT recompiles hot code for seconds after it first runs: measured
    /// with a 1 s warm-up, single orders were half as fast as at steady state); paced to
    /// <paramref name="requestsPerS"/> when given.</summary>
    private static async Task<LoadResult> LoadAsync(Uri address, HttpBenchOptions options, double? requestsPerS, byte[][] requests,
        Accepted accepted, Action<double> progress)
    {
        var (connections, seconds) = (options.Connections, options.Seconds);
        var histogram = new LongHistogram(TimeSpan.TicksPerMinute, 3);
        long orders = 0;
        var clock = Stopwatch.StartNew();
        var warmUp = TimeSpan.FromSeconds(options.WarmupSeconds);
        var end = warmUp + TimeSpan.FromSeconds(seconds);
        var interval = requestsPerS is { } rate ? TimeSpan.FromSeconds(connections / rate) : TimeSpan.Zero;
        var workers = Enumerable.Range(0, connections).Select(c => Task.Run(async () =>
        {
            using var connection = await RawHttpConnection.OpenAsync(address);
            var local = new LongHistogram(TimeSpan.TicksPerMinute, 3);
            long count = 0;
            var next = clock.Elapsed + interval * c / connections;
            for (var i = c; clock.Elapsed < end; i += connections)
            {
                var started = clock.Elapsed.Ticks;
                if (interval > TimeSpan.Zero)
                {
                    var wait = next - clock.Elapsed;
                    started = next.Ticks; // paced: timed from when the request was due, so a late send counts its wait
                    next += interval;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait); // pacing to the target rate
                    }
                }
                var (status, body) = await connection.SendAsync(requests[i % requests.Length]);
                var ok = accepted(status, body.Span);
                if (clock.Elapsed > warmUp)
                {
                    local.RecordValue(Math.Max(1, clock.Elapsed.Ticks - started));
                    count += ok;
                }
            }
            lock (histogram)
            {
                histogram.Add(local);
            }
            Interlocked.Add(ref orders, count);
        })).ToArray();
        while (!Task.WhenAll(workers).IsCompleted)
        {
            progress(Math.Min(1, clock.Elapsed / end));
            await Task.WhenAny(Task.WhenAll(workers), Task.Delay(200)); // progress display refresh
        }
        await Task.WhenAll(workers);
        progress(1);
        double Ms(double percentile) => histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
        return new LoadResult(orders / seconds, Ms(50), Ms(99));
    }
}
