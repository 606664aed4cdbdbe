using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Surge.Autoscale;
using Surge.Capacity;

namespace Surge.Cli;

/// <summary>
/// `surge sim`: the capacity simulator. `sim day` runs a Double-11 day on modelled silos in several regions with the
/// real controller, placement and failover rules (Surge.Capacity); `sim elastic` runs `bench elastic`'s compressed day
/// on the same model, to check the model against the real bench; `sim calibrate` measures the silo on this machine
/// (from a checkout: it runs the benchmarks in bench/).
/// </summary>
internal static class SimCommand
{
    public static Command Create() => new("sim", "Simulate days of orders on modelled silos and regions with the real controller, partition "
        + "placement and failover rules: capacity and cost against fixed peak, SLO breaches, refusals, losses, a region lost.")
    {
        Day(), Elastic(), Calibrate(),
    };

    private static Option<FileInfo?> ParamsOption() => new("--params")
    {
        Description = "Calibration file (`sim calibrate` writes one; default: the built-in one measured on the reference machine, config/sim-calibration.json).",
    };

    private static SiloCalibration Calibration(FileInfo? file) =>
        file is null ? SiloCalibration.Default
            : file.Exists ? SiloCalibration.Parse(File.ReadAllText(file.FullName), file.FullName) : throw new FileNotFoundException($"no calibration file {file.FullName}");

