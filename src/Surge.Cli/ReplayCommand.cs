using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using HdrHistogram;
using Spectre.Console;
using Surge.Cli.Load;
using Surge.Client;

namespace Surge.Cli;

/// <summary>
/// `surge replay`: an order history in the Online Retail format sent to a running server at X times real speed.
/// It first sets up a marketplace in that server from the file's products (sellers owning the stock codes,
/// warehouses, SKUs, stock of three times what the year sold), then sends every invoice as one order when its
/// time comes (compressed by the speed), at most <c>--concurrency</c> in flight. Malformed rows are counted
/// and reported, never fatal.
/// </summary>
internal static class ReplayCommand
{
    public sealed record ReplayResult(long Rows, long MalformedRows, int Invoices, IReadOnlyList<string> RefusedStockCodes, long InvoicesWithoutProducts,
        long Sent, long Accepted, long Failed,
        IReadOnlyDictionary<string, long> RejectedByReason, double Seconds, double SpeedAchieved, double P50Ms, double P99Ms, double P999Ms);

    public static Command Create()
    {
        var data = new Option<FileInfo?>("--data") { Description = "Order history in the Online Retail format (.csv or .csv.gz; default: ../shared/data/online-retail/online_retail.csv.gz)." };
        var speed = new Option<double>("--speed") { Description = "Times real speed (e.g. 100000 replays the year's history in about 5 minutes).", Required = true };
        speed.Check(value => value is > 0 and <= 1e9 ? null : "--speed must be greater than 0 and at most 1,000,000,000");
        var url = new Option<string>("--url") { Description = "The running server.", DefaultValueFactory = _ => "http://127.0.0.1:8080/" };
        url.Check(value => Uri.TryCreate(value, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? null : "--url must be an absolute http(s) URL");
        var key = new Option<string?>("--admin-key") { Description = "The server's admin key (default: the SURGE_ADMIN_KEY environment variable)." };
        var limit = Output.PositiveOption("--limit", "Invoices to replay at most, from the start of the history", int.MaxValue);
        var sellers = Output.PositiveOption("--sellers", "Sellers the stock codes are spread over", 40, 10_000);
        var concurrency = Output.PositiveOption("--concurrency", "Orders in flight at most", 64, 10_000);
        var json = Output.JsonOption("summary");
        var command = new Command("replay", "Replay an order history (Online Retail CSV) against a running server at X times real speed.")
        {
            data, speed, url, key, limit, sellers, concurrency, json,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var adminKey = parse.GetValue(key) ?? Environment.GetEnvironmentVariable("SURGE_ADMIN_KEY");
            if (string.IsNullOrEmpty(adminKey))
            {
                Console.Error.WriteLine("surge replay: give the server's admin key with --admin-key or SURGE_ADMIN_KEY");
                return 2;
            }
            string path;
            RetailData history;
            try
            {
                path = RetailData.Locate(parse.GetValue(data)?.FullName);
                history = RetailData.Read(path);
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or IOException)
            {
                Console.Error.WriteLine($"surge replay: {e.Message}");
                return 2;
            }
            using var api = new SurgeClient(new Uri(parse.GetValue(url)!), adminKey, new SurgeClientOptions { ConnectionsMax = parse.GetValue(concurrency) });
            try
            {
                var probe = await api.SendAsync(HttpMethod.Get, "/v1/warehouses", cancellationToken: cancellation);
                if (probe.Status != 200)
                {
                    Console.Error.WriteLine($"surge replay: the server at {api.BaseAddress} answered {probe.Status} to GET /v1/warehouses (is the admin key right?)");
                    return 2;
                }
            }
            catch (HttpRequestException e)
            {
                Console.Error.WriteLine($"surge replay: no server at {api.BaseAddress}: {e.Message}");
                return 2;
            }
            var invoices = history.Invoices.Take(parse.GetValue(limit)).ToList();
            AnsiConsole.MarkupLineInterpolated($"{path}: {history.Rows:N0} rows, [yellow]{history.Malformed:N0} malformed[/] (skipped), {history.Invoices.Count:N0} invoices; replaying {invoices.Count:N0}");
            var used = invoices.SelectMany(i => i.Lines.Select(l => l.StockCode)).ToHashSet(StringComparer.Ordinal);
            var market = await Output.WithProgressAsync("setting up the marketplace",
                progress => Marketplace.CreateAsync(api, history.Products.Where(p => used.Contains(p.StockCode)).ToList(), parse.GetValue(sellers), progress));
            var result = await Output.WithProgressAsync("replay", progress => ReplayAsync(api, history, invoices, market, parse.GetValue(speed),
                parse.GetValue(concurrency), progress, cancellation));
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("rows read / malformed (skipped)", $"{result.Rows:N0} / {result.MalformedRows:N0}");
            table.AddRow("orders sent", $"{result.Sent:N0} of {result.Invoices:N0} invoices in {result.Seconds:F1} s ({result.SpeedAchieved:N0}× real time)");
            if (result.RefusedStockCodes.Count > 0)
            {
                table.AddRow("stock codes the server refused as SKUs", $"{result.RefusedStockCodes.Count:N0} ({string.Join(", ", result.RefusedStockCodes.Take(5))}); "
                    + $"their lines left out, {result.InvoicesWithoutProducts:N0} invoices had no other line");
            }
            table.AddRow("accepted", $"{result.Accepted:N0}");
            foreach (var (reason, count) in result.RejectedByReason.OrderByDescending(r => r.Value))
            {
                table.AddRow($"rejected: {reason}", $"{count:N0}");
            }
            table.AddRow("no answer", $"{result.Failed:N0}");
            table.AddRow("latency from when due, p50 / p99 / p99.9", $"{result.P50Ms:F1} / {result.P99Ms:F1} / {result.P999Ms:F1} ms");
            AnsiConsole.Write(table);
            Output.WriteJson(parse.GetValue(json), result);
            return 0;
        });
        return command;
    }

