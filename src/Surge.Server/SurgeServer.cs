using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Surge.Core;

namespace Surge.Server;

/// <summary>What the API handlers share: options, control data, routing catalog, gateway, orders, keys.</summary>
/// <summary>
/// The node's services, built once in dependency order by <see cref="SurgeServer.StartAsync"/> (the composition root)
/// and handed to the HTTP endpoints, the dashboard and the metrics. Also the node's lifecycle: recovery before
/// serving, the shared control log followed in a cluster, and the drain.
/// </summary>
public sealed class ServerState : IDisposable
{
    public ServerState(ServerOptions options, ControlStore control, TrackingTokens tokens, Catalog catalog, Gateway gateway, Downstream flow,
        CategoryService categories)
    {
        Options = options;
        Control = control;
        Tokens = tokens;
        Catalog = catalog;
        Gateway = gateway;
        Flow = flow;
        Categories = categories;
        Orders = new OrderSaga(gateway, catalog, options.Saga) { LeaseBlock = control.Shared ? control.LeaseSequenceBlock : null };
        Forecasts = new SellerForecasts(gateway, options.Clock);
        Skus = new SkuWrites(gateway, catalog, categories, options);
        Idempotency = new IdempotencyStore(options);
        Capacity = options.Http.CapacityOrdersPerSecond > 0 ? new CapacityGate(options.Http.CapacityOrdersPerSecond, options.Http.CapacityBurst, options.Clock) : null;
    }

    public ServerOptions Options { get; }
    public ControlStore Control { get; }
    public TrackingTokens Tokens { get; }
    public Catalog Catalog { get; }
    public Gateway Gateway { get; }
    public OrderSaga Orders { get; }
    public SellerForecasts Forecasts { get; }
    public SkuWrites Skus { get; }
    public Downstream Flow { get; }
    public CategoryService Categories { get; }
    public IdempotencyStore Idempotency { get; }
    public ServerMetrics Metrics { get; } = new();

    /// <summary>This node's cap on orders per second; null = no cap.</summary>
    public CapacityGate? Capacity { get; }

    /// <summary>Cancelled when the server begins to stop (background loops of the shell end on it).</summary>
    public CancellationTokenSource Stopping { get; } = new();
    public bool Ready { get; private set; }
    public long OrdersAtStart { get; private set; }

    private readonly SemaphoreSlim _warehouseSync = new(1, 1);

    public void Dispose()
    {
        Stopping.Dispose();
        _warehouseSync.Dispose();
        Categories.Dispose();
    }

    /// <summary>A warehouse's engine reference, or -1. A miss on a shared control log re-reads it first: the
    /// warehouse may have been created through another silo a moment ago.</summary>
    public async ValueTask<int> WarehouseIndexAsync(string id)
    {
        var index = Catalog.WarehouseIndex(id);
        if (index < 0 && Control.Shared)
        {
            Control.Refresh();
            if (Control.WarehouseCount != Catalog.Warehouses.Count)
            {
                await SyncWarehousesAsync();
            }
            index = Catalog.WarehouseIndex(id);
        }
        return index;
    }

