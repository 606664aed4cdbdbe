using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using HdrHistogram;
using Spectre.Console;
using Spectre.Console.Rendering;
using Surge.Cli.Load;
using Surge.Client;
using Surge.Flow;
using Surge.Server;

namespace Surge.Cli;

/// <summary>
/// A marketplace day in a minute: an embedded server (or a running one), sellers, warehouses, SKUs and stock
/// from the Online Retail data, real baskets as multi-seller orders at a steady rate, payments, and a flash
/// sale in the middle where tens of thousands of buyers rush a console with a thousand units. Ends with what
/// happened: accepted, rejected by reason, oversold (must be 0), latency percentiles, and where to look.
/// </summary>
internal static class DemoCommand
{
    private const string FlashSku = "FLASH-CONSOLE";
    private const int OrdersPerBatch = 20;
    private const int FlashBatch = 250;

    public static Command Create()
    {
        var duration = Output.PositiveOption("--duration", "Seconds of traffic", 60, 3600);
        var rate = Output.PositiveOption("--rate", "Orders per second of normal traffic", 2_000, 1_000_000);
        var flashUnits = Output.PositiveOption("--flash-units", "Consoles on flash sale", 1_000, 1_000_000);
        var flashBuyers = Output.PositiveOption("--flash-buyers", "Buyers rushing the flash sale", 50_000, 10_000_000);
        var sellers = Output.PositiveOption("--sellers", "Sellers sharing the shop's products", 40, 1_000);
        var products = Output.PositiveOption("--products", "Best-selling stock codes put on sale", 2_000, 10_000);
        var url = new Option<string?>("--url") { Description = "Use a running server (e.g. http://127.0.0.1:8080/) instead of starting one; needs --admin-key." };
        url.Check(value => Uri.TryCreate(value, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? null : "--url must be an absolute http(s) URL");
        var adminKey = new Option<string?>("--admin-key") { Description = "Admin key of the server given by --url." };
        var dataFile = new Option<string?>("--data-file") { Description = "Online Retail CSV (.csv or .csv.gz); default: ../shared/data/online-retail/online_retail.csv.gz" };
        var keep = new Option<DirectoryInfo?>("--data") { Description = "Keep the embedded server's data here (default: a temporary directory, removed at the end)." };
        var linger = new Option<int>("--linger")
        {
            Description = "Seconds to keep the embedded server (and its dashboard) up after the traffic ends; Ctrl+C ends it early.",
            DefaultValueFactory = _ => 0,
        };
        var json = Output.JsonOption("summary");
        var command = new Command("demo", "Start an embedded server and run a minute of marketplace traffic with a flash sale in the middle.")
        {
            duration, rate, flashUnits, flashBuyers, sellers, products, url, adminKey, dataFile, keep, linger, json,
        };
        command.SetAction(async (parse, token) =>
        {
            var target = parse.GetValue(url) is { } given ? new Uri(given) : null;
            if (target is not null && parse.GetValue(adminKey) is null)
            {
                Console.Error.WriteLine("surge demo: --url needs --admin-key");
                return 2;
            }
            var settings = new Settings(parse.GetValue(duration), parse.GetValue(rate), parse.GetValue(flashUnits), parse.GetValue(flashBuyers),
                parse.GetValue(sellers), parse.GetValue(products));
            var retail = RetailData.Locate(parse.GetValue(dataFile));
            var directory = parse.GetValue(keep)?.FullName ?? Path.Combine(Path.GetTempPath(), $"surge-demo-{Environment.ProcessId}");
            SurgeServer? server = null;
            try
            {
                if (target is null)
                {
                    AnsiConsole.MarkupLine("[grey]starting the embedded server (Orleans silo + HTTP API) ...[/]");
                    server = await SurgeServer.StartAsync(new ServerOptions { DataDirectory = directory, Http = new() { Port = 0 }, Flow = new() { Rules = DemoCarriers } });
                    target = server.BaseAddress;
                    Link("dashboard while the demo runs (one-time login link; --linger S keeps it up after)",
                        new Uri(target, server.Dashboard.NewLoginLink(TimeSpan.FromMinutes(10))).ToString());
                }
                using var api = new SurgeClient(target, server?.AdminKey ?? parse.GetValue(adminKey)!);
                var summary = await RunAsync(api, retail, settings, token);
                Output.WriteJson(parse.GetValue(json), summary);
                if (server is not null && parse.GetValue(linger) is > 0 and var seconds)
                {
                    AnsiConsole.MarkupLineInterpolated($"[grey]the server stays up {seconds} s for the dashboard (Ctrl+C ends it) ...[/]");
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(seconds), token);
                    }
                    catch (OperationCanceledException)
                    {
                        // Ctrl+C: stop now
                    }
                }
                return summary.Oversold == 0 ? 0 : 1;
            }
            finally
            {
                if (server is not null)
                {
                    await server.DisposeAsync();
                    if (parse.GetValue(keep) is null && Directory.Exists(directory))
                    {
                        Directory.Delete(directory, recursive: true);
                    }
                }
            }
        });
        return command;
    }

    /// <summary>Carriers for the demo's destinations (the Online Retail countries). They have no endpoint: the demo
    /// shows planning; delivery to carriers is not part of it.</summary>
    internal static readonly FulfillmentRules DemoCarriers = new()
    {
        Carriers =
        [
            DemoCarrier("royal-parcel", ["GB", "IE"], [ShippingClass.Parcel, ShippingClass.Bulky], 350, 90),
            DemoCarrier("euro-express", ["FR", "DE", "ES", "NL", "BE", "CH", "PT", "IT", "NO", "GB"], [ShippingClass.Parcel, ShippingClass.ColdChain], 520, 110),
            DemoCarrier("world-post", ["AU", "GB", "FR", "DE"], [ShippingClass.Parcel, ShippingClass.Bulky, ShippingClass.Hazmat], 900, 250),
        ],
    };

    private static CarrierConfig DemoCarrier(string id, string[] countries, ShippingClass[] classes, long baseMinor, long perKgMinor) => new()
    {
        Id = id,
        Countries = countries,
        Classes = classes,
        Services = ["standard", "freight", "express", "ground"],
        Prices = classes.ToDictionary(c => c, _ => new PriceRule(baseMinor, perKgMinor)),
        Currency = "GBP",
    };

    private sealed record Settings(int Seconds, int Rate, int FlashUnits, int FlashBuyers, int Sellers, int Products);

    internal sealed record DemoSummary(
        string Url,
        double Seconds,
        long OrdersSent,
        long Accepted,
        IReadOnlyDictionary<string, long> RejectedByReason,
        long Payments,
        double AcceptedPerS,
        long FlashUnits,
        long FlashBuyers,
        long FlashAccepted,
        long FlashSoldOut,
        long FlashLimitExceeded,
        long FlashNotStarted,
        long FlashStockLeft,
        long Oversold,
        double BatchP50Ms,
        double BatchP99Ms,
        double BatchP999Ms,
        double PaymentP50Ms,
        double PaymentP99Ms,
        string? TrackingUrl,
        string SellerSignInUrl,
        long OrdersPlanned,
        long ShipmentsPlanned,
        long FulfillmentLagRecords,
        double FulfillmentCatchUpS);

    private sealed class Tally
    {
        public long Sent, Accepted, Payments, FlashAccepted;
        public ConcurrentDictionary<string, long> Rejected { get; } = new();
        public ConcurrentDictionary<string, long> Flash { get; } = new();
        public LongHistogram BatchLatency { get; } = new(TimeSpan.TicksPerMinute, 3);
        public LongHistogram PaymentLatency { get; } = new(TimeSpan.TicksPerMinute, 3);
        public ConcurrentQueue<string> ToPay { get; } = new();
        public string? SampleOrder;
        public long FlashLeft = -1;

        public void Record(LongHistogram histogram, long ticks)
        {
            lock (histogram)
            {
                histogram.RecordValue(Math.Max(1, ticks));
            }
        }

        public static double Ms(LongHistogram histogram, double percentile)
        {
            lock (histogram)
            {
                return histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
            }
        }
    }

    private static async Task<DemoSummary> RunAsync(SurgeClient admin, string retailPath, Settings settings, CancellationToken cancellation)
    {
        AnsiConsole.MarkupLineInterpolated($"[grey]reading {retailPath} ...[/]");
        var data = RetailData.Read(retailPath);
        var products = data.Products.Take(settings.Products).ToList();
        var market = await Output.WithProgressAsync("setting up the marketplace", progress => Marketplace.CreateAsync(admin, products, settings.Sellers, progress));
        // Only stock codes the API took as SKUs are on sale (codes such as "BANK CHARGES" are not products).
        var baskets = data.Invoices.Select(i => i with { Lines = i.Lines.Where(l => market.Owners.ContainsKey(l.StockCode)).Take(20).ToArray() })
            .Where(i => i.Lines.Length > 0).ToArray();
        AnsiConsole.MarkupLineInterpolated($"[grey]{data.Rows:N0} rows ({data.Malformed:N0} malformed), {data.Invoices.Count:N0} invoices; {market.Owners.Count:N0} products and {baskets.Length:N0} baskets on sale[/]");
        var flashSeller = market.SellerIds[0];
        var flashOwner = admin.WithKey(market.SellerKeys[0]);
        await flashOwner.UpsertSkuAsync(new SkuBody(FlashSku, "Game console, launch edition", 39_900, "GBP", 4_500, "ambient"), cancellationToken: cancellation);
        await flashOwner.ReceiveStockAsync(FlashSku, "wh-london", settings.FlashUnits, cancellationToken: cancellation);

        var tally = new Tally();
        var clock = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(settings.Seconds);
        var flashAt = TimeSpan.FromSeconds(settings.Seconds / 3.0);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var workers = Math.Clamp(settings.Rate / 500, 2, 16);
        var traffic = Enumerable.Range(0, workers).Select(w => Task.Run(() => NormalTrafficAsync(admin, market, baskets, settings, w, workers, tally, clock, end, stop.Token), CancellationToken.None)).ToList();
        traffic.Add(Task.Run(() => PayAsync(admin, tally, clock, end, stop.Token), CancellationToken.None));
        traffic.Add(Task.Run(() => FlashSaleAsync(admin, flashSeller, flashOwner, settings, tally, clock, flashAt, stop.Token), CancellationToken.None));
        traffic.Add(Task.Run(() => WatchStockAsync(flashOwner, tally, clock, end, stop.Token), CancellationToken.None));

        await ShowLiveAsync(tally, clock, end, settings, Task.WhenAll(traffic));
        var seconds = clock.Elapsed.TotalSeconds;

        var stock = await flashOwner.GetStockAsync(FlashSku, cancellation);
        var oversold = Math.Max(0, stock.Sold + stock.Reserved - settings.FlashUnits) + Math.Max(0, tally.FlashAccepted - settings.FlashUnits)
            + (stock.Available < 0 ? 1 : 0);
        string? tracking = null;
        if (tally.SampleOrder is { } sample)
        {
            var order = await admin.GetOrderAsync(sample, cancellation);
            tracking = new Uri(admin.BaseAddress, $"/track/{order.TrackingToken}").ToString();
        }
        var (planned, shipments, lag, catchUp) = await FulfillmentAsync(admin, cancellation);
        var summary = new DemoSummary(admin.BaseAddress.ToString(), seconds, tally.Sent, tally.Accepted,
            tally.Rejected.OrderByDescending(r => r.Value).ToDictionary(r => r.Key, r => r.Value), tally.Payments, tally.Accepted / seconds,
            settings.FlashUnits, settings.FlashBuyers, tally.FlashAccepted, tally.Flash.GetValueOrDefault("insufficient_stock"),
            tally.Flash.GetValueOrDefault("limit_exceeded"), tally.Flash.GetValueOrDefault("sale_not_started"), stock.Available,
            oversold, Tally.Ms(tally.BatchLatency, 50), Tally.Ms(tally.BatchLatency, 99), Tally.Ms(tally.BatchLatency, 99.9),
            Tally.Ms(tally.PaymentLatency, 50), Tally.Ms(tally.PaymentLatency, 99), tracking,
            // The key rides in the fragment, which the browser never sends to a server.
            new Uri(admin.BaseAddress, "/seller#key=" + flashOwner.ApiKey).ToString(), planned, shipments, lag, catchUp);
        Print(summary);
        return summary;
    }

    /// <summary>Waits (at most <see cref="FulfillmentCatchUpMax"/>) until the fulfillment stages have caught up with
    /// the traffic; returns what they planned, the records still behind, and how long the wait took.</summary>
    private static async Task<(long Orders, long Shipments, long Lag, double WaitedS)> FulfillmentAsync(SurgeClient admin, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var flow = await admin.GetFlowAsync(cancellation);
            var lag = flow.Stages.Sum(s => s.LagRecords);
            if (lag == 0 || clock.Elapsed >= FulfillmentCatchUpMax)
            {
                return (flow.OrdersPlanned, flow.ShipmentsPlanned, lag, clock.Elapsed.TotalSeconds);
            }
            await Task.Delay(100, cancellation);
        }
    }

    private static readonly TimeSpan FulfillmentCatchUpMax = TimeSpan.FromSeconds(30);

    /// <summary>Real baskets, as batches of orders, paced to the configured rate.</summary>
    private static async Task NormalTrafficAsync(SurgeClient admin, Marketplace market, RetailInvoice[] baskets, Settings settings, int worker, int workers,
        Tally tally, Stopwatch clock, TimeSpan end, CancellationToken stop)
    {
        var interval = TimeSpan.FromSeconds(OrdersPerBatch * workers / (double)settings.Rate);
        var next = clock.Elapsed + interval * worker / workers;
        var cursor = worker * 997;
        while (clock.Elapsed < end && !stop.IsCancellationRequested)
        {
            var wait = next - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, stop).ConfigureAwait(false); // pacing to the target rate
            }
            next += interval;
            var batch = OrderBodies.Batch(OrdersPerBatch, (json, i) =>
            {
                var basket = baskets[(cursor + i) % baskets.Length];
                var country = RetailData.CountryCode(basket.Country);
                OrderBodies.Write(json, basket.Customer, country, Marketplace.Region(country),
                    basket.Lines.Select(l => (market.Owners[l.StockCode].Seller, l.StockCode, Math.Clamp(l.Quantity, 1, 12))));
            });
            cursor += OrdersPerBatch;
            var started = clock.Elapsed.Ticks;
            var answer = await admin.PostJsonAsync("/v1/orders/batch", batch, cancellationToken: stop).ConfigureAwait(false);
            var status = answer.Status;
            tally.Record(tally.BatchLatency, clock.Elapsed.Ticks - started);
            Interlocked.Add(ref tally.Sent, OrdersPerBatch);
            if (status != 200)
            {
                tally.Rejected.AddOrUpdate($"http_{status}", OrdersPerBatch, (_, n) => n + OrdersPerBatch);
                continue;
            }
            foreach (var order in OrderBodies.ReadBatchAnswer(answer.Body))
            {
                if (order.Status == 201)
                {
                    Interlocked.Increment(ref tally.Accepted);
                    tally.SampleOrder ??= order.Id;
                    if ((cursor + order.Id!.Length) % 3 == 0)
                    {
                        tally.ToPay.Enqueue(order.Id);
                    }
                }
                else
                {
                    tally.Rejected.AddOrUpdate(order.Code ?? $"http_{order.Status}", 1, (_, n) => n + 1);
                }
            }
        }
    }

    private static async Task PayAsync(SurgeClient admin, Tally tally, Stopwatch clock, TimeSpan end, CancellationToken stop)
    {
        while (clock.Elapsed < end && !stop.IsCancellationRequested)
        {
            if (!tally.ToPay.TryDequeue(out var id))
            {
                await Task.Delay(10, stop).ConfigureAwait(false); // nothing to pay yet
                continue;
            }
            var started = clock.Elapsed.Ticks;
            var paid = await admin.SendAsync(HttpMethod.Post, $"/v1/orders/{id}/payment", cancellationToken: stop).ConfigureAwait(false);
            tally.Record(tally.PaymentLatency, clock.Elapsed.Ticks - started);
            if (paid.Status == 200)
            {
                Interlocked.Increment(ref tally.Payments);
            }
        }
    }

    /// <summary>The rush: every buyer wants one console; some try twice. The sale opens a moment after the
    /// first buyers arrive, so a few are told it has not started.</summary>
    private static async Task FlashSaleAsync(SurgeClient admin, string seller, SurgeClient owner, Settings settings, Tally tally, Stopwatch clock,
        TimeSpan at, CancellationToken stop)
    {
        var wait = at - clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, stop).ConfigureAwait(false); // the sale is scheduled for a third of the way in
        }
        var opens = DateTimeOffset.UtcNow.AddMilliseconds(300);
        await owner.ConfigureFlashSaleAsync(FlashSku, opens, perBuyerLimit: 1, cancellationToken: stop);
        var next = -FlashBatch;
        await Parallel.ForEachAsync(Enumerable.Range(0, 8), stop, async (_, token) =>
        {
            while (true)
            {
                var first = Interlocked.Add(ref next, FlashBatch);
                if (first >= settings.FlashBuyers)
                {
                    return;
                }
                var count = Math.Min(FlashBatch, settings.FlashBuyers - first);
                var body = OrderBodies.Batch(count, (json, i) =>
                {
                    var buyer = first + i;
                    var who = buyer % 20 == 19 ? buyer - 1 : buyer; // every twentieth buyer is the previous one trying again
                    OrderBodies.Write(json, $"fan-{who}", "GB", "london", [(seller, FlashSku, 1)]);
                });
                var answer = await admin.PostJsonAsync("/v1/orders/batch", body, cancellationToken: token).ConfigureAwait(false);
                Interlocked.Add(ref tally.Sent, count);
                if (answer.Status != 200)
                {
                    tally.Flash.AddOrUpdate($"http_{answer.Status}", count, (_, n) => n + count);
                    continue;
                }
                foreach (var order in OrderBodies.ReadBatchAnswer(answer.Body))
                {
                    if (order.Status == 201)
                    {
                        Interlocked.Increment(ref tally.FlashAccepted);
                        tally.ToPay.Enqueue(order.Id!);
                    }
                    else
                    {
                        tally.Flash.AddOrUpdate(order.Code ?? $"http_{order.Status}", 1, (_, n) => n + 1);
                    }
                }
            }
        }).ConfigureAwait(false);
    }

    private static async Task WatchStockAsync(SurgeClient owner, Tally tally, Stopwatch clock, TimeSpan end, CancellationToken stop)
    {
        while (clock.Elapsed < end && !stop.IsCancellationRequested)
        {
            try
            {
                Interlocked.Exchange(ref tally.FlashLeft, (await owner.GetStockAsync(FlashSku, stop).ConfigureAwait(false)).Available);
            }
            catch (SurgeApiException)
            {
                // an overloaded moment: the countdown shows the last value
            }
            await Task.Delay(250, stop).ConfigureAwait(false); // sampling the countdown for the display
        }
    }

    private static async Task ShowLiveAsync(Tally tally, Stopwatch clock, TimeSpan end, Settings settings, Task traffic)
    {
        long lastAccepted = 0;
        var lastAt = TimeSpan.Zero;
        double perSecond = 0;
        IRenderable Render()
        {
            var now = clock.Elapsed;
            if (now - lastAt >= TimeSpan.FromSeconds(1))
            {
                var accepted = Interlocked.Read(ref tally.Accepted) + Interlocked.Read(ref tally.FlashAccepted);
                perSecond = (accepted - lastAccepted) / (now - lastAt).TotalSeconds;
                (lastAccepted, lastAt) = (accepted, now);
            }
            var table = new Table().Border(TableBorder.Rounded).Title("[bold]Surge demo[/]").AddColumn("").AddColumn("");
            table.AddRow("elapsed", $"{now.TotalSeconds:F0} s of {end.TotalSeconds:F0} s");
            table.AddRow("orders accepted", $"{tally.Accepted + tally.FlashAccepted:N0} ({perSecond:N0}/s)");
            table.AddRow("rejected", string.Join(", ", tally.Rejected.Concat(tally.Flash).GroupBy(r => r.Key).Select(g => $"{g.Key} {g.Sum(x => x.Value):N0}")));
            table.AddRow("payments", $"{tally.Payments:N0}");
            var left = Interlocked.Read(ref tally.FlashLeft);
            table.AddRow("flash sale", left < 0 ? $"opens at {settings.Seconds / 3} s" : $"{left:N0} of {settings.FlashUnits:N0} consoles left, {tally.FlashAccepted:N0} buyers won");
            table.AddRow("batch latency", $"p50 {Tally.Ms(tally.BatchLatency, 50):F1} ms, p99 {Tally.Ms(tally.BatchLatency, 99):F1} ms");
            return table;
        }
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            while (!traffic.IsCompleted)
            {
                await Task.WhenAny(traffic, Task.Delay(5000)).ConfigureAwait(false); // a status line every 5 s
                Console.WriteLine($"demo: {clock.Elapsed.TotalSeconds:F0} s, accepted {tally.Accepted + tally.FlashAccepted:N0}, flash left {tally.FlashLeft}");
            }
            await traffic.ConfigureAwait(false);
            return;
        }
        await AnsiConsole.Live(Render()).StartAsync(async context =>
        {
            while (!traffic.IsCompleted)
            {
                await Task.WhenAny(traffic, Task.Delay(500)).ConfigureAwait(false); // refresh twice a second
                context.UpdateTarget(Render());
            }
        }).ConfigureAwait(false);
        await traffic.ConfigureAwait(false);
    }

    private static void Print(DemoSummary s)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]what happened[/]").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.AddRow("orders sent / accepted", $"{s.OrdersSent:N0} / {s.Accepted + s.FlashAccepted:N0}");
        table.AddRow("accepted per second (normal traffic)", $"{s.AcceptedPerS:N0}");
        foreach (var (reason, count) in s.RejectedByReason)
        {
            table.AddRow($"rejected: {reason}", $"{count:N0}");
        }
        table.AddRow("payments confirmed", $"{s.Payments:N0}");
        table.AddRow("flash sale: units / buyers", $"{s.FlashUnits:N0} / {s.FlashBuyers:N0}");
        table.AddRow("flash sale: won / sold out / tried twice / too early", $"{s.FlashAccepted:N0} / {s.FlashSoldOut:N0} / {s.FlashLimitExceeded:N0} / {s.FlashNotStarted:N0}");
        table.AddRow("flash sale: stock left", $"{s.FlashStockLeft:N0}");
        table.AddRow(s.Oversold == 0 ? "[green]oversold[/]" : "[red]oversold[/]", $"{s.Oversold:N0}");
        table.AddRow("batch of 20 orders: p50 / p99 / p99.9", $"{s.BatchP50Ms:F1} / {s.BatchP99Ms:F1} / {s.BatchP999Ms:F1} ms");
        table.AddRow("payment: p50 / p99", $"{s.PaymentP50Ms:F1} / {s.PaymentP99Ms:F1} ms");
        table.AddRow("fulfillment: paid seller orders planned / shipments", $"{s.OrdersPlanned:N0} / {s.ShipmentsPlanned:N0}");
        table.AddRow(s.FulfillmentLagRecords == 0 ? "fulfillment: caught up after the traffic in" : "[yellow]fulfillment: still behind (records)[/]",
            s.FulfillmentLagRecords == 0 ? $"{s.FulfillmentCatchUpS:F1} s" : $"{s.FulfillmentLagRecords:N0}");
        AnsiConsole.Write(table);
        Link("API", $"{s.Url}v1");
        Link("OpenAPI", $"{s.Url}openapi/v1.json");
        if (s.TrackingUrl is not null)
        {
            Link("an order's tracking page", s.TrackingUrl);
        }
        Link("seller centre, signed in as the flash-sale seller", s.SellerSignInUrl);
    }

    /// <summary>A label, then the address on a line of its own and never wrapped (a terminal's line break inside a link
    /// would break copying it).</summary>
    private static void Link(string label, string url)
    {
        AnsiConsole.MarkupLineInterpolated($"{label}:");
        Console.Out.WriteLine("  " + url);
    }
}
