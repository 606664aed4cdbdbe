using System.CommandLine;
using System.Globalization;
using System.Net;
using Surge.Autoscale;
using Surge.Autoscale.Actuators;

namespace Surge.Cli;

/// <summary>
/// `surge autoscale`: the controller in a loop against a running cluster. Every interval it reads the silos'
/// /metrics (orders/s, refusals for want of room, queue depth), reads the forecast for the lead time (the daily
/// profile of earlier days' orders per minute), decides, and tells the actuator: local processes on this machine,
/// or the StatefulSet in Kubernetes.
/// </summary>
internal static class AutoscaleCommand
{
    public static Command Create()
    {
        var actuator = new Option<string>("--actuator") { Description = "local (start and drain `surge serve` processes here) or kubernetes (scale a StatefulSet).", DefaultValueFactory = _ => "local" };
        actuator.AcceptOnlyFromAmong("local", "kubernetes");
        var mode = new Option<string>("--mode") { Description = "fixed-peak, reactive or predictive (forecast + reactive).", DefaultValueFactory = _ => "predictive" };
        mode.AcceptOnlyFromAmong("fixed-peak", "reactive", "predictive");
        var silosMin = Output.PositiveOption("--silos-min", "Fewest silos", 1, 1_000);
        var silosMax = Output.PositiveOption("--silos-max", "Most silos", 8, 1_000);
        var perSilo = Output.PositiveOption("--silo-orders-per-s", "Orders per second one silo takes (its cap, or what it measured)", 5_000);
        var lead = Output.PositiveOption("--lead-seconds", "How far ahead to read the forecast: the time a new silo needs to serve", 120, 86_400);
        var interval = Output.PositiveOption("--interval-seconds", "Seconds between two decisions", 5, 3_600);
        var cpuHigh = new Option<double>("--cpu-high")
        {
            Description = "Mean share of their processors the silos may keep busy before one more silo is added (above 1 turns the CPU signal off, "
                + "e.g. for local silos that share one machine's processors).",
            DefaultValueFactory = _ => 0.85,
        };
        cpuHigh.Check(value => value is > 0 ? null : "--cpu-high must be a share above 0 (e.g. 0.85)");
        var scaleInShare = new Option<double>("--scale-in-share")
        {
            Description = "Share of the silos one scale-in may drain (0 = one silo at a time; e.g. 0.1 for hundreds of silos).",
            DefaultValueFactory = _ => 0,
        };
        scaleInShare.Check(value => value is >= 0 and < 1 ? null : "--scale-in-share must be a share in [0, 1)");
        var forecastStep = new Option<double?>("--forecast-step")
        {
            Description = "Most one scale-out for the forecast adds, as a share of the silos (e.g. 0.1; none by default): partitions moving to "
                + "new silos cannot answer for a while, so a big cluster grows ahead of the forecast in steps, started early enough to arrive "
                + "(needs --lead-seconds long enough for the steps).",
        };
        forecastStep.Check(value => value is null or > 0 ? null : "--forecast-step must be a positive share");
        var duration = new Option<int>("--duration-seconds") { Description = "Stop after this many seconds (0 = until Ctrl+C).", DefaultValueFactory = _ => 0 };
        var history = new Option<FileInfo?>("--history") { Description = "Orders per minute of earlier days, CSV `minute,orders` (ISO time, count); needed by --mode predictive." };
        var redis = new Option<string?>("--cluster-redis") { Description = "local: the cluster's Redis (HOST:PORT)." };
        var postgres = new Option<string?>("--journal-postgres") { Description = "local: the cluster's PostgreSQL (Npgsql connection string)." };
        var dataRoot = new Option<DirectoryInfo>("--data-root") { Description = "local: where each silo's data directory goes.", DefaultValueFactory = _ => new DirectoryInfo("surge-silos") };
        var capacity = new Option<int>("--capacity") { Description = "local: each silo's serve --capacity (orders/s, 0 = none).", DefaultValueFactory = _ => 0 };
        var ns = new Option<string>("--namespace") { Description = "kubernetes: the namespace of the StatefulSet.", DefaultValueFactory = _ => "surge" };
        var statefulSet = new Option<string>("--statefulset") { Description = "kubernetes: the StatefulSet of silos.", DefaultValueFactory = _ => "surge" };
        var silosDns = new Option<string?>("--silos-dns") { Description = "kubernetes: the headless service name whose addresses are the silos (their /metrics are read)." };
        var siloPort = new Option<int>("--silo-port") { Description = "kubernetes: the silos' HTTP port.", DefaultValueFactory = _ => 8080 };
        var command = new Command("autoscale", "Size the cluster from the traffic forecast and live signals: decide every interval, start or drain silos "
            + "(local processes or a Kubernetes StatefulSet). Every silo must share SURGE_ADMIN_KEY (local mode passes it on).")
        {
            actuator, mode, silosMin, silosMax, perSilo, lead, interval, cpuHigh, scaleInShare, forecastStep, duration, history, redis, postgres, dataRoot, capacity, ns, statefulSet, silosDns, siloPort,
        };
        command.SetAction(async (parse, token) =>
        {
            try
            {
                var scaling = parse.GetValue(mode) switch { "fixed-peak" => ScalingMode.FixedPeak, "reactive" => ScalingMode.Reactive, _ => ScalingMode.PredictiveReactive };
                var options = new AutoscaleOptions
                {
                    SilosMin = parse.GetValue(silosMin), SilosMax = parse.GetValue(silosMax), SiloOrdersPerSMax = parse.GetValue(perSilo),
                    LeadTime = TimeSpan.FromSeconds(parse.GetValue(lead)), CpuHigh = parse.GetValue(cpuHigh),
                    ScaleInStepShare = parse.GetValue(scaleInShare), ForecastStepMax = parse.GetValue(forecastStep) ?? double.PositiveInfinity,
                };
                var controller = new AutoscaleController(scaling, options);
                var profile = parse.GetValue(history) is { } file ? OrderHistory.ReadProfile(file.FullName)
                    : scaling == ScalingMode.PredictiveReactive ? throw new ArgumentException("--mode predictive needs --history (orders per minute of earlier days)") : null;
                await using var scaler = parse.GetValue(actuator) == "kubernetes"
                    ? new Scaler(KubernetesActuator.FromEnvironment(new KubernetesActuatorOptions { Namespace = parse.GetValue(ns)!, StatefulSet = parse.GetValue(statefulSet)! }),
                        () => SilosFromDnsAsync(parse.GetValue(silosDns) ?? throw new ArgumentException("--actuator kubernetes needs --silos-dns"), parse.GetValue(siloPort)))
                    : LocalScaler(parse.GetValue(redis), parse.GetValue(postgres), parse.GetValue(dataRoot)!.FullName, parse.GetValue(capacity));
                if (scaler.Actuator is KubernetesActuator kubernetes)
                {
                    await kubernetes.RefreshAsync(token); // start from the replicas the StatefulSet has, not from none
                }
                await scaler.Actuator.ScaleAsync(Math.Max(options.SilosMin, scaler.Actuator.Target), token);
                await RunAsync(controller, scaler, profile, TimeSpan.FromSeconds(parse.GetValue(interval)), parse.GetValue(duration), token);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or k8s.Autorest.HttpOperationException or k8s.Exceptions.KubeConfigException)
            {
                Console.Error.WriteLine($"surge autoscale: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>An actuator and where its silos' metrics are.</summary>
    private sealed class Scaler(ISiloActuator actuator, Func<Task<IReadOnlyList<Uri>>> silos) : IAsyncDisposable
    {
        public ISiloActuator Actuator => actuator;
        public Func<Task<IReadOnlyList<Uri>>> Silos => silos;
        public ValueTask DisposeAsync() => actuator.DisposeAsync();
    }

    private static Scaler LocalScaler(string? redis, string? postgres, string dataRoot, int capacity)
    {
        var adminKey = Environment.GetEnvironmentVariable("SURGE_ADMIN_KEY");
        if (redis is null || postgres is null || string.IsNullOrWhiteSpace(adminKey))
        {
            throw new ArgumentException("--actuator local needs --cluster-redis, --journal-postgres and SURGE_ADMIN_KEY (every silo shares it)");
        }
        var self = Environment.ProcessPath ?? throw new ArgumentException("cannot tell which program is running");
        var local = new LocalSiloActuator(new LocalSiloOptions
        {
            Executable = self,
            ExecutableArguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(AutoscaleCommand).Assembly.Location] : [],
            DataRoot = dataRoot, Redis = redis, Postgres = postgres, AdminKey = adminKey, CapacityOrdersPerSecond = capacity,
        });
        return new Scaler(local, () => Task.FromResult(local.Serving));
    }

    private static async Task<IReadOnlyList<Uri>> SilosFromDnsAsync(string name, int port) =>
        (await Dns.GetHostAddressesAsync(name)).Select(a => new UriBuilder("http", a.ToString(), port).Uri).ToArray();

    private static async Task RunAsync(AutoscaleController controller, Scaler scaler, DailyProfile? profile, TimeSpan interval, int durationSeconds, CancellationToken token)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var signals = new SiloSignals(http);
        using var timer = new PeriodicTimer(interval);
        var stopAt = durationSeconds > 0 ? DateTimeOffset.UtcNow.AddSeconds(durationSeconds) : DateTimeOffset.MaxValue;
        Console.WriteLine($"surge autoscale: {controller.Mode}, every {interval.TotalSeconds:0.#} s");
        try
        {
            while (await timer.WaitForNextTickAsync(token) && DateTimeOffset.UtcNow < stopAt)
            {
                var now = DateTimeOffset.UtcNow;
                var read = await signals.ReadAsync(await scaler.Silos(), scaler.Actuator.Target, now, token);
                var forecast = profile is null ? [] : OrderHistory.Forecast(profile, now, TimeSpan.FromHours(1));
                var decision = controller.Decide(read, forecast);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{now:HH:mm:ss} {read.OrdersPerS:F0} orders/s, refused {read.RejectShare:P1}, queue {read.QueueDepth:F0}: {read.Silos} → {decision.Silos} ({decision.Reason})"));
                if (decision.Silos != scaler.Actuator.Target)
                {
                    await scaler.Actuator.ScaleAsync(decision.Silos, token);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