    /// <summary>Keeps this silo current with a control log other silos write: every <paramref name="interval"/>
    /// re-reads it (new sellers, keys, subscriptions) and brings the partitions and the routing view up to its
    /// warehouses; in a cluster also finishes multi-seller orders that a silo's death left half done.</summary>
    internal async Task FollowControlAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, Options.Clock);
        var sinceReconcile = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    Control.Refresh();
                    if (Control.WarehouseCount != Catalog.Warehouses.Count)
                    {
                        await SyncWarehousesAsync();
                    }
                    if ((sinceReconcile += interval) >= ReconcileInterval)
                    {
                        sinceReconcile = TimeSpan.Zero;
                        await Orders.ReconcileAsync(olderThan: ReconcileGrace);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    FollowFailed?.Invoke(e); // the database or a partition is away; the next tick tries again
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>How often a silo of a cluster looks for multi-seller orders left half done by another silo.</summary>
    public static readonly TimeSpan ReconcileInterval = TimeSpan.FromSeconds(30);

    /// <summary>Age below which a half-done multi-seller order is left alone in a running cluster: the silo that
    /// places or pays it may still be at work (placement ends within the request deadline).</summary>
    public TimeSpan ReconcileGrace => Options.Http.RequestDeadline * 4;

    internal Action<Exception>? FollowFailed { get; set; }

    private int _requestsInFlight;
    private volatile bool _draining;

    /// <summary>True once the server began to stop: new API requests are refused with 503 `draining`.</summary>
    public bool Draining => _draining;

    /// <summary>Counts an API request in, unless the server is draining.</summary>
    internal bool TryEnter()
    {
        Interlocked.Increment(ref _requestsInFlight);
        if (_draining)
        {
            Interlocked.Decrement(ref _requestsInFlight);
            return false;
        }
        return true;
    }

    internal void Exit() => Interlocked.Decrement(ref _requestsInFlight);

    /// <summary>Stops taking API requests and waits until those in flight are answered (or <paramref name="bound"/> passes).</summary>
    internal async Task DrainRequestsAsync(TimeSpan bound)
    {
        _draining = true;
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref _requestsInFlight) > 0 && started.Elapsed < bound)
        {
            await Task.Delay(DrainPollInterval);
        }
    }

    /// <summary>How often a draining server looks whether its requests in flight are answered.</summary>
    private static readonly TimeSpan DrainPollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Recovery before serving: every partition restores from snapshot + journal (its grain activates),
    /// warehouses missing in a partition are replayed from the control log, the routing catalog is loaded,
    /// order ids continue after the largest, and half-done multi-seller orders are finished.</summary>
    internal async Task<RecoverySummary> RecoverAsync()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var stats = await Task.WhenAll(Enumerable.Range(0, Options.Partitions).Select(p => Gateway.Grain(p).Stats()));
        await SyncWarehousesAsync();
        long lastSequence = 0;
        for (var p = 0; p < Options.Partitions; p++)
        {
            var catalog = await Gateway.Grain(p).ReadCatalog();
            foreach (var sku in catalog.Skus)
            {
                Catalog.AddSku(sku.SellerId, sku.Code, sku.Ref);
            }
            lastSequence = Math.Max(lastSequence, stats[p].LastParentSequence);
        }
        Orders.ResumeSequence(lastSequence);
        // Alone, nothing is in progress before serving; in a cluster other silos may be placing orders right now.
        var reconciled = await Orders.ReconcileAsync(olderThan: Options.Cluster is null ? TimeSpan.Zero : ReconcileGrace);
        OrdersAtStart = stats.Sum(s => (long)s.Orders);
        Ready = true;
        return new RecoverySummary(stats.Sum(s => s.RecoveredRecords), OrdersAtStart, reconciled, started.Elapsed);
    }

    /// <summary>Brings every partition's warehouses up to the control log (same order everywhere, so a
    /// warehouse has the same engine reference in every partition).</summary>
    public async Task SyncWarehousesAsync()
    {
        await _warehouseSync.WaitAsync();
        try
        {
            var wanted = Control.Warehouses;
            await Task.WhenAll(Enumerable.Range(0, Options.Partitions).Select(async p =>
            {
                var have = await Gateway.Grain(p).ReadWarehouses();
                for (var i = 0; i < have.Length; i++)
                {
                    if (i >= wanted.Count || have[i] != wanted[i].Id)
                    {
                        throw new InvalidOperationException($"partition {p} has warehouse '{have[i]}' at {i}, the control log does not");
                    }
                }
                foreach (var warehouse in wanted.Skip(have.Length))
                {
                    var result = await Gateway.Submit(p, w => w.UpsertWarehouse(warehouse.Id, warehouse.Region, warehouse.Country));
                    if (!result.Outcome.Accepted)
                    {
                        throw new InvalidOperationException($"partition {p} refused warehouse '{warehouse.Id}': {result.Outcome.Reason.ToCode()}");
                    }
                }
            }));
            Catalog.SetWarehouses(wanted);
        }
        finally
        {
            _warehouseSync.Release();
        }
    }
}

/// <summary>Leaves signals (Ctrl+C, SIGTERM) to whoever owns the server: the host must not begin stopping on
/// its own while <see cref="SurgeServer.DisposeAsync"/> drains the partition queues through the silo.</summary>
internal sealed class OwnerLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public readonly record struct RecoverySummary(long ReplayedRecords, long Orders, int Reconciled, TimeSpan Elapsed);

/// <summary>
/// The embedded server: an Orleans silo (localhost clustering) and Kestrel in one process, over a data
/// directory. <see cref="StartAsync"/> returns once every partition has recovered and the API serves.
/// </summary>
public sealed class SurgeServer : IAsyncDisposable
{
    public const string AdminKeyFile = "admin.key";
    public const string TrackingKeyFile = "tracking.key";
    public const string ManifestFile = "surge.json";

    /// <summary>How often a silo re-reads a shared control log (sellers, keys, warehouses created elsewhere are also
    /// looked up at once when a request misses them).</summary>
    public static readonly TimeSpan ControlFollowInterval = TimeSpan.FromSeconds(1);

    private readonly WebApplication _app;
    private readonly ControlStore _control;

    private SurgeServer(WebApplication app, ServerState state, Dashboard dashboard, ControlStore control, string adminKey, bool adminKeyGenerated,
        RecoverySummary recovery)
    {
        _app = app;
        State = state;
        Dashboard = dashboard;
        _control = control;
        AdminKey = adminKey;
        AdminKeyGenerated = adminKeyGenerated;
        Recovery = recovery;
        BaseAddress = new Uri(app.Urls.First());
    }

