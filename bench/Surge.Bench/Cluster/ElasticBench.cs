using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Surge.Autoscale;
using Surge.Autoscale.Actuators;
using Surge.Capacity;
using Surge.Testing;

namespace Surge.Bench;

/// <summary>What `surge bench elastic` is told; every bound with its unit.</summary>
public sealed record ElasticBenchOptions
{
    /// <summary>Real seconds one compressed day lasts (at most <see cref="DaySecondsMax"/>: orders are left unpaid,
    /// and their holds must outlast the day for the audit).</summary>
    public double DaySeconds { get; init; } = 600;

    public const double DaySecondsMax = 840;

    /// <summary>Orders per second each silo takes (its `--capacity`): the small machine a silo emulates.</summary>
    public int SiloCapacity { get; init; } = 500;

    public int SilosMax { get; init; } = 8;

    /// <summary>Orders per second of the quiet night; the midnight spike is about 20 times this.</summary>
    public double NightOrdersPerS { get; init; } = 100;

    public double PricePerSiloHour { get; init; } = 0.10;

    /// <summary>Earlier days of order history the forecast learns from.</summary>
    public int HistoryDays { get; init; } = 14;

    public int Partitions { get; init; } = 16;

    public IReadOnlyList<ScalingMode> Modes { get; init; } = [ScalingMode.FixedPeak, ScalingMode.Reactive, ScalingMode.PredictiveReactive];

    /// <summary>The service level: a second breaches it when its p99 exceeds this…</summary>
    public double SloP99Ms { get; init; } = 50;

    /// <summary>…or when more than this share of its orders is refused.</summary>
    public double SloRejectShare { get; init; } = 0.01;

    /// <summary>Orders sent and not answered at once; beyond it an order is counted refused (the driver cannot keep up).</summary>
    public int InFlightMax { get; init; } = 8_192;

    /// <summary>How often the controller decides.</summary>
    public TimeSpan ControlInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int Sellers { get; init; } = 32;

    /// <summary>How far ahead the predictive controller reads the forecast: longer than silos take to start and
    /// serve on this machine when several start at once (measured 15–20 s with five).</summary>
    public TimeSpan LeadTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Orders sent through the first silos before the day begins (not counted).</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(10);
}

public sealed record ElasticSecond(int Second, double DayHour, int Offered, int Accepted, int Refused, double P50Ms, double P99Ms, int Serving, int Target,
    double ForecastUpperPerS, bool Breach);

public sealed record ElasticRun(string Mode, double SiloSeconds, double SiloSecondsPerRealDay, double CostPerRealDay, double SloBreachSeconds,
    double SloBreachMinutes, double LatencyBreachMinutes, double RefusalBreachMinutes, long Offered, long Accepted, long Refused, long InDoubt, long Lost, double P99Ms, int SilosPeak, int SiloFailures,
    IReadOnlyList<string> Decisions, IReadOnlyList<ElasticSecond> Timeline);

public sealed record ElasticBenchResult(double DaySeconds, int SiloCapacity, int SilosMax, double NightOrdersPerS, double PeakOrdersPerS,
    double PricePerSiloHour, double SloP99Ms, double SloRejectShare, string Note, IReadOnlyList<ElasticRun> Runs,
    double? SiloSecondsRatio, double? SloBreachMinutes, long Lost);

/// <summary>
/// `surge bench elastic`: a Double-11-shaped day (a quiet night, a midnight spike of about 20×, an evening bump)
/// compressed into <see cref="ElasticBenchOptions.DaySeconds"/>, run against a real cluster of `surge serve` silos
/// started on this machine (PostgreSQL and Redis on loopback), three ways: fixed capacity for the peak, reactive
/// only, predictive + reactive. Every silo has a capacity cap, so one machine emulates a cluster of small machines;
/// the load driver sends single orders, open loop, round-robin to the silos that serve (a load balancer's view), and
/// counts each second's p99 (from when the order was due) and refusals. At the end every seller's reserved stock is
/// checked against the acknowledged orders (lost = acknowledged but missing).
/// </summary>
internal static class ElasticBench
{
    internal const string AdminKey = "ak_elastic_bench_0123456789abcdef0123";