    private static Command Day()
    {
        var regions = new Option<string>("--regions")
        {
            Description = $"Comma-separated regions, each a cell with its own cluster (known: {string.Join(", ", Regions.Known.Select(r => r.Name))}).",
            DefaultValueFactory = _ => string.Join(',', Regions.Default),
        };
        var peak = new Option<double>("--peak") { Description = "Orders per second at the day's busiest second, all regions together.", DefaultValueFactory = _ => 583_000 };
        peak.Check(v => v is > 0 and <= 1e9 ? null : "--peak must be between 1 and 1,000,000,000 orders/s");
        var seed = new Option<int>("--seed") { Description = "Seed of the failures, start-up times and order history (same seed, same report).", DefaultValueFactory = _ => 1 };
        var bias = new Option<double>("--forecast-bias") { Description = "The forecast's error: −0.3 = the history the forecast learns from is 30 % below the day.", DefaultValueFactory = _ => 0 };
        bias.Check(v => v is > -1 and <= 10 ? null : "--forecast-bias must be above −1 (e.g. −0.3)");
        var mtbf = new Option<double>("--silo-mtbf-hours") { Description = "Mean hours between two failures of one silo (0 = none).", DefaultValueFactory = _ => 720 };
        mtbf.Check(v => v >= 0 ? null : "--silo-mtbf-hours cannot be negative");
        var loss = new Option<string>("--region-loss")
        {
            Description = "Region lost at the day's peak for --region-loss-minutes (its cell fails over to the nearest region): a region name, busiest, or none.",
            DefaultValueFactory = _ => "busiest",
        };
        var lossMinutes = new Option<double>("--region-loss-minutes") { Description = "How long the region stays lost.", DefaultValueFactory = _ => 10 };
        lossMinutes.Check(v => v is > 0 and <= 1_440 ? null : "--region-loss-minutes must be between 0 and 1,440");
        var partitions = Output.PositiveOption("--partitions", "Partitions per region", 4_096, 65_536);
        var lead = Output.PositiveOption("--lead-seconds", "How far ahead the predictive controller reads the forecast (long enough for its stepped ramp)", 3_600, 86_400);
        var capacity = new Option<double?>("--silo-orders-per-s") { Description = "What-if: orders per second one silo takes, instead of the calibration's." };
        capacity.Check(v => v is null or > 0 ? null : "--silo-orders-per-s must be positive");
        var parameters = ParamsOption();
        var plots = new Option<DirectoryInfo?>("--plots") { Description = "Write SVG plots (silos per mode over the day, orders and forecast) to this directory." };
        var json = Output.JsonOption("report (wall_s, silos_max, peak_orders_per_s, modes, region_loss, …)");
        var command = new Command("day", "A Double-11 day (a quiet night, the sale's spike at midnight UTC+8, an evening bump) in every mode — fixed peak, "
            + "reactive, predictive + reactive — with silo failures, then the busiest region lost at the peak with synchronous and with asynchronous "
            + "replication to its nearest region. Deterministic: the same seed and calibration give the same report.")
        {
            regions, peak, seed, bias, mtbf, loss, lossMinutes, partitions, lead, capacity, parameters, plots, json,
        };
        command.SetAction(parse =>
        {
            try
            {
                var silo = Calibration(parse.GetValue(parameters));
                if (parse.GetValue(capacity) is { } perSilo)
                {
                    silo = silo with { SiloOrdersPerS = perSilo };
                }
                var chosen = Regions.Parse(parse.GetValue(regions)!.Split(',', StringSplitOptions.RemoveEmptyEntries));
                var lost = parse.GetValue(loss)!.Trim().ToLowerInvariant();
                var scenario = new DayScenario
                {
                    Regions = chosen,
                    PeakOrdersPerS = parse.GetValue(peak),
                    Seed = parse.GetValue(seed),
                    ForecastBias = parse.GetValue(bias),
                    SiloMtbfHours = parse.GetValue(mtbf),
                    PartitionsPerRegion = parse.GetValue(partitions),
                    LeadTime = TimeSpan.FromSeconds(parse.GetValue(lead)),
                    RegionLoss = lost == "none" || chosen.Count < 2 ? null
                        : new RegionLossScenario { Region = lost == "busiest" ? null : lost, DurationS = parse.GetValue(lossMinutes) * 60 },
                };
                var clock = Stopwatch.StartNew();
                var report = Output.WithProgress("sim day", progress =>
                {
                    progress("simulating", 0);
                    return DaySimulation.Run(scenario, silo);
                });
                report.WallS = Math.Round(clock.Elapsed.TotalSeconds, 2);
                Print(report, scenario);
                if (parse.GetValue(plots) is { } directory)
                {
                    foreach (var path in WritePlots(report, directory.FullName))
                    {
                        AnsiConsole.MarkupLineInterpolated($"[grey]wrote {path}[/]");
                    }
                }
                Output.WriteJson(parse.GetValue(json), report);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"surge sim day: {e.Message}");
                return Output.ExitCodes.Usage;
            }
        });
        return command;
    }

    private static void Print(DayReport report, DayScenario scenario)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"[bold]{scenario.Regions.Count} regions ({string.Join(", ", report.Regions)}), peak {report.PeakOrdersPerS:N0} orders/s, {report.SiloOrdersPerS:N0} orders/s per silo planned at {report.TargetUtilization:P1}, forecast steps of {report.ForecastStepMax:P1}, largest cluster {report.SilosMax:N0} silos, simulated in {report.WallS:0.0} s[/]");
        var table = new Table().AddColumns("mode", "silo-hours", "of fixed peak", "billed hours", "cost", "SLO-breach min", "refused", "lost", "peak silos", "failures");
        foreach (var m in report.Modes)
        {
            table.AddRow(m.Mode, $"{m.SiloHours:N0}", $"{m.SiloHoursRatio:P1}", $"{m.BilledHours:N0}", $"${m.Cost:N0}", $"{m.SloBreachMinutes:0.#}",
                $"{m.Refused:N0}", $"{m.Lost:N0}", $"{m.SilosPeak:N0}", $"{m.Failures}");
        }
        AnsiConsole.Write(table);
        var regions = new Table().AddColumns("mode", "region", "silo-hours", "peak silos", "SLO-breach min", "refused", "p99 at its peak", "partition moves");
        foreach (var m in report.Modes)
        {
            foreach (var r in m.Regions)
            {
                regions.AddRow(m.Mode, r.Region, $"{r.SiloHours:N0}", $"{r.SilosPeak:N0}", $"{r.SloBreachMinutes:0.#}", $"{r.Refused:N0}", $"{r.P99AtPeakMs:0.0} ms", $"{r.PartitionMoves:N0}");
            }
        }
        AnsiConsole.Write(regions);
        if (report.RegionLoss is { } loss)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"Region loss: {loss.Region} lost at {loss.AtHour:00.00} h for {loss.DurationS / 60:0.#} min, its cell fails over to {loss.Partner} (RTT {loss.RttMs:0} ms).");
            AnsiConsole.MarkupLineInterpolated(
                $"  synchronous: {loss.SyncLost:N0} acknowledged orders lost; p99 at each region's peak {string.Join(", ", loss.SyncP99AtPeakMs.Select(p => $"{p.Key} {p.Value:0.0} ms (+{loss.SyncLatencyCostMs[p.Key]:0.0})"))}; {loss.SyncSloBreachMinutes:0.#} SLO-breach minutes over the day");
            AnsiConsole.MarkupLineInterpolated(
                $"  asynchronous: {loss.AsyncLost:N0} acknowledged orders lost ({loss.OrdersAtRiskPerSOfLag:N0} per second of lag, lag {loss.AsyncLagMs:0} ms)");
            AnsiConsole.MarkupLineInterpolated(
                $"  RTO {loss.RtoS:0.#} s; {loss.Refused:N0} orders refused while it lasted; SLO met again {loss.RecoveredWithinSloS:0} s after the loss; {loss.SloBreachMinutes:0.#} breach minutes around it");
        }
        if (report.ReactiveAtSameCost is { } same)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"Reactive at the cost of predictive + reactive (planned at {same.TargetUtilization:P0} of a silo): {same.SiloHoursRatio:P1} of fixed peak, {same.SloBreachMinutes:0.#} SLO-breach minutes, {same.Refused:N0} refused, {same.Lost:N0} lost.");
        }
        if (report.CapacitySharing is { } sharing)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"Capacity across regions (predictive + reactive): the regions' own peaks add up to {sharing.SumOfRegionalPeaks:N0} silos, the most at one moment is {sharing.PeakOfTheSum:N0} ({sharing.Saving:P1} less to rent if shared).");
        }
    }

    private static IEnumerable<string> WritePlots(DayReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var ticks = Enumerable.Range(0, 9).Select(i => (i * 3.0, $"{(SaleDay.StartsAtHour + i * 3) % 24:00}:00")).ToList();
        double Elapsed(double hour) => (hour - SaleDay.StartsAtHour + 24) % 24;
        var silos = report.Timelines.Select(mode => new SvgPlot.Series(mode.Key,
            Sum(mode.Value.Values, p => p.SilosAlive).Select(p => (Elapsed(p.Hour), p.Value)).ToList())).ToList();
        var path = Path.Combine(directory, "sim-day-silos.svg");
        File.WriteAllText(path, SvgPlot.Render($"Silos running over the day, all regions ({string.Join(", ", report.Regions)})", "time of day (UTC+8)", "silos", silos, logY: false, ticks));
        yield return path;
        if (report.Timelines.TryGetValue(DaySimulation.Name(ScalingMode.PredictiveReactive), out var predictive))
        {
            var series = predictive.Select(region => new SvgPlot.Series($"{region.Key} orders/s", region.Value.Select(p => (Elapsed(p.Hour), p.OrdersPerS)).ToList()))
                .Concat(predictive.Select(region => new SvgPlot.Series($"{region.Key} forecast upper", region.Value.Select(p => (Elapsed(p.Hour), p.ForecastUpperPerS)).ToList())))
                .ToList();
            path = Path.Combine(directory, "sim-day-orders.svg");
            File.WriteAllText(path, SvgPlot.Render("Orders per second by region, and the forecast's upper bound the predictive controller reads", "time of day (UTC+8)",
                "orders/s", series, logY: true, ticks));
            yield return path;
        }
    }

    private static IEnumerable<(double Hour, double Value)> Sum(IEnumerable<WindowPoint[]> regions, Func<WindowPoint, double> value)
    {
        var all = regions.ToList();
        return all[0].Select((p, i) => (p.Hour, all.Sum(r => value(r[i]))));
    }

    private static Command Elastic()
    {
        var daySeconds = new Option<double>("--day-seconds") { Description = "Real seconds the compressed day lasts, as given to bench elastic.", DefaultValueFactory = _ => 300 };
        daySeconds.Check(v => v is >= 60 and <= 86_400 ? null : "--day-seconds must be between 60 and 86,400");
        var compare = new Option<FileInfo?>("--compare") { Description = "A `bench elastic --json` result to compare with: silo-seconds (within 15 %?) and refused orders (within 2×?) per mode." };
        var parameters = ParamsOption();
        var json = Output.JsonOption("prediction (and comparison)");
        var command = new Command("elastic", "Run `bench elastic`'s compressed day (one machine's cluster: 8 silos capped at 500 orders/s, 16 partitions, "
            + "its controller settings and forecast) on the model, to check the model against the real bench.")
        {
            daySeconds, compare, parameters, json,
        };
        command.SetAction(parse =>
        {
            try
            {
                var silo = Calibration(parse.GetValue(parameters));
                var day = parse.GetValue(daySeconds);
                var report = DaySimulation.Run(ElasticScenario(day), silo with { AdmissionCapOrdersPerS = 500 });
                var bench = parse.GetValue(compare) is { } file ? ReadBench(file) : null;
                var rows = new JsonArray();
                var table = new Table().AddColumns("mode", "sim silo-seconds", "bench silo-seconds", "ratio", "sim refused", "bench refused", "ratio", "sim breach min", "bench breach min");
                foreach (var m in report.Modes)
                {
                    var siloSeconds = m.SiloHours * 3600;
                    var real = bench?.FirstOrDefault(r => r.Mode == m.Mode);
                    double? siloRatio = real is null ? null : siloSeconds / real.SiloSeconds;
                    double? refusedRatio = real is null ? null : (m.Refused + 1) / (real.Refused + 1);
                    table.AddRow(m.Mode, $"{siloSeconds:N0}", real is null ? "—" : $"{real.SiloSeconds:N0}", siloRatio is { } a ? $"{a:0.00}" : "—",
                        $"{m.Refused:N0}", real is null ? "—" : $"{real.Refused:N0}", refusedRatio is { } b ? $"{b:0.00}" : "—",
                        $"{m.SloBreachMinutes:0.#}", real is null ? "—" : $"{real.BreachMinutes:0.#}");
                    rows.Add(new JsonObject
                    {
                        ["mode"] = m.Mode, ["sim_silo_seconds"] = Math.Round(siloSeconds, 1), ["sim_refused"] = m.Refused, ["sim_slo_breach_minutes"] = m.SloBreachMinutes,
                        ["bench_silo_seconds"] = real?.SiloSeconds, ["bench_refused"] = real?.Refused, ["bench_slo_breach_minutes"] = real?.BreachMinutes,
                        ["silo_seconds_ratio"] = siloRatio is { } r1 ? Math.Round(r1, 3) : null, ["refused_ratio"] = refusedRatio is { } r2 ? Math.Round(r2, 3) : null,
                        ["silo_seconds_within_15_percent"] = siloRatio is { } r3 ? Math.Abs(r3 - 1) <= 0.15 : null,
                        ["refused_within_factor_2"] = refusedRatio is { } r4 ? r4 is >= 0.5 and <= 2 : null,
                    });
                }
                AnsiConsole.MarkupLineInterpolated($"[bold]bench elastic's day of {day:0} s on the model[/] (refused ratio counts one more on each side, so that 0 against 0 is 1)");
                AnsiConsole.Write(table);
                if (parse.GetValue(json) is { } output)
                {
                    var decisions = new JsonObject();
                    foreach (var (key, list) in report.Decisions)
                    {
                        decisions[key] = new JsonArray([.. list.Select(d => (JsonNode?)JsonValue.Create(d))]);
                    }
                    Output.WriteJson(output, new JsonObject { ["day_seconds"] = day, ["modes"] = rows, ["decisions"] = decisions });
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or IOException or JsonException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"surge sim elastic: {e.Message}");
                return Output.ExitCodes.Usage;
            }
        });
        return command;
    }

    /// <summary>`bench elastic`'s day, as ElasticBenchOptions and its controller set it (bench/Surge.Bench/Cluster/ElasticBench.cs).</summary>
    public static DayScenario ElasticScenario(double daySeconds) => new()
    {
        Regions = [new Capacity.Region("bench", SaleDay.SaleUtcOffsetHours, 1)],
        PeakOrdersPerS = 100 * Enumerable.Range(0, 24 * 60).Max(m => SaleDay.Shape(SaleDay.StartsAtHour + m / 60.0)),
        DaySeconds = daySeconds,
        StepS = 0.05,
        SloWindowS = 1,
        ControlIntervalS = 1,
        HistorySeed = 2026_11_11,
        HistoryDays = 14,
        SiloMtbfHours = 0,
        PartitionsPerRegion = 16,
        FixedPeakSilos = 8,
        InitialSilos = 1,
        SilosMin = 1,
        TargetUtilization = 0.7,
        ForecastStepMax = double.PositiveInfinity,
        ScaleInStepShare = 0,
        LeadTime = TimeSpan.FromSeconds(30),
        ScaleOutCooldown = TimeSpan.FromSeconds(2),
        ScaleInCooldown = TimeSpan.FromSeconds(30),
        RejectShareHigh = 0.01,
        QueueDepthHigh = double.MaxValue,
        CpuHigh = double.MaxValue,
        RegionLoss = null,
    };

    private sealed record BenchRun(string Mode, double SiloSeconds, double Refused, double BreachMinutes);

    private static List<BenchRun> ReadBench(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new FileNotFoundException($"no bench result {file.FullName}");
        }
        var runs = JsonNode.Parse(File.ReadAllText(file.FullName))?["runs"]?.AsArray()
            ?? throw new ArgumentException($"{file.FullName} is not a `bench elastic --json` result (no runs)");
        return [.. runs.Select(r => new BenchRun(
            (r?["mode"]?.GetValue<string>() ?? throw new ArgumentException($"{file.FullName}: a run without a mode")).Replace('+', '-'),
            r["silo_seconds"]?.GetValue<double>() ?? 0, r["refused"]?.GetValue<double>() ?? 0, r["slo_breach_minutes"]?.GetValue<double>() ?? 0))];
    }

    private static Command Calibrate()
    {
        var command = new Command("calibrate", "Measure a silo on this machine and write the calibration file: runs real silos, PostgreSQL and Redis "
            + "(the benchmarks in bench/, so from a checkout: ./surge sim calibrate --out FILE; see ./surge bench calibrate --help).");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("surge sim calibrate: calibration runs the benchmarks in bench/ — from a checkout, run ./surge sim calibrate (it runs `surge-bench calibrate`)");
            return Output.ExitCodes.Usage;
        });
        return command;
    }
}
