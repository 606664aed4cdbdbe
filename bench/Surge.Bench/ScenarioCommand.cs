using System.CommandLine;
using Spectre.Console;
using Surge.Bench.Scenarios;

namespace Surge.Bench;

/// <summary>`surge bench scenario NAME`: the realistic loads against Surge and its peers, one table per scenario.</summary>
internal static class ScenarioCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = $"Scenario: {string.Join(", ", Scenario.Names)}, marketplace (both marketplace shapes) or all." };
        name.AcceptOnlyFromAmong([.. Scenario.Names, "marketplace", "all"]);
        var json = Output.JsonOption();
        var systems = new Option<string>("--systems")
        {
            Description = $"Comma-separated systems to run, in order: {string.Join(", ", ScenarioBench.SystemNames)} (the default), "
                + $"or {string.Join(", ", ScenarioBench.AblationNames)} (Surge with an fdatasync per partition journal, a baseline for the shared group commit).",
            DefaultValueFactory = _ => string.Join(',', ScenarioBench.SystemNames),
        };
        systems.Check(value =>
        {
            var unknown = (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Where(s => !ScenarioBench.SystemNames.Contains(s) && !ScenarioBench.AblationNames.Contains(s)).ToList();
            return unknown.Count > 0
                ? $"--systems: unknown {string.Join(", ", unknown)}; known: {string.Join(", ", ScenarioBench.SystemNames.Concat(ScenarioBench.AblationNames))}"
                : null;
        });
        var workers = Output.PositiveOption("--workers", "Load-generator workers (connections), each with one request in flight", Scenario.WorkersDefault, 1_000);
        var batch = Output.PositiveOption("--batch", "Orders per request of the batch systems (surge-batch, postgres-batch, redis-…-batch)", 100, 1_000);
        var buyers = Output.PositiveOption("--buyers", "flash-sale: distinct buyers", 1_000_000, 10_000_000);
        var units = Output.PositiveOption("--units", "flash-sale: units of the SKU", 10_000, 100_000_000);
        var orders = Output.PositiveOption("--orders", "marketplace-typical/-wide: Online Retail carts replayed as orders", 20_000, 1_000_000);
        var rate = Output.PositiveOption("--base-rate", $"burst: orders per second before and after the {Scenario.BurstFactor}× burst", 1_000, 1_000_000);
        var maxSeconds = Output.PositiveOption("--max-seconds", "Longest a closed-loop scenario may run per system (incomplete runs are marked)", 120, 3_600);
        var warmup = Output.PositiveOption("--warmup", "Seconds each system is loaded on warm-up SKUs (carts over 1-3 sellers, paid or cancelled) before it is measured", 20, 120);
        var plots = new Option<DirectoryInfo?>("--plots") { Description = "Write SVG plots (throughput over time, latency by percentile) to this directory." };
        var dataFile = new Option<FileInfo?>("--data-file") { Description = "marketplace-typical/-wide: the Online Retail CSV (default: ../shared/data/online-retail/online_retail.csv.gz)." };
        var command = new Command("scenario", "Flash sale, marketplace and burst loads against PostgreSQL, Redis (appendfsync always and everysec) and Surge, "
            + "started by the bench on loopback, with the same load generator.")
        {
            name, json, systems, workers, batch, buyers, units, orders, rate, maxSeconds, warmup, plots, dataFile,
        };
        command.SetAction(async parse =>
        {
            var chosen = parse.GetValue(name) switch
            {
                "all" => Scenario.Names,
                "marketplace" => Scenario.Names.Where(n => n.StartsWith("marketplace-", StringComparison.Ordinal)).ToArray(),
                var one => [one!],
            };
            var options = new ScenarioBenchOptions
            {
                Scenarios = chosen,
                Systems = parse.GetValue(systems)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                Workers = parse.GetValue(workers),
                BatchOrders = parse.GetValue(batch),
                FlashBuyers = parse.GetValue(buyers),
                FlashUnits = parse.GetValue(units),
                MarketplaceOrders = parse.GetValue(orders),
                BurstBaseRate = parse.GetValue(rate),
                MaxSecondsPerSystem = parse.GetValue(maxSeconds),
                WarmupSeconds = parse.GetValue(warmup),
                PlotsDirectory = parse.GetValue(plots)?.FullName,
                RetailDataFile = parse.GetValue(dataFile)?.FullName,
            };
            ScenarioBenchResult result;
            try
            {
                result = await Output.WithProgressAsync("scenario", p => ScenarioBench.RunAsync(options, p));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A peer that cannot be started or reached (missing package, port, data file) ends the bench in words.
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.GetType().Name}: {e.Message}");
                return 2;
            }
            foreach (var scenario in result.Scenarios)
            {
                AnsiConsole.MarkupLineInterpolated($"[bold]{scenario.Scenario}[/]: {scenario.Description}");
                var table = new Table().AddColumns("system", "orders/s", "p50/p99/p99.9 ms", "accepted", "sold out", "limit/other",
                    "paid/cancelled", "oversold/lost", "Surge ÷ (same shape)");
                foreach (var s in scenario.Runs)
                {
                    var best = ScenarioBench.SameShapeSurge(scenario.Runs, s)?.OrdersPerS ?? 0;
                    table.AddRow(s.System + (s.Complete ? "" : $" (stopped at {s.Sent:N0})"), $"{s.OrdersPerS:N0}", $"{s.P50Ms:F1}/{s.P99Ms:F1}/{s.P999Ms:F1}",
                        $"{s.Accepted:N0}", $"{s.SoldOut:N0}", $"{s.LimitReached:N0}/{s.Rejected + s.Failed:N0}", $"{s.Paid:N0}/{s.Cancelled:N0}",
                        $"{s.Oversold}/{s.Lost}", best > 0 && s.OrdersPerS > 0 ? $"{best / s.OrdersPerS:F1}×" : "-");
                }
                AnsiConsole.Write(table);
                foreach (var s in scenario.Runs)
                {
                    AnsiConsole.MarkupLineInterpolated($"  [grey]{s.System}: {s.Durability}[/]");
                }
            }
            AnsiConsole.MarkupLineInterpolated($"oversold over all systems: {result.OversoldTotal}; lost: {result.LostTotal}");
            Output.WriteJson(parse.GetValue(json), result);
            return 0;
        });
        return command;
    }
}
