using System.CommandLine;
using Spectre.Console;
using Surge.Bench.Scenarios;
using Surge.Cli;

namespace Surge.Bench.Soak;

internal static class SoakCommand
{
    public static Command Create()
    {
        var json = Output.JsonOption();
        var orders = new Option<long>("--orders") { Description = "Orders taken through their whole lifecycle (1,000–10,000,000,000).", DefaultValueFactory = _ => 50_000_000 };
        orders.Check(value => value is < 1_000 or > 10_000_000_000 ? "--orders must be between 1,000 and 10,000,000,000" : null);
        var rate = Output.PositiveOption("--rate", "Orders placed per second (each also paid, allocated, dispatched and delivered).", 50_000, 1_000_000);
        var partitions = Output.PositiveOption("--partitions", "Partitions (a power of two is not required here).", Server.ServerOptions.DefaultPartitions, 1024);
        var samples = Output.PositiveOption("--samples", "Samples along the run.", 20, 1_000);
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Directory for the journals and the read model (default: a temporary directory, removed afterwards)." };
        var plots = new Option<DirectoryInfo?>("--plots") { Description = "Write SVG plots (memory, lag and query p99 against orders processed) to this directory." };
        var command = new Command("soak", "The whole order lifecycle (place, pay, allocate, dispatch, deliver, retire) for many orders on the engines, journals "
            + "and read model, sampling engine memory, RSS, snapshot size, recovery time, read-model lag and listing p99; lost orders counted by id at the end.")
        {
            json, orders, rate, partitions, samples, dir, plots,
        };
        command.SetAction(async (parse, token) =>
        {
            var options = new SoakOptions(parse.GetValue(orders), parse.GetValue(partitions), parse.GetValue(rate), parse.GetValue(samples), parse.GetValue(dir)?.FullName);
            var result = await Output.WithProgressAsync("soak", report => SoakBench.RunAsync(options, report, token));
            var table = new Table().AddColumns("orders processed", "engine MB", "live / retired orders", "RSS MB", "snapshots MB", "recovery s",
                "read-model lag s (records)", "listing / lookup p99 ms");
            foreach (var s in result.Samples)
            {
                table.AddRow($"{s.OrdersProcessed:N0}", $"{s.EngineBytes / 1e6:F0}", $"{s.LiveOrders:N0} / {s.RetiredOrders:N0}", $"{s.RssBytes / 1e6:F0}",
                    $"{s.SnapshotBytes / 1e6:F0}", s.RecoveryS is { } r ? $"{r:F2}" : "", $"{s.ReadModelLagS:F2} ({s.ReadModelLagRecords:N0})",
                    $"{s.ListingP99Ms:F1} / {s.LookupP99Ms:F1}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{result.OrdersPerS:N0} orders/s (target {result.TargetOrdersPerS:N0}); acknowledged {result.Acknowledged:N0}, in the engines {result.InEngines:N0}, in the read model {result.InReadModel:N0}; lost {result.Lost}; refused: {string.Join(", ", result.Refused.Select(r => $"{r.Key} {r.Value:N0}"))}");
            Output.WriteJson(parse.GetValue(json), result);
            if (parse.GetValue(plots) is { } directory)
            {
                directory.Create();
                var x = result.Samples.Select(s => (double)s.OrdersProcessed / 1e6).ToList();
                SvgPlot.Series Line(string name, Func<SoakSample, double> y) => new(name, [.. result.Samples.Select((s, i) => (x[i], y(s)))]);
                File.WriteAllText(Path.Combine(directory.FullName, "soak-memory.svg"), SvgPlot.Render("Memory against orders processed", "orders processed (millions)", "MB",
                    [Line("engine tables", s => s.EngineBytes / 1e6), Line("process RSS", s => s.RssBytes / 1e6), Line("snapshots", s => s.SnapshotBytes / 1e6)], logY: false));
                File.WriteAllText(Path.Combine(directory.FullName, "soak-read-model.svg"), SvgPlot.Render("Read model against orders processed", "orders processed (millions)", "ms",
                    [Line("lag", s => s.ReadModelLagS * 1000), Line("listing p99", s => s.ListingP99Ms), Line("lookup p99", s => s.LookupP99Ms)], logY: true));
                AnsiConsole.MarkupLineInterpolated($"[grey]wrote {directory.FullName}/soak-*.svg[/]");
            }
            return result.Lost == 0 ? 0 : 1;
        });
        return command;
    }
}
