using System.CommandLine;
using Spectre.Console;
using Surge.Autoscale;
using Surge.Bench.Scenarios;
using Surge.Cli;

namespace Surge.Bench;

/// <summary>`surge bench elastic`: fixed-peak, reactive and predictive + reactive capacity over a compressed day.</summary>
internal static class ElasticCommand
{
    public static Command Create()
    {
        var json = Output.JsonOption();
        var daySeconds = Output.PositiveOption("--day-seconds", $"Real seconds one compressed day lasts (60–{ElasticBenchOptions.DaySecondsMax:F0})", 600, (int)ElasticBenchOptions.DaySecondsMax);
        daySeconds.Check(value => value < 60 ? "--day-seconds must be at least 60" : null);
        var capacity = Output.PositiveOption("--capacity", "Orders per second each silo takes (its serve --capacity)", 500, 1_000_000);
        var silosMax = Output.PositiveOption("--silos-max", "Most silos (the fixed-peak cluster's size)", 8, 64);
        var night = Output.PositiveOption("--night-rate", "Orders per second of the quiet night (the midnight spike is about 20× this)", 100, 1_000_000);
        var price = new Option<double>("--price-per-silo-hour") { Description = "Price of one silo for one hour, for the cost column.", DefaultValueFactory = _ => 0.10 };
        var modes = new Option<string[]>("--modes")
        {
            Description = "Which runs: fixed-peak, reactive, predictive (default all three).",
            DefaultValueFactory = _ => ["fixed-peak", "reactive", "predictive"],
            AllowMultipleArgumentsPerToken = true,
        };
        modes.AcceptOnlyFromAmong("fixed-peak", "reactive", "predictive");
        var plots = new Option<DirectoryInfo?>("--plots") { Description = "Write an SVG per run (load, forecast, capacity of the serving silos over the day) to this directory." };
        var command = new Command("elastic", "A Double-11-shaped day compressed to minutes against a cluster of `surge serve` silos on this machine "
            + "(PostgreSQL and Redis on loopback), run with fixed capacity for the peak, reactive scaling, and predictive + reactive scaling; "
            + "reports silo-seconds, cost, SLO-breach minutes (p99 > 50 ms or > 1 % refused) and lost orders.")
        {
            json, daySeconds, capacity, silosMax, night, price, modes, plots,
        };
        command.SetAction(async parse =>
        {
            if (parse.GetValue(price) < 0)
            {
                Console.Error.WriteLine("surge bench elastic: --price-per-silo-hour cannot be negative");
                return 2;
            }
            var options = new ElasticBenchOptions
            {
                DaySeconds = parse.GetValue(daySeconds),
                SiloCapacity = parse.GetValue(capacity),
                SilosMax = parse.GetValue(silosMax),
                NightOrdersPerS = parse.GetValue(night),
                PricePerSiloHour = parse.GetValue(price),
                Modes = parse.GetValue(modes)!.Distinct().Select(m => m switch
                {
                    "fixed-peak" => ScalingMode.FixedPeak,
                    "reactive" => ScalingMode.Reactive,
                    _ => ScalingMode.PredictiveReactive,
                }).ToArray(),
            };
            ElasticBenchResult result;
            try
            {
                result = await Output.WithProgressAsync("elastic", p => ElasticBench.RunAsync(options, p));
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"surge bench elastic: {e.Message}");
                return 2;
            }
            Output.WriteJson(parse.GetValue(json), result);
            var table = new Table().AddColumns("capacity", "silo-seconds", "cost / real day", "SLO-breach minutes (p99 / refused)", "offered", "accepted", "refused",
                "lost", "p99", "peak silos");
            foreach (var run in result.Runs)
            {
                table.AddRow(run.Mode, $"{run.SiloSeconds:N0}", $"${run.CostPerRealDay:F2}",
                    $"{run.SloBreachMinutes:N1} ({run.LatencyBreachMinutes:N1} / {run.RefusalBreachMinutes:N1})", $"{run.Offered:N0}", $"{run.Accepted:N0}", $"{run.Refused:N0}", $"{run.Lost:N0}", $"{run.P99Ms:F1} ms",
                    $"{run.SilosPeak}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine("[grey]" + Markup.Escape($"{result.Note}. Day {result.DaySeconds:F0} s; night {result.NightOrdersPerS:N0}/s, peak {result.PeakOrdersPerS:N0}/s; "
                + $"a breach minute is a minute of the compressed day inside a second whose p99 > {result.SloP99Ms} ms or refused > {result.SloRejectShare:P0}.") + "[/]");
            if (result.SiloSecondsRatio is { } ratio)
            {
                AnsiConsole.MarkupLineInterpolated($"predictive + reactive used [bold]{ratio:P1}[/] of the fixed-peak silo-seconds with {result.SloBreachMinutes:N1} SLO-breach minutes (target ≤ 40 %, 0).");
            }
            if (parse.GetValue(plots) is { } directory)
            {
                directory.Create();
                foreach (var run in result.Runs)
                {
                    var path = Path.Combine(directory.FullName, $"elastic-{run.Mode.Replace('+', '-')}.svg");
                    File.WriteAllText(path, Plot(run, result));
                    AnsiConsole.MarkupLineInterpolated($"[grey]plot: {path}[/]");
                }
            }
            return result.Lost == 0 ? 0 : 1;
        });
        return command;
    }

    private static string Plot(ElasticRun run, ElasticBenchResult result)
    {
        var offered = run.Timeline.Select(t => ((double)t.Second, (double)t.Offered)).ToList();
        var capacity = run.Timeline.Select(t => ((double)t.Second, (double)t.Serving * result.SiloCapacity)).ToList();
        var forecast = run.Timeline.Select(t => ((double)t.Second, t.ForecastUpperPerS)).ToList();
        var refused = run.Timeline.Select(t => ((double)t.Second, (double)t.Refused)).ToList();
        var ticks = Enumerable.Range(0, 9).Select(i => i * result.DaySeconds / 8)
            .Select(x => (x, $"{(ElasticBench.DayStartsAtHour + x / result.DaySeconds * 24) % 24:00}:00")).ToList();
        return SvgPlot.Render($"{run.Mode}: {run.SiloSeconds:N0} silo-seconds, {run.SloBreachMinutes:N1} SLO-breach minutes",
            "time of the compressed day", "orders/s",
            [
                new SvgPlot.Series("offered load", offered),
                new SvgPlot.Series("capacity of serving silos", capacity),
                new SvgPlot.Series("forecast (upper)", forecast),
                new SvgPlot.Series("refused", refused),
            ], logY: false, xTicks: ticks);
    }
}
