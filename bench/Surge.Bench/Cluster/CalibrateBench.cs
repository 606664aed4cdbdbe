using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Surge.Autoscale.Actuators;
using Surge.Capacity;
using Surge.Cli;
using Surge.Testing;

namespace Surge.Bench;

/// <summary>
/// `surge bench calibrate` (`./surge sim calibrate`): measures what the capacity simulator needs about one silo on this
/// machine and writes the calibration file. Real `surge serve --cluster-redis … --journal-postgres …` silos (PostgreSQL
/// and Redis on loopback, 16 partitions), single orders over HTTP from this process: the most one silo sustains closed
/// loop, its latency open loop at shares of that (timed from when each order was due), the start-up of a silo joining
/// and the longest wait of an order while partitions move to it, a drain, and `bench failover`'s kill -9 rounds.
/// </summary>
internal static class CalibrateBench
{
    public static Command Create()
    {
        var output = new Option<FileInfo>("--out") { Description = "Where to write the calibration.", DefaultValueFactory = _ => new FileInfo("sim-calibration.json") };
        var seconds = Output.PositiveOption("--seconds", "Measured seconds of each load step", 8, 120);
        var runs = Output.PositiveOption("--runs", "Whole calibrations to take the median of, parameter by parameter", 3, 9);
        var command = new Command("calibrate", "Measure a silo on this machine for the capacity simulator (`sim day --params FILE`): capacity, latency "
            + "curve, start-up, partition move, drain and failover times. Starts PostgreSQL, Redis and silos on loopback; takes a few minutes.")
        {
            output, seconds, runs,
        };
        command.SetAction(async parse =>
        {
            try
            {
                var file = parse.GetValue(output)!;
                var calibration = await Output.WithProgressAsync("calibrate", p => RunAsync(TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(runs), p));
                file.Directory?.Create();
                await File.WriteAllTextAsync(file.FullName, calibration.ToJson() + "\n");
                AnsiConsole.MarkupLineInterpolated(
                    $"silo {calibration.SiloOrdersPerS:N0} orders/s, start-up {calibration.StartupS:0.0} s, move {calibration.MoveS:0.00} s, failover {calibration.FailoverS:0.00} s, drain {calibration.DrainS:0.0} s");
                foreach (var point in calibration.LatencyCurve)
                {
                    AnsiConsole.MarkupLineInterpolated($"  at {point.Utilization:P0}: p50 {point.P50Ms:0.0} ms, p99 {point.P99Ms:0.0} ms");
                }
                AnsiConsole.MarkupLineInterpolated($"[grey]wrote {file.FullName}[/]");
                return 0;
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"surge bench calibrate: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static readonly double[] Shares = [0.2, 0.4, 0.6, 0.8, 0.9];

    /// <summary>Load at a step's rate before it is measured.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    /// <summary>How long after a membership change its effects are looked for.</summary>
    private static readonly TimeSpan ChangeWindow = TimeSpan.FromSeconds(10);

    /// <summary>The wait of a partition that moved (s): for each seller, the longest latency of an order due in the window
    /// from <paramref name="from"/>; the sellers whose longest is above three times the p99 before <paramref name="before"/>
    /// (and 100 ms) moved; their median. No seller above it: nothing measurable moved (0).</summary>
    private static double MoveWait(List<(DateTimeOffset DueAt, int Seller, double Ms)> orders, DateTimeOffset before, DateTimeOffset from)
    {
        var baseline = Latencies([.. orders.Where(o => o.DueAt < before)]);
        var bound = Math.Max(100, 3 * ElasticBench.Percentile(baseline, 0.99));
        var moved = orders.Where(o => o.DueAt >= from && o.DueAt < from + ChangeWindow).GroupBy(o => o.Seller)
            .Select(g => g.Max(o => o.Ms)).Where(ms => ms > bound).ToList();
        return moved.Count == 0 ? 0 : Median(moved) / 1000;
    }

    private static List<double> Latencies(List<(DateTimeOffset DueAt, int Seller, double Ms)> orders)
    {
        var sorted = orders.Select(o => o.Ms).ToList();
        sorted.Sort();
        return sorted;
    }

    /// <summary>Calibrates <paramref name="runs"/> times (each with its own PostgreSQL, Redis and silos) and keeps the median
    /// of every parameter (of every point's p50 and p99 for the curve); the sources list every run's value.</summary>
    public static async Task<SiloCalibration> RunAsync(TimeSpan step, int runs, Action<string, double> progress)
    {
        var all = new List<SiloCalibration>();
        for (var run = 0; run < runs; run++)
        {
            all.Add(await RunOnceAsync(step, (what, p) => progress($"run {run + 1} of {runs}: {what}", (run + p) / runs)));
        }
        string Values(Func<SiloCalibration, double> value, string unit) => string.Join(", ", all.Select(c => $"{value(c):0.###}{unit}"));
        double MedianOf(Func<SiloCalibration, double> value) => Median([.. all.Select(value)]);
        var first = all[0];
        return first with
        {
            SiloOrdersPerS = Math.Round(MedianOf(c => c.SiloOrdersPerS)),
            LatencyCurve = [.. first.LatencyCurve.Select((point, i) => new LatencyPoint(point.Utilization,
                Math.Round(MedianOf(c => c.LatencyCurve[i].P50Ms), 2), Math.Round(MedianOf(c => c.LatencyCurve[i].P99Ms), 2)))],
            StartupS = Math.Round(MedianOf(c => c.StartupS), 2),
            MoveS = Math.Round(MedianOf(c => c.MoveS), 3),
            FailoverS = Math.Round(MedianOf(c => c.FailoverS), 3),
            DrainS = Math.Round(MedianOf(c => c.DrainS), 2),
            Command = $"./surge sim calibrate --runs {runs} --seconds {step.TotalSeconds:0} --out config/sim-calibration.json",
            Sources = new Dictionary<string, string>
            {
                ["silo_orders_per_s"] = $"median of {runs} runs ({Values(c => c.SiloOrdersPerS, "")}); each: {first.Sources["silo_orders_per_s"]}",
                ["latency_curve"] = $"per point, the median p50 and p99 of {runs} runs (p99 at {first.LatencyCurve[0].Utilization:P0}: "
                    + $"{Values(c => c.LatencyCurve[0].P99Ms, " ms")}); each: {first.Sources["latency_curve"]}",
                ["startup_s"] = $"median of {runs} runs ({Values(c => c.StartupS, " s")}); each: {first.Sources["startup_s"]}",
                ["move_s"] = $"median of {runs} runs ({Values(c => c.MoveS, " s")}); each: {first.Sources["move_s"]}",
                ["failover_s"] = $"median of {runs} runs ({Values(c => c.FailoverS, " s")}); each: {first.Sources["failover_s"]}",
                ["drain_s"] = $"median of {runs} runs ({Values(c => c.DrainS, " s")}); each: {first.Sources["drain_s"]}",
                ["request_deadline_s"] = first.Sources["request_deadline_s"],
            },
        };
    }

    private static async Task<SiloCalibration> RunOnceAsync(TimeSpan step, Action<string, double> progress)
    {
        progress("starting PostgreSQL and Redis", 0);
        await using var postgres = await LocalPostgres.StartAsync(ElasticBench.PostgresSettings);
        await using var redis = await LocalRedis.StartAsync([]);
        var dataRoot = Directory.CreateTempSubdirectory("surge-calibrate-").FullName;
        var actuator = new LocalSiloActuator(ElasticBench.SiloOptions(postgres, redis, dataRoot, partitions: 16));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        try
        {
            progress("starting one silo", 0.02);
            await actuator.ScaleAsync(1);
            await ElasticBench.RequireServingAsync(actuator);
            var sellers = await ElasticBench.SetUpAsync(actuator.Serving[0], 32);
            var driver = new Driver(http, actuator, sellers);
            progress("warming up", 0.05);
            await driver.ClosedLoopAsync(TimeSpan.FromSeconds(3), 64);
            progress("capacity of one silo (closed loop, 64 in flight)", 0.1);
            var capacity = await driver.ClosedLoopAsync(step, 64);
            // Highest load first: the closed loop leaves PostgreSQL writing back for a while, which a light step would be
            // charged with (a first version, lightest first, measured p99 90–125 ms at 20 % and 45–50 ms at 40–60 %).
            var curve = new List<LatencyPoint>();
            foreach (var share in Shares.Reverse())
            {
                progress($"latency at {share:P0} of capacity (open loop)", 0.15 + share * 0.3);
                await driver.OpenLoopAsync(share * capacity, Settle); // the last step's queues and PostgreSQL's write-back settle first
                var latencies = Latencies(await driver.OpenLoopAsync(share * capacity, step));
                curve.Insert(0, new LatencyPoint(share, Math.Round(ElasticBench.Percentile(latencies, 0.5), 2), Math.Round(ElasticBench.Percentile(latencies, 0.99), 2)));
            }
            // Joins under a light load: the start-up of each silo, and how long the orders of a partition that moved to it waited.
            var startups = new List<double>();
            var moves = new List<double>();
            for (var silos = 2; silos <= 3; silos++)
            {
                progress($"silo {silos} joining under load", 0.5 + silos * 0.05);
                var load = driver.OpenLoopAsync(0.2 * capacity, TimeSpan.FromSeconds(60), stopWhen: () => actuator.Silos.Count == silos
                    && actuator.Silos[^1].ReadyAt is { } ready && DateTimeOffset.UtcNow - ready > ChangeWindow);
                await Task.Delay(TimeSpan.FromSeconds(2)); // a baseline before the change
                var changeAt = DateTimeOffset.UtcNow;
                await actuator.ScaleAsync(silos);
                await ElasticBench.RequireServingAsync(actuator);
                var orders = await load;
                var joined = actuator.Silos[^1];
                startups.Add((joined.ReadyAt!.Value - joined.StartedAt).TotalSeconds);
                // Partitions move once the silo is ready.
                moves.Add(MoveWait(orders, changeAt, joined.ReadyAt!.Value));
            }
            progress("draining a silo under load", 0.7);
            var drainLoad = driver.OpenLoopAsync(0.2 * capacity, TimeSpan.FromSeconds(20));
            await Task.Delay(TimeSpan.FromSeconds(2));
            var drainStarted = Stopwatch.StartNew();
            var drainAt = DateTimeOffset.UtcNow;
            var newest = actuator.Silos[^1];
            await actuator.ScaleAsync(2);
            while (newest.ExitedAt is null && drainStarted.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(20);
            }
            var drainS = drainStarted.Elapsed.TotalSeconds;
            moves.Add(MoveWait(await drainLoad, drainAt, drainAt));
            await actuator.DisposeAsync();
            progress("failover (bench failover, 3 rounds)", 0.8);
            var failover = await FailoverBench.RunAsync(new FailoverBenchOptions { Rounds = 3 }, (what, p) => progress($"failover: {what}", 0.8 + p * 0.2));
            var machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}";
            return new SiloCalibration
            {
                SiloOrdersPerS = Math.Round(capacity),
                LatencyCurve = curve,
                StartupS = Math.Round(Median(startups), 2),
                MoveS = Math.Round(Median(moves), 3),
                FailoverS = Math.Round(failover.ServedAgainMedianS, 3),
                DrainS = Math.Round(drainS, 2),
                RequestDeadlineS = 2,
                AdmissionCapOrdersPerS = 0,
                Machine = machine,
                MeasuredAt = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd"),
                Command = "./surge sim calibrate --out config/sim-calibration.json",
                Sources = new Dictionary<string, string>
                {
                    ["silo_orders_per_s"] = $"closed loop, 64 single orders in flight, {step.TotalSeconds:0} s, one silo with 16 partitions on a PostgreSQL journal; the load generator, PostgreSQL and Redis share the machine",
                    ["latency_curve"] = $"open loop at {string.Join(", ", Shares.Reverse().Select(s => $"{s:P0}"))} of silo_orders_per_s (in that order, each after {Settle.TotalSeconds:0} s at its rate), {step.TotalSeconds:0} s each, latency from when each order was due",
                    ["startup_s"] = $"median of {startups.Count} silos joining a running cluster under load: process start to ready ({string.Join(", ", startups.Select(s => $"{s:0.0} s"))})",
                    ["move_s"] = $"median over {moves.Count} membership changes (two joins, one drain) of the wait of a moved partition: per seller the longest latency of an order due in the {ChangeWindow.TotalSeconds:0} s after the change, the median over the sellers above three times the p99 before it ({string.Join(", ", moves.Select(s => $"{s:0.000} s"))})",
                    ["failover_s"] = $"bench failover, 3 rounds of kill -9 with 3 silos and 8 partitions: median time to every partition serving again ({string.Join(", ", failover.Rounds.Select(r => $"{r.ServedAgainS:0.00} s"))})",
                    ["drain_s"] = "one silo drained under load (serve's SIGTERM path): from the scale-in to the process leaving",
                    ["request_deadline_s"] = "ServerOptions.Http.RequestDeadline (configuration, not measured)",
                },
            };
        }
        finally
        {
            await actuator.DisposeAsync();
            Directory.Delete(dataRoot, recursive: true);
        }
    }

    private static double Median(List<double> values) => MathNet.Numerics.Statistics.Statistics.Median(values);


    /// <summary>Single orders to the silos that serve, round robin.</summary>
    private sealed class Driver(HttpClient http, LocalSiloActuator actuator, string[] sellers)
    {
        private long _sent;

        private int Seller(long n) => (int)(n % sellers.Length);

        private async Task<(bool Ok, double Ms)> SendAsync(long dueTicks, long n)
        {
            var serving = actuator.Serving;
            if (serving.Count == 0)
            {
                return (false, 0);
            }
            try
            {
                using var request = ElasticBench.Request(HttpMethod.Post, new Uri(serving[(int)(n % serving.Count)], "/v1/orders"), ElasticBench.AdminKey,
                    ElasticBench.OrderBody($"cal-{n}", sellers[Seller(n)]));
                using var response = await http.SendAsync(request);
                return ((int)response.StatusCode == 201, Stopwatch.GetElapsedTime(dueTicks).TotalMilliseconds);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return (false, Stopwatch.GetElapsedTime(dueTicks).TotalMilliseconds);
            }
        }

        /// <summary>Orders acknowledged per second with <paramref name="inFlight"/> always in flight.</summary>
        public async Task<double> ClosedLoopAsync(TimeSpan duration, int inFlight)
        {
            var clock = Stopwatch.StartNew();
            long acknowledged = 0;
            await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
            {
                while (clock.Elapsed < duration)
                {
                    if ((await SendAsync(Stopwatch.GetTimestamp(), Interlocked.Increment(ref _sent))).Ok)
                    {
                        Interlocked.Increment(ref acknowledged);
                    }
                }
            })));
            return acknowledged / clock.Elapsed.TotalSeconds;
        }

        /// <summary>Orders due at <paramref name="perSecond"/> whatever the answers, until the duration passes or
        /// <paramref name="stopWhen"/> holds: when each was due and its latency in ms (a refused one counts as a wait
        /// of the request deadline at least).</summary>
        public async Task<List<(DateTimeOffset DueAt, int Seller, double Ms)>> OpenLoopAsync(double perSecond, TimeSpan duration, Func<bool>? stopWhen = null)
        {
            var clock = Stopwatch.StartNew();
            var start = Stopwatch.GetTimestamp();
            var startedAt = DateTimeOffset.UtcNow;
            var pending = new List<(DateTimeOffset DueAt, int Seller, Task<(bool Ok, double Ms)> Answer)>();
            long sent = 0;
            while (clock.Elapsed < duration && !(stopWhen?.Invoke() ?? false))
            {
                var due = (long)(clock.Elapsed.TotalSeconds * perSecond);
                for (; sent < due; sent++)
                {
                    var offset = sent / perSecond;
                    var n = Interlocked.Increment(ref _sent);
                    pending.Add((startedAt + TimeSpan.FromSeconds(offset), Seller(n), SendAsync(start + (long)(offset * Stopwatch.Frequency), n)));
                }
                await Task.Delay(2);
            }
            await Task.WhenAll(pending.Select(p => p.Answer));
            return [.. pending.Select(p => (p.DueAt, p.Seller, p.Answer.Result.Ok ? p.Answer.Result.Ms : Math.Max(p.Answer.Result.Ms, 2_000)))];
        }
    }
}
