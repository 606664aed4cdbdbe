using System.Globalization;
using Surge.Cli;
using Surge.Cli.Load;

namespace Surge.Bench.Scenarios;

public sealed record ScenarioBenchOptions
{
    public required IReadOnlyList<string> Scenarios { get; init; }
    public required IReadOnlyList<string> Systems { get; init; }
    public int Workers { get; init; } = Scenario.WorkersDefault;
    public int BatchOrders { get; init; } = 100;
    public int FlashBuyers { get; init; } = 1_000_000;
    public int FlashUnits { get; init; } = 10_000;
    public int MarketplaceOrders { get; init; } = 20_000;
    public int MarketplaceSellers { get; init; } = 40;
    public double BurstBaseRate { get; init; } = 1_000;

    /// <summary>Seconds each system is loaded (on a separate SKU, not counted) before it is measured.</summary>
    public double WarmupSeconds { get; init; } = 20;

    /// <summary>Longest a closed-loop scenario may run per system, in seconds; a system that has not placed
    /// every order by then is reported as incomplete with what it did.</summary>
    public double MaxSecondsPerSystem { get; init; } = 120;
    public string? RetailDataFile { get; init; }
    public string? PlotsDirectory { get; init; }
}

/// <summary>One scenario's results: every system's figures, Surge's throughput over each peer's (like for like), and
/// the shares of its orders spanning 1, 2, 3 and 4 or more sellers.</summary>
public sealed record ScenarioResult(string Scenario, string Description, [property: System.Text.Json.Serialization.JsonIgnore] IReadOnlyList<SystemRun> Runs,
    IReadOnlyDictionary<string, double> Ratios, IReadOnlyList<double> SellersPerCart)
{
    /// <summary>The runs by system key (<c>surge</c>, <c>surge-batch</c>, <c>postgres</c>, …), in the order they ran:
    /// what the JSON report lists under <c>systems</c>.</summary>
    public IReadOnlyDictionary<string, SystemRun> Systems => Runs.ToDictionary(r => r.Key);
}

public sealed record ScenarioBenchResult(
    string Machine,
    string Date,
    double? RatioVsPostgres,
    double? RatioVsRedisAlways,
    double? RatioVsRedisEverysec,
    double? RatioVsPostgresBatch,
    double? RatioVsRedisAlwaysBatch,
    double? RatioVsRedisEverysecBatch,
    long OversoldTotal,
    long LostTotal,
    IReadOnlyDictionary<string, string> PostgresSettings,
    string RedisCommandLine,
    IReadOnlyList<ScenarioResult> Scenarios);

/// <summary>
/// `surge bench scenario`: every named scenario against every system, one after the other on the same
/// machine with the same load generator (<see cref="LoadDriver"/>). Each system is started fresh for each
/// scenario and stopped after it. The ratios compare like with like: Surge's single-order API with the peers taking
/// one order per request, its batch API with the peers taking the same batch in one call.
/// </summary>
public static class ScenarioBench
{
    public static readonly string[] SystemNames =
        ["postgres", "postgres-batch", "redis-always", "redis-always-batch", "redis-everysec", "redis-everysec-batch", "surge", "surge-batch"];

    /// <summary>Surge with a writer thread and an fdatasync per partition journal instead of the node's shared group
    /// commit: a same-run baseline for that design, run only when asked for.</summary>
    public static readonly string[] AblationNames = ["surge-partition-sync", "surge-batch-partition-sync"];