    /// <summary>The compressed day starts at 22:00, so the midnight spike comes two hours in, after a quiet evening.</summary>
    public const double DayStartsAtHour = SaleDay.StartsAtHour;

    /// <summary>Orders per second at a time of day (hour 0–24 of the clock), as a multiple of the quiet night's rate.</summary>
    public static double Shape(double clockHour) => SaleDay.Shape(clockHour);

    public static async Task<ElasticBenchResult> RunAsync(ElasticBenchOptions options, Action<string, double> progress)
    {
        var profile = History(options);
        var runs = new List<ElasticRun>();
        foreach (var mode in options.Modes)
        {
            runs.Add(await RunOneAsync(options, mode, profile, (what, p) => progress($"{Name(mode)}: {what}", p)));
        }
        var fixedRun = runs.FirstOrDefault(r => r.Mode == Name(ScalingMode.FixedPeak));
        var predictive = runs.FirstOrDefault(r => r.Mode == Name(ScalingMode.PredictiveReactive));
        var peak = Enumerable.Range(0, 24 * 60).Max(m => Shape(DayStartsAtHour + m / 60.0)) * options.NightOrdersPerS;
        return new ElasticBenchResult(options.DaySeconds, options.SiloCapacity, options.SilosMax, options.NightOrdersPerS, peak,
            options.PricePerSiloHour, options.SloP99Ms, options.SloRejectShare,
            $"one {Environment.ProcessorCount}-core machine runs every silo, PostgreSQL, Redis and the load driver; each silo is capped at "
            + $"{options.SiloCapacity} orders/s (serve --capacity) so that it behaves like a small machine; the partitions spread over the "
            + "silos and move when silos join or leave",
            runs, fixedRun is null || predictive is null ? null : predictive.SiloSeconds / fixedRun.SiloSeconds,
            predictive?.SloBreachMinutes, runs.Sum(r => r.Lost));
    }

    public static string Name(ScalingMode mode) => mode switch
    {
        ScalingMode.FixedPeak => "fixed-peak",
        ScalingMode.Reactive => "reactive",
        _ => "predictive+reactive",
    };

    /// <summary>Seed of the earlier days of order history the predictive controller learns from (`sim elastic` uses it too).</summary>
    public const int HistorySeed = 2026_11_11;

    /// <summary>Earlier days of the cluster's order history (orders per minute): the same shape, each day a little
    /// busier or quieter than the last (±6 %), with Poisson noise; the profile the predictive controller reads.</summary>
    private static DailyProfile History(ElasticBenchOptions options) =>
        SaleDay.History(m => Shape(DayStartsAtHour + (m + 0.5) / 60) * options.NightOrdersPerS * 60, options.HistoryDays, HistorySeed);

    private static async Task<ElasticRun> RunOneAsync(ElasticBenchOptions options, ScalingMode mode, DailyProfile profile, Action<string, double> progress)
    {
        progress("starting PostgreSQL and Redis", 0);
        await using var postgres = await LocalPostgres.StartAsync(PostgresSettings);
        await using var redis = await LocalRedis.StartAsync([]);
        var dataRoot = Directory.CreateTempSubdirectory("surge-elastic-").FullName;
        var actuator = new LocalSiloActuator(SiloOptions(postgres, redis, dataRoot, options.Partitions, options.SiloCapacity));
        try
        {
            // The first silo activates every partition; the fixed-peak cluster then gets the rest (and their share of the partitions) before the day begins.
            progress("starting the first silo", 0);
            await actuator.ScaleAsync(1);
            await RequireServingAsync(actuator);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
            {
                Timeout = TimeSpan.FromSeconds(30),
            };
            var sellers = await SetUpAsync(actuator.Serving[0], options.Sellers);
            var initial = mode == ScalingMode.FixedPeak ? options.SilosMax : 1;
            if (initial > 1)
            {
                progress($"starting {initial} silos", 0);
                await actuator.ScaleAsync(initial);
                await RequireServingAsync(actuator);
            }
            progress("warming up", 0);
            await WarmUpAsync(http, actuator.Serving, sellers, options.WarmUp);
            var day = new DayRun(options, mode, profile, actuator, http, sellers, progress);
            return await day.RunAsync();
        }
        finally
        {
            progress("draining the silos", 1);
            await actuator.DisposeAsync();
            Directory.Delete(dataRoot, recursive: true);
        }
    }