    public ServerState State { get; }
    public Dashboard Dashboard { get; }
    public string AdminKey { get; }

    /// <summary>True when this start generated the admin key (print it once).</summary>
    public bool AdminKeyGenerated { get; }

    public RecoverySummary Recovery { get; }
    public Uri BaseAddress { get; }

    public static async Task<SurgeServer> StartAsync(ServerOptions options, LogLevel logLevel = LogLevel.Warning)
    {
        options.Validate();
        Directory.CreateDirectory(options.DataDirectory);
        CheckManifest(options);
        var (adminKey, generated) = LoadAdminKey(options);
        var control = options.Storage.ControlLogFactory is { } shared ? ControlStore.OpenShared(shared()) : ControlStore.Open(options.DataDirectory);
        control.AddAdminKey(adminKey);
        var trackingKeyFile = Path.Combine(options.DataDirectory, TrackingKeyFile);
        var tokens = new TrackingTokens(control.TrackingSecret(File.Exists(trackingKeyFile) ? Convert.FromHexString(File.ReadAllText(trackingKeyFile).Trim()) : null));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(logLevel);
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Parse(options.Http.Host), options.Http.Port);
            k.Limits.MaxRequestBodySize = options.Http.RequestBodyBytesMax;
            k.AddServerHeader = false;
        });
        builder.Services.AddSingleton<IHostLifetime, OwnerLifetime>(); // the owner of SurgeServer decides when it stops
        builder.Services.AddSingleton(options);
        // Instances, not factories: the server disposes them itself, in order (the container would too, in its own).
        var downstream = new Downstream(new DownstreamOptions
        {
            Partitions = options.Partitions, Rules = options.Flow.Rules, Dispatch = options.Flow.Dispatch, Smtp = options.Flow.Smtp, Clock = options.Clock,
        }, new Flow.DirectoryFlowJournals(Path.Combine(options.DataDirectory, "flow"), new Journal.JournalOptions { SegmentBytesMax = options.Storage.SegmentBytesMax }), control);
        var partitionHost = new PartitionHost(options) { Opened = downstream.OnPartitionOpened };
        builder.Services.AddSingleton(partitionHost);
        builder.Services.AddOpenApi(o => OpenApiDocument.Configure(o));
        if (options.Cluster is { } cluster)
        {
            var (siloPort, gatewayPort) = (cluster.SiloPort == 0 ? FreePort() : cluster.SiloPort, cluster.GatewayPort == 0 ? FreePort() : cluster.GatewayPort);
            builder.UseOrleans(silo => silo
                .UseRedisClustering(cluster.Redis)
                .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (cluster.ClusterId, "surge"))
                .ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress ?? options.Http.Host), siloPort, gatewayPort,
                    listenOnAnyHostAddress: IPAddress.Parse(options.Http.Host).Equals(IPAddress.Any))
                .Configure<Orleans.Configuration.ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = cluster.ProbeTimeout;
                    o.NumMissedProbesLimit = cluster.MissedProbesLimit;
                    o.NumVotesForDeathDeclaration = cluster.VotesForDeath;
                    o.TableRefreshTimeout = cluster.TableRefresh;
                }));
        }
        else
        {
            var (siloPort, gatewayPort) = (FreePort(), FreePort());
            builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort, gatewayPort));
        }
        // Partitions spread evenly over the silos (one silo: all of them there).
        builder.Services.AddSingleton<SiloRoster>();
        Orleans.Hosting.PlacementStrategyExtensions.AddPlacementDirector<PartitionPlacement, PartitionPlacementDirector>(builder.Services);

        var app = builder.Build();

        // The composition root: every service of the node, in dependency order.
        downstream.Log = app.Services.GetRequiredService<ILogger<Downstream>>();
        var gateway = new Gateway(app.Services.GetRequiredService<IGrainFactory>(), options);
        var catalog = new Catalog();
        if (options.Cluster is not null)
        {
            catalog.Lookup = (seller, code) => gateway.Grain(gateway.PartitionOf(seller)).FindSku(seller, code);
        }
        var categories = new CategoryService(options) { Log = app.Services.GetRequiredService<ILogger<CategoryService>>() };
        var state = new ServerState(options, control, tokens, catalog, gateway, downstream, categories);
        var dashboard = new Dashboard(state, partitionHost);

        app.Use(Problems.Middleware);
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1"))
            {
                await next(context);
                return;
            }
            if (!state.Ready)
            {
                await Problems.WriteAsync(context, 503, "starting", "the partitions are still recovering", TimeSpan.FromSeconds(1));
                return;
            }
            if (!state.TryEnter())
            {
                await Problems.WriteAsync(context, 503, "draining", "this silo is stopping; send the request to another one", TimeSpan.FromSeconds(1));
                return;
            }
            if (context.Request.Path.Value!.EndsWith("/events", StringComparison.Ordinal))
            {
                state.Exit(); // a live stream lasts until the server stops; a drain does not wait for it
                await next(context);
                return;
            }
            try
            {
                await next(context);
            }
            finally
            {
                state.Exit();
            }
        });
        app.MapOpenApi("/openapi/{documentName}.json");
        dashboard.Map(app);
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await state.Metrics.WriteAsync(context.Response.Body, state, partitionHost, context.RequestAborted);
        }).WithName("metrics").WithSummary("Prometheus text format: orders, queues, journals, downstream lag, carriers (no key; bind to a private address)")
            .WithTags("operations").ExcludeFromDescription();
        new Api(state, dashboard).Map(app);
        await app.StartAsync();
        try
        {
            var recovery = await state.RecoverAsync();
            if (options.Flow.Start)
            {
                state.Flow.Start(gateway);
            }
            _ = dashboard.RunAsync(state.Stopping.Token);
            if (control.Shared)
            {
                var log = app.Services.GetRequiredService<ILogger<ControlStore>>();
                state.FollowFailed = e => log.LogWarning("following the shared control log: {Error}", e.Message);
                _ = state.FollowControlAsync(ControlFollowInterval, state.Stopping.Token);
            }
            categories.Start(state.Skus.ApplyPendingCategoriesAsync);
            return new SurgeServer(app, state, dashboard, control, adminKey, generated, recovery);
        }
        catch
        {
            await state.Stopping.CancelAsync();
            await downstream.StopAsync();
            await gateway.DisposeAsync();
            await app.StopAsync();
            await app.DisposeAsync();
            await downstream.DisposeAsync();
            await partitionHost.DisposeAsync();
            control.Dispose();
            state.Dispose();
            throw;
        }
    }

    /// <summary>The partition count is fixed for a data directory (sellers are hashed onto it).</summary>
    private static void CheckManifest(ServerOptions options)
    {
        var path = Path.Combine(options.DataDirectory, ManifestFile);
        if (File.Exists(path))
        {
            using var manifest = JsonDocument.Parse(File.ReadAllBytes(path));
            var partitions = manifest.RootElement.GetProperty("partitions").GetInt32();
            if (partitions != options.Partitions)
            {
                throw new InvalidOperationException($"{options.DataDirectory} was created with {partitions} partitions; start it with --partitions {partitions}");
            }
            return;
        }
        File.WriteAllText(path, $"{{\"format\":1,\"partitions\":{options.Partitions}}}\n");
    }

    private static (string Key, bool Generated) LoadAdminKey(ServerOptions options)
    {
        var configured = options.AdminKey ?? Environment.GetEnvironmentVariable("SURGE_ADMIN_KEY");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return (configured.Trim(), false);
        }
        var path = Path.Combine(options.DataDirectory, AdminKeyFile);
        if (File.Exists(path))
        {
            return (File.ReadAllText(path).Trim(), false);
        }
        var key = ControlStore.NewKey("ak_");
        WritePrivate(path, key + "\n");
        return (key, true);
    }

    private static void WritePrivate(string path, string text)
    {
        var temp = path + ".tmp";
        var create = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temp, create))
        {
            file.Write(System.Text.Encoding.UTF8.GetBytes(text));
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>A loopback TCP port free at the time of asking.</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Longest a stopping server waits for the API requests in flight to be answered.</summary>
    public TimeSpan DrainRequestsMax => _app.Services.GetRequiredService<ServerOptions>().Http.RequestDeadline * 2;

    /// <summary>Starts the downstream stages when <see cref="ServerOptions.StartFlow"/> was false.</summary>
    public void StartFlow() => State.Flow.Start(State.Gateway);

    /// <summary>Drains gracefully: refuses new API requests (503 `draining`, so a load balancer or client goes to
    /// another silo), waits for those in flight to be answered (at most <see cref="DrainRequestsMax"/>), drains the
    /// partition queues, stops Kestrel and the silo (in a cluster its partitions re-activate on other silos), then
    /// closes the journals.</summary>
    public async ValueTask DisposeAsync()
    {
        var partitions = _app.Services.GetRequiredService<PartitionHost>();
        await State.DrainRequestsAsync(DrainRequestsMax);
        await State.Stopping.CancelAsync();
        await State.Flow.StopAsync(); // before the gateway: a stage may be sending status updates through it
        await State.Gateway.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await State.Flow.DisposeAsync(); // its readers before the journals
        await partitions.DisposeAsync();
        _control.Dispose();
        State.Dispose();
    }
}