    public static async Task<ScenarioBenchResult> RunAsync(ScenarioBenchOptions options, Action<string, double> progress)
    {
        RetailData? retail = null;
        var results = new List<ScenarioResult>();
        foreach (var name in options.Scenarios)
        {
            var bound = TimeSpan.FromSeconds(options.MaxSecondsPerSystem);
            var scenario = name switch
            {
                "flash-sale" => Scenario.FlashSale(options.FlashBuyers, options.FlashUnits, options.Workers, bound),
                "marketplace-typical" or "marketplace-wide" => Scenario.Marketplace(retail ??= RetailData.Read(RetailData.Locate(options.RetailDataFile)),
                    name == "marketplace-typical", options.MarketplaceOrders, options.MarketplaceSellers, options.Workers, bound),
                "burst" => Scenario.Burst(options.BurstBaseRate, 5, 3, 7, 10_000, 16, options.Workers),
                _ => throw new ArgumentException($"unknown scenario {name}: one of {string.Join(", ", Scenario.Names)}"),
            };
            var runs = new List<SystemRun>();
            var loaded = Scenario.WithWarmupSkus(scenario.Catalog);
            var warmupCatalog = Scenario.WarmupCatalog(loaded);
            var warmup = Scenario.Warmup(scenario.Catalog, options.Workers, TimeSpan.FromSeconds(options.WarmupSeconds)); // the same for every system
            foreach (var system in options.Systems)
            {
                progress($"{name}: starting {system}", 0);
                await using var peer = await StartAsync(system, options);
                progress($"{name}: loading {peer.Name}", 0);
                await peer.SetupAsync(loaded);
                await LoadDriver.RunAsync(peer, warmupCatalog, warmup, p => progress($"{name}: warming up {peer.Name}", p));
                runs.Add(await LoadDriver.RunAsync(peer, scenario.Catalog, scenario.Plan, p => progress($"{name}: {peer.Name}", p)));
            }
            var result = new ScenarioResult(name, scenario.Description, runs, Ratios(runs), MarketplaceShape.SellersPerCartShares(scenario.Plan.Orders));
            results.Add(result);
            if (options.PlotsDirectory is { } plots)
            {
                WritePlots(plots, result);
            }
        }
        var headline = results.FirstOrDefault(r => r.Scenario == "flash-sale") ?? results.FirstOrDefault();
        double? Ratio(string key) => headline is not null && headline.Ratios.TryGetValue(key, out var r) ? r : null;
        return new ScenarioBenchResult(
            Machine: $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}",
            Date: DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            Ratio("postgres"), Ratio("redis-always"), Ratio("redis-everysec"),
            Ratio("postgres-batch"), Ratio("redis-always-batch"), Ratio("redis-everysec-batch"),
            results.Sum(r => r.Runs.Sum(s => s.Oversold)),
            results.Sum(r => r.Runs.Sum(s => s.Lost)),
            Surge.Testing.LocalPostgres.BaseSettings.Concat(PostgresPeer.Settings).ToDictionary(s => s.Name, s => s.Value),
            "redis-server " + string.Join(' ', Surge.Testing.LocalRedis.BaseArguments("TMPDIR", 0).Concat(RedisPeer.Arguments("always|everysec"))
                .Select(a => a.Length == 0 ? "\"\"" : a)),
            results);
    }

    private static async Task<IOrderSystem> StartAsync(string system, ScenarioBenchOptions options) => system switch
    {
        "postgres" => await PostgresPeer.StartAsync(options.Workers),
        "postgres-batch" => await PostgresPeer.StartAsync(options.Workers, options.BatchOrders),
        "redis-always" => await RedisPeer.StartAsync("always"),
        "redis-always-batch" => await RedisPeer.StartAsync("always", options.BatchOrders),
        "redis-everysec" => await RedisPeer.StartAsync("everysec"),
        "redis-everysec-batch" => await RedisPeer.StartAsync("everysec", options.BatchOrders),
        "surge" => await SurgePeer.StartAsync(1),
        "surge-batch" => await SurgePeer.StartAsync(options.BatchOrders),
        "surge-partition-sync" => await SurgePeer.StartAsync(1, sharedCommit: false),
        "surge-batch-partition-sync" => await SurgePeer.StartAsync(options.BatchOrders, sharedCommit: false),
        _ => throw new ArgumentException($"unknown system {system}: one of {string.Join(", ", SystemNames)}"),
    };

    /// <summary>Surge's throughput over each peer's, like for like: a peer taking one order per request against
    /// <c>surge</c>, a batching peer against <c>surge-batch</c> (the same orders per request). Keyed by the peer.</summary>
    private static Dictionary<string, double> Ratios(IReadOnlyList<SystemRun> runs)
    {
        var ratios = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var run in runs.Where(r => !IsSurge(r) && r.OrdersPerS > 0))
        {
            if (SameShapeSurge(runs, run) is { OrdersPerS: > 0 } surge)
            {
                ratios[run.Key] = surge.OrdersPerS / run.OrdersPerS;
            }
        }
        return ratios;
    }

    /// <summary>The Surge run that sends as many orders per request as <paramref name="run"/>, if one ran.</summary>
    public static SystemRun? SameShapeSurge(IReadOnlyList<SystemRun> runs, SystemRun run) =>
        runs.Where(r => IsSurge(r) && r.OrdersPerRequest == run.OrdersPerRequest).OrderBy(r => AblationNames.Contains(r.Key)).FirstOrDefault();

    public static bool IsSurge(SystemRun run) => run.Key.StartsWith("surge", StringComparison.Ordinal);

    private static void WritePlots(string directory, ScenarioResult result)
    {
        Directory.CreateDirectory(directory);
        var throughput = result.Runs.Select(s => new SvgPlot.Series(s.System,
            s.OrdersPerSecond.Select((n, i) => ((double)i + 1, (double)n)).ToList())).ToList();
        File.WriteAllText(Path.Combine(directory, $"{result.Scenario}-throughput.svg"),
            SvgPlot.Render($"{result.Scenario}: orders answered per second", "seconds since start", "orders/s", throughput, logY: false));
        // Percentiles on a "nines" axis: x = −log10(1 − p/100), so 90, 99, 99.9 are evenly spaced.
        static double Nines(double p) => -Math.Log10(Math.Max(1e-5, 1 - p / 100));
        var latency = result.Runs.Select(s => new SvgPlot.Series(s.System,
            s.LatencyDistribution.Where(d => d.Percentile < 100).Select(d => (Nines(d.Percentile), Math.Max(d.Ms, 0.001))).ToList())).ToList();
        File.WriteAllText(Path.Combine(directory, $"{result.Scenario}-latency.svg"),
            SvgPlot.Render($"{result.Scenario}: latency by percentile", "percentile", "ms (log scale)", latency, logY: true,
                [(Nines(0), "0"), (Nines(50), "50"), (Nines(90), "90"), (Nines(99), "99"), (Nines(99.9), "99.9"), (Nines(99.99), "99.99")]));
    }
}