    /// <summary>PostgreSQL for a cluster of local silos: room for their journals' connections and write bursts.</summary>
    internal static readonly (string, string)[] PostgresSettings = [("shared_buffers", "512MB"), ("max_wal_size", "4GB"), ("max_connections", "300")];

    /// <summary>Local `surge serve` silos over this PostgreSQL and Redis, each capped at <paramref name="capacity"/> orders/s (0: none).</summary>
    internal static LocalSiloOptions SiloOptions(LocalPostgres postgres, LocalRedis redis, string dataRoot, int partitions, int capacity = 0)
    {
        var (executable, prefix) = Programs.Surge();
        return new LocalSiloOptions
        {
            Executable = executable, ExecutableArguments = prefix, DataRoot = dataRoot, Redis = $"127.0.0.1:{redis.Port}",
            Postgres = postgres.ConnectionString, Partitions = partitions, CapacityOrdersPerSecond = capacity, AdminKey = AdminKey,
            ServeArguments = ["--no-categories"], // silos training the category model at once would measure ML.NET, not scaling
        };
    }

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0..1) of sorted values (0 when there are none).</summary>
    internal static double Percentile<T>(IReadOnlyList<T> sorted, double p) where T : System.Numerics.INumberBase<T> =>
        sorted.Count == 0 ? 0 : double.CreateChecked(sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)]);

    /// <summary>Longest wait for the silos asked for to serve.</summary>
    private static readonly TimeSpan ServingTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Silos that died while starting and are replaced before <see cref="RequireServingAsync"/> gives up.</summary>
    private const int StartReplacementsMax = 3;

    /// <summary>Waits until every silo asked for serves. With <paramref name="replaceTo"/>, a silo that dies while it
    /// starts (on a loaded machine: declared dead by the others before it was ready) is replaced, up to
    /// <see cref="StartReplacementsMax"/> times, keeping the cluster at that size. The error names the silo that did
    /// not start, with its last lines.</summary>
    internal static async Task RequireServingAsync(LocalSiloActuator actuator, int? replaceTo = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var replaced = 0; ; replaced++)
        {
            var starting = actuator.Silos.Where(s => s.ReadyAt is null && !s.Draining && !s.Killed && s.ExitedAt is null).ToList();
            var left = ServingTimeout - clock.Elapsed;
            if (left > TimeSpan.Zero && await actuator.WaitServingAsync(left))
            {
                return;
            }
            var failed = starting.FirstOrDefault(s => s.ExitedAt is not null) ?? starting.FirstOrDefault();
            if (replaceTo is { } silos && failed?.ExitedAt is not null && replaced < StartReplacementsMax && clock.Elapsed < ServingTimeout)
            {
                await actuator.ScaleAsync(silos);
                continue;
            }
            throw new InvalidOperationException(failed is null ? $"the silos did not serve within {ServingTimeout.TotalSeconds:0} s"
                : $"silo {failed.Number} did not start ({(failed.ExitedAt is null ? $"not ready within {ServingTimeout.TotalSeconds:0} s" : "it exited")}):\n{failed.Output}");
        }
    }

    /// <summary>Orders through every serving silo for a while before the day (not counted): code paths compiled, connections
    /// open, as on a cluster that has been up for a while.</summary>
    private static async Task WarmUpAsync(HttpClient http, IReadOnlyList<Uri> silos, string[] sellers, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        var n = 0;
        var workers = silos.Select(silo => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                var i = Interlocked.Increment(ref n);
                using var request = Request(HttpMethod.Post, new Uri(silo, "/v1/orders"), AdminKey, OrderBody($"warm-{i}", sellers[i % sellers.Length]));
                using var response = await http.SendAsync(request);
                if ((int)response.StatusCode != 201)
                {
                    await Task.Delay(10); // a capped silo: wait for room
                }
            }
        }));
        await Task.WhenAll(workers);
    }

    /// <summary>A request to a silo's API under <paramref name="key"/>, with a JSON body when given.</summary>
    internal static HttpRequestMessage Request(HttpMethod method, Uri uri, string key, byte[]? json = null)
    {
        var request = new HttpRequestMessage(method, uri);
        if (json is not null)
        {
            request.Content = new ByteArrayContent(json);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    internal static byte[] OrderBody(string buyer, string seller) => OrderBodies.Single(buyer, "KR", "seoul", [(seller, OneSkuSellers.Sku, 1)], postalCode: "04524");

    /// <summary>A warehouse, sellers with one SKU each and stock for the whole day; returns each seller's order body prefix.</summary>
    internal static async Task<string[]> SetUpAsync(Uri silo, int sellers)
    {
        using var admin = new SurgeClient(silo, AdminKey);
        return [.. (await OneSkuSellers.CreateAsync(admin, sellers, units: 10_000_000, weightGrams: 350, name: "seller")).Select(s => s.Id)];
    }

    /// <summary>One day against one cluster: the load driver, the controller loop, the per-second record, the audit.</summary>
    private sealed class DayRun(ElasticBenchOptions options, ScalingMode mode, DailyProfile profile, LocalSiloActuator actuator, HttpClient http,
        string[] sellers, Action<string, double> progress)
    {
        private readonly int _seconds = (int)Math.Ceiling(options.DaySeconds);
        private readonly Second[] _record = Enumerable.Range(0, (int)Math.Ceiling(options.DaySeconds) + 1).Select(_ => new Second()).ToArray();
        private readonly ConcurrentDictionary<int, int> _acknowledgedBySeller = new();
        private readonly List<string> _decisions = [];
        private readonly Stopwatch _clock = new();
        private int _inFlight;
        private long _inDoubt;

        private sealed class Second
        {
            public int Offered, Accepted, Refused;
            public readonly List<float> LatencyMs = [];
            public int Serving, Target;
        }

        private double RealSecondsPerHour => options.DaySeconds / 24;

        public async Task<ElasticRun> RunAsync()
        {
            var controller = new AutoscaleController(mode, new AutoscaleOptions
            {
                SilosMin = 1,
                SilosMax = options.SilosMax,
                SiloOrdersPerSMax = options.SiloCapacity,
                TargetUtilization = 0.7,
                LeadTime = options.LeadTime,
                ScaleOutCooldown = TimeSpan.FromSeconds(2),
                ScaleInCooldown = TimeSpan.FromSeconds(30),
                RejectShareHigh = options.SloRejectShare,
                QueueDepthHigh = double.MaxValue,
                CpuHigh = double.MaxValue,
            });
            var dayStart = DateTimeOffset.UtcNow;
            var perMinute = options.DaySeconds / (24 * 60);
            var forecast = Enumerable.Range(0, profile.Slots)
                .Select(m => new LoadForecast(dayStart + TimeSpan.FromSeconds(m * perMinute), profile.Mean[m] / 60, profile.Upper[m] / 60)).ToArray();
            var heldBefore = await HeldAsync();
            var siloSecondsAtStart = actuator.SiloSeconds;
            _clock.Start();
            using var stop = new CancellationTokenSource();
            var driver = Task.Run(() => DriveAsync(stop.Token));
            var control = Task.Run(() => ControlAsync(controller, dayStart, forecast, stop.Token));
            while (_clock.Elapsed.TotalSeconds < options.DaySeconds)
            {
                await Task.Delay(250);
                progress($"{Hour(_clock.Elapsed.TotalSeconds):00.0} h of the day, {actuator.Serving.Count} silos serving", _clock.Elapsed.TotalSeconds / options.DaySeconds);
            }
            await stop.CancelAsync();
            await Task.WhenAll(driver, control);
            var siloSeconds = actuator.SiloSeconds - siloSecondsAtStart;
            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref _inFlight) > 0 && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(50); // the last answers
            }
            progress("checking every acknowledged order", 1);
            var lost = await AuditAsync(heldBefore);
            return Summarize(siloSeconds, lost, forecast, dayStart);
        }

        private double Hour(double second) => (DayStartsAtHour + second / RealSecondsPerHour) % 24;

        private double RateAt(double second) => Shape(Hour(second)) * options.NightOrdersPerS;

        /// <summary>Open loop: orders are due at the day's rate whatever the answers; each goes to the next serving silo.</summary>
        private async Task DriveAsync(CancellationToken stop)
        {
            double due = 0, last = 0;
            long sent = 0, turn = 0;
            var random = new Random(11);
            const double step = 0.005;
            while (!stop.IsCancellationRequested)
            {
                var now = _clock.Elapsed.TotalSeconds;
                if (now >= options.DaySeconds)
                {
                    break;
                }
                due += RateAt(now) * (now - last); // over the time that really passed: a late turn sends more, not fewer
                last = now;
                var serving = actuator.Serving;
                while (sent < (long)due)
                {
                    sent++;
                    var second = (int)now;
                    Interlocked.Increment(ref _record[second].Offered);
                    if (serving.Count == 0 || Volatile.Read(ref _inFlight) >= options.InFlightMax)
                    {
                        Interlocked.Increment(ref _record[second].Refused);
                        continue;
                    }
                    Interlocked.Increment(ref _inFlight);
                    var seller = random.Next(sellers.Length);
                    _ = SendAsync(serving[(int)(turn++ % serving.Count)], seller, $"b{sent}", now);
                }
                var wait = (now + step - _clock.Elapsed.TotalSeconds) * 1000;
                if (wait > 1)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait), CancellationToken.None);
                }
            }
        }

        private async Task SendAsync(Uri silo, int seller, string buyer, double dueAt)
        {
            var second = (int)dueAt;
            try
            {
                using var request = Request(HttpMethod.Post, new Uri(silo, "/v1/orders"), AdminKey, OrderBody(buyer, sellers[seller]));
                using var response = await http.SendAsync(request);
                if ((int)response.StatusCode == 201)
                {
                    var latency = (float)((_clock.Elapsed.TotalSeconds - dueAt) * 1000);
                    Interlocked.Increment(ref _record[second].Accepted);
                    lock (_record[second].LatencyMs)
                    {
                        _record[second].LatencyMs.Add(latency);
                    }
                    _acknowledgedBySeller.AddOrUpdate(seller, 1, (_, n) => n + 1);
                }
                else
                {
                    Interlocked.Increment(ref _record[second].Refused);
                    if ((int)response.StatusCode >= 500 && response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                        && (await response.Content.ReadAsStringAsync()) is var body
                        && !(body.Contains("\"silo_capacity\"", StringComparison.Ordinal) || body.Contains("\"draining\"", StringComparison.Ordinal)
                             || body.Contains("\"node_saturated\"", StringComparison.Ordinal)))
                    {
                        Interlocked.Increment(ref _inDoubt); // the command may have been journaled although the answer is a failure
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref _record[second].Refused);
                Interlocked.Increment(ref _inDoubt);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        private async Task ControlAsync(AutoscaleController controller, DateTimeOffset dayStart, LoadForecast[] forecast, CancellationToken stop)
        {
            using var timer = new PeriodicTimer(options.ControlInterval);
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                {
                    var second = (int)_clock.Elapsed.TotalSeconds;
                    if (second >= _seconds)
                    {
                        break;
                    }
                    var last = _record[Math.Max(0, second - 1)];
                    var offered = Volatile.Read(ref last.Offered);
                    var refusedShare = offered == 0 ? 0 : Volatile.Read(ref last.Refused) / (double)offered;
                    var at = dayStart + _clock.Elapsed;
                    var decision = controller.Decide(new ClusterSignals(at, actuator.Target, offered, refusedShare, 0, 0), forecast);
                    _record[second].Serving = actuator.Serving.Count;
                    _record[second].Target = decision.Silos;
                    if (decision.Silos != actuator.Target)
                    {
                        lock (_decisions)
                        {
                            _decisions.Add($"{Hour(_clock.Elapsed.TotalSeconds):00.00} h: {actuator.Target} → {decision.Silos} silos ({decision.Reason})");
                        }
                        await actuator.ScaleAsync(decision.Silos, stop);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <summary>Units each seller's SKU holds (reserved or sold), read through a silo that serves.</summary>
        private async Task<long[]> HeldAsync()
        {
            var silo = actuator.Serving[0];
            var held = new long[sellers.Length];
            for (var s = 0; s < sellers.Length; s++)
            {
                using var request = Request(HttpMethod.Get, new Uri(silo, $"/v1/skus/item/stock?seller_id={sellers[s]}"), AdminKey);
                using var response = await http.SendAsync(request);
                var stock = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                held[s] = stock["reserved"]!.GetValue<long>() + stock["sold"]!.GetValue<long>();
            }
            return held;
        }

        /// <summary>Orders acknowledged during the day and not found in their seller's stock afterwards (each holds one unit).</summary>
        private async Task<long> AuditAsync(long[] before)
        {
            var after = await HeldAsync();
            return Enumerable.Range(0, sellers.Length).Sum(s => Math.Max(0, _acknowledgedBySeller.GetValueOrDefault(s) - (after[s] - before[s])));
        }

        private ElasticRun Summarize(double siloSeconds, long lost, LoadForecast[] forecast, DateTimeOffset dayStart)
        {
            var timeline = new List<ElasticSecond>();
            var all = new List<float>();
            var lastServing = 0;
            var lastTarget = 0;
            for (var s = 0; s < _seconds; s++)
            {
                var second = _record[s];
                var latencies = second.LatencyMs.ToArray();
                Array.Sort(latencies);
                all.AddRange(latencies);
                var p99 = Percentile(latencies, 0.99);
                lastServing = second.Serving > 0 ? second.Serving : lastServing;
                lastTarget = second.Target > 0 ? second.Target : lastTarget;
                var breach = second.Offered > 0 && (p99 > options.SloP99Ms || second.Refused > options.SloRejectShare * second.Offered);
                var minute = Math.Min(forecast.Length - 1, (int)(s / (options.DaySeconds / forecast.Length)));
                timeline.Add(new ElasticSecond(s, Math.Round(Hour(s), 3), second.Offered, second.Accepted, second.Refused,
                    Math.Round(Percentile(latencies, 0.5), 2), Math.Round(p99, 2),
                    lastServing, lastTarget, Math.Round(forecast[minute].UpperOrdersPerS, 1), breach));
            }
            all.Sort();
            var breachSeconds = timeline.Count(t => t.Breach);
            var refusalSeconds = timeline.Count(t => t.Offered > 0 && t.Refused > options.SloRejectShare * t.Offered);
            var latencySeconds = timeline.Count(t => t.Offered > 0 && t.P99Ms > options.SloP99Ms);
            double DayMinutes(int seconds) => Math.Round(seconds * 24 * 60 / options.DaySeconds, 1);
            var realDay = 86_400 / options.DaySeconds;
            return new ElasticRun(Name(mode), Math.Round(siloSeconds, 1), Math.Round(siloSeconds * realDay), Math.Round(siloSeconds * realDay / 3600 * options.PricePerSiloHour, 2),
                breachSeconds, DayMinutes(breachSeconds), DayMinutes(latencySeconds), DayMinutes(refusalSeconds),
                timeline.Sum(t => (long)t.Offered), timeline.Sum(t => (long)t.Accepted), timeline.Sum(t => (long)t.Refused), Interlocked.Read(ref _inDoubt), lost,
                Math.Round(Percentile(all, 0.99), 2), actuator.Silos.Count == 0 ? 0 : timeline.Max(t => t.Serving), actuator.Failures, _decisions, timeline);
        }

    }
}