    private static async Task<ReplayResult> ReplayAsync(SurgeClient api, RetailData history, List<RetailInvoice> invoices, Marketplace market, double speed,
        int concurrency, Action<string, double> progress, CancellationToken cancellation)
    {
        var histogram = new LongHistogram(TimeSpan.TicksPerMinute, 3);
        var rejected = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        long sent = 0, accepted = 0, failed = 0, skipped = 0;
        using var slots = new SemaphoreSlim(concurrency);
        var clock = Stopwatch.StartNew();
        var first = invoices.Count > 0 ? invoices[0].At : default;
        var inFlight = new List<Task>();
        foreach (var invoice in invoices)
        {
            var due = TimeSpan.FromTicks((long)((invoice.At - first).Ticks / speed));
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellation); // the history's own pace, compressed
            }
            await slots.WaitAsync(cancellation);
            var country = RetailData.CountryCode(invoice.Country);
            var lines = invoice.Lines.Where(l => market.Owners.ContainsKey(l.StockCode)).GroupBy(l => l.StockCode, StringComparer.Ordinal)
                .Select(g => (market.Owners[g.Key].Seller, g.Key, (int)Math.Clamp(g.Sum(l => (long)l.Quantity), 1, Core.Limits.QuantityPerLineMax)))
                .Take(Core.Limits.LinesPerOrderMax).ToList();
            if (lines.Count == 0)
            {
                skipped++; // only stock codes the server refused as SKUs (e.g. "POST", "BANK CHARGES")
                progress("sending orders", ++sent / (double)invoices.Count);
                continue;
            }
            var body = OrderBodies.Single(invoice.Customer, country, Marketplace.Region(country), lines);
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    var answer = await api.PostJsonAsync("/v1/orders", body, cancellationToken: cancellation);
                    lock (histogram)
                    {
                        // From when the order was due, not when a slot let it go: a server that falls behind shows it.
                        histogram.RecordValue(Math.Max(1, clock.Elapsed.Ticks - due.Ticks));
                    }
                    if (answer.Status == 201)
                    {
                        Interlocked.Increment(ref accepted);
                    }
                    else
                    {
                        rejected.AddOrUpdate(SurgeClient.Problem(answer).Code, 1, (_, n) => n + 1);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failed);
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None));
            progress("sending orders", ++sent / (double)invoices.Count);
            inFlight.RemoveAll(t => t.IsCompleted);
        }
        await Task.WhenAll(inFlight);
        var seconds = clock.Elapsed.TotalSeconds;
        double Ms(double p) => histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(p) / (double)TimeSpan.TicksPerMillisecond;
        var span = invoices.Count > 1 ? (invoices[^1].At - first).TotalSeconds : 0;
        return new ReplayResult(history.Rows, history.Malformed, invoices.Count, market.Refused, skipped, sent - skipped, accepted, failed, rejected, seconds,
            seconds > 0 ? span / seconds : 0, Ms(50), Ms(99), Ms(99.9));
    }
}
