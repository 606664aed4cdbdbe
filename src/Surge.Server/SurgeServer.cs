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
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Surge.Core;

namespace Surge.Server;

/// <summary>What the API handlers share: options, control data, routing catalog, gateway, orders, keys.</summary>
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
        ManagementAddress = state.Options.Http.ManagementPort is null ? null : new Uri(app.Urls.Last());
    }

    public ServerState State { get; }
    public Dashboard Dashboard { get; }
    public string AdminKey { get; }

    /// <summary>True when this start generated the admin key (print it once).</summary>
    public bool AdminKeyGenerated { get; }

    public RecoverySummary Recovery { get; }
    public Uri BaseAddress { get; }

    /// <summary>Where the dashboard and /metrics are served when they have a port of their own; null: at <see cref="BaseAddress"/>.</summary>
    public Uri? ManagementAddress { get; }

    public static async Task<SurgeServer> StartAsync(ServerOptions options, LogLevel logLevel = LogLevel.Warning)
    {
        options.Validate();
        var outbound = new Flow.OutboundPolicy(options.Flow.OutboundAllowedHosts);
        await CheckCarriersAsync(options.Flow.Rules, outbound);
        Directory.CreateDirectory(options.DataDirectory);
        CheckManifest(options);
        var (adminKey, generated) = LoadAdminKey(options);
        var control = options.Storage.ControlLogFactory is { } shared ? ControlStore.OpenShared(shared()) : ControlStore.Open(options.DataDirectory);
        control.AddAdminKey(adminKey);
        var trackingKeyFile = Path.Combine(options.DataDirectory, TrackingKeyFile);
        var tokens = new TrackingTokens(control.TrackingSecret(File.Exists(trackingKeyFile) ? Convert.FromHexString(File.ReadAllText(trackingKeyFile).Trim()) : null));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        if (options.Telemetry.JsonLogs)
        {
            builder.Logging.AddJsonConsole(o => o.IncludeScopes = true); // the trace and span ids ride in the scope
        }
        else if (logLevel <= LogLevel.Information)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        }
        else
        {
            builder.Logging.AddConsole(o => o.FormatterName = TerseConsoleFormatter.Name).AddConsoleFormatter<TerseConsoleFormatter, ConsoleFormatterOptions>();
        }
        builder.Logging.SetMinimumLevel(logLevel)
            // A failed start propagates from StartAsync to the caller, which reports it (`surge serve`: one line, an exit
            // code); the host's own log of it is the whole stack trace, kept for verbose logging only.
            .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", logLevel <= LogLevel.Information ? logLevel : LogLevel.None);
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Parse(options.Http.Host), options.Http.Port);
            if (options.Http.ManagementPort is { } management)
            {
                k.Listen(IPAddress.Parse(options.Http.ManagementHost), management);
            }
            k.Limits.MaxRequestBodySize = options.Http.RequestBodyBytesMax;
            k.AddServerHeader = false;
        });
        builder.Services.AddSingleton<IHostLifetime, OwnerLifetime>(); // the owner of SurgeServer decides when it stops
        builder.Services.AddSingleton(options);
        // Instances, not factories: the server disposes them itself, in order (the container would too, in its own).
        var downstream = new Downstream(new DownstreamOptions
        {
            Partitions = options.Partitions, Rules = options.Flow.Rules, Dispatch = options.Flow.Dispatch, Smtp = options.Flow.Smtp, Clock = options.Clock,
            Outbound = outbound,
        }, options.Storage.FlowJournals ?? new Flow.DirectoryFlowJournals(Path.Combine(options.DataDirectory, "flow"),
            new Journal.JournalOptions { SegmentBytesMax = options.Storage.SegmentBytesMax }), control);
        var readModel = OpenReadModel(options);
        var partitionHost = new PartitionHost(options)
        {
            Opened = (partition, opened) =>
            {
                downstream.OnPartitionOpened(partition, opened);
                readModel?.OnPartitionOpened(partition, opened.Journal);
            },
            Closing = async partition =>
            {
                if (readModel is not null)
                {
                    await readModel.OnPartitionClosingAsync(partition);
                }
                await downstream.OnPartitionClosingAsync(partition);
            },
            Flow = downstream,
            ReadModel = readModel,
        };
        builder.Services.AddSingleton(partitionHost);
        // The OpenAPI document describes the wire: the same JSON contract (snake_case names, required members) the API
        // reads and writes (the handlers serialize with ApiJson themselves; these options only shape the document).
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            var wire = ApiJson.Default.Options;
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJson.Default);
            o.SerializerOptions.PropertyNamingPolicy = wire.PropertyNamingPolicy;
            o.SerializerOptions.RespectNullableAnnotations = wire.RespectNullableAnnotations;
            o.SerializerOptions.RespectRequiredConstructorParameters = wire.RespectRequiredConstructorParameters;
        });
        builder.Services.AddOpenApi(o => OpenApiDocument.Configure(o));
        AddTelemetry(builder, options.Telemetry);
        if (options.Cluster is { } cluster)
        {
            var (siloPort, gatewayPort) = (cluster.SiloPort == 0 ? FreePort() : cluster.SiloPort, cluster.GatewayPort == 0 ? FreePort() : cluster.GatewayPort);
            builder.UseOrleans(silo => Configured(silo, options.Telemetry)
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
            builder.UseOrleans(silo => Configured(silo, options.Telemetry).UseLocalhostClustering(siloPort, gatewayPort));
        }
        // Partitions spread evenly over the silos (one silo: all of them there).
        builder.Services.AddSingleton<SiloRoster>();
        Orleans.Hosting.PlacementStrategyExtensions.AddPlacementDirector<PartitionPlacement, PartitionPlacementDirector>(builder.Services);

        var app = builder.Build();
        var managementPort = options.Http.ManagementPort ?? -1; // 0: known once Kestrel has bound it

        // The composition root: every service of the node, in dependency order.
        downstream.Log = app.Services.GetRequiredService<ILogger<Downstream>>();
        if (readModel is not null)
        {
            readModel.Log = app.Services.GetRequiredService<ILogger<ReadModel.ReadModelProjection>>();
        }
        var gateway = new Gateway(app.Services.GetRequiredService<IGrainFactory>(), options);
        var catalog = new Catalog();
        if (options.Cluster is not null)
        {
            catalog.Lookup = (seller, code) => gateway.Grain(gateway.PartitionOf(seller)).FindSku(seller, code);
        }
        var categoryLog = app.Services.GetRequiredService<ILogger<CategorySuggestions>>();
        var categories = new CategorySuggestions(new CategoryLogFile(options.DataDirectory), CategoryModels.Loader(options.Categories, categoryLog),
            options.Categories.ReviewBelow) { Log = categoryLog };
        var state = new ServerState(options, control, tokens, catalog, gateway, downstream, categories, readModel) { Outbound = outbound };
        var roster = app.Services.GetRequiredService<SiloRoster>();
        var sampler = new NodeSampler(state, partitionHost, roster.ActiveSilos, roster.Local);
        var dashboard = new Dashboard(state, sampler);

        app.Use(Problems.Middleware);
        if (options.Http.ManagementPort is not null)
        {
            // Operators' endpoints only on the management port, everything else only on the public one.
            app.Use(async (context, next) =>
            {
                var forOperators = context.GetEndpoint()?.Metadata.GetMetadata<ManagementEndpoint>() is not null;
                var onManagementPort = context.Connection.LocalPort == managementPort;
                if (forOperators != onManagementPort)
                {
                    await Problems.WriteAsync(context, 404, "not_found", $"no route {context.Request.Path} on this port");
                    return;
                }
                await next(context);
            });
        }
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1"))
            {
                await next(context);
                return;
            }
            if (!state.Lifecycle.Ready)
            {
                await Problems.WriteAsync(context, 503, "starting", "the partitions are still recovering", TimeSpan.FromSeconds(1));
                return;
            }
            if (!state.Lifecycle.TryEnter())
            {
                await Problems.WriteAsync(context, 503, "draining", "this silo is stopping; send the request to another one", TimeSpan.FromSeconds(1));
                return;
            }
            if (context.Request.Path.Value!.EndsWith("/events", StringComparison.Ordinal))
            {
                state.Lifecycle.Exit(); // a live stream lasts until the server stops; a drain does not wait for it
                await next(context);
                return;
            }
            try
            {
                await next(context);
            }
            finally
            {
                state.Lifecycle.Exit();
            }
        });
        app.MapOpenApi("/openapi/{documentName}.json");
        // The document rendered for people (Scalar, its script served from this assembly: no CDN).
        Scalar.AspNetCore.ScalarEndpointRouteBuilderExtensions.MapScalarApiReference(app, "/docs/api");
        dashboard.Map(app);
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await state.Metrics.WriteAsync(context.Response.Body, state, partitionHost, context.RequestAborted);
        }).WithName("metrics").WithSummary("Prometheus text format: orders, queues, journals, downstream lag, carriers (no key; bind to a private address)")
            .WithTags("operations").ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
        new Api(state, sampler).Map(app);
        await app.StartAsync();
        if (options.Http.ManagementPort is not null)
        {
            managementPort = new Uri(app.Urls.Last()).Port; // the second listener (its port when 0 was asked for)
        }
        try
        {
            var recovery = await state.Lifecycle.RecoverAsync();
            readModel?.Start();
            if (options.Flow.Start)
            {
                state.Flow.Start(gateway);
            }
            _ = sampler.RunAsync(state.Lifecycle.Stopping.Token);
            if (control.Shared)
            {
                var log = app.Services.GetRequiredService<ILogger<ControlStore>>();
                state.Lifecycle.FollowFailed = e => log.LogWarning("following the shared control log: {Error}", e.Message);
                _ = state.Lifecycle.FollowControlAsync(ControlFollowInterval, state.Lifecycle.Stopping.Token);
            }
            categories.Start(state.Skus.ApplyPendingCategoriesAsync);
            return new SurgeServer(app, state, dashboard, control, adminKey, generated, recovery);
        }
        catch
        {
            await state.Lifecycle.Stopping.CancelAsync();
            await downstream.StopAsync();
            await gateway.DisposeAsync();
            await app.StopAsync();
            await app.DisposeAsync();
            await downstream.DisposeAsync();
            if (readModel is not null)
            {
                await readModel.DisposeAsync();
            }
            await partitionHost.DisposeAsync();
            control.Dispose();
            state.Dispose();
            throw;
        }
    }

    /// <summary>The node's read model (<see cref="StorageOptions.ReadModel"/>): the cluster's shared one, or a single
    /// node's <c>read-model/orders.db</c> with the projectors' checkpoints beside it; null when off, or in cluster mode
    /// without a shared one.</summary>
    private static ReadModel.ReadModelProjection? OpenReadModel(ServerOptions options)
    {
        if (!options.KeepsReadModel)
        {
            return null;
        }
        if (options.Storage.SharedReadModel is { } shared)
        {
            return new ReadModel.ReadModelProjection(shared.OpenStore(), shared.Checkpoints, clock: options.Clock);
        }
        var root = Path.Combine(options.DataDirectory, "read-model");
        var store = ReadModel.ReadModelStore.OpenSqlite(Path.Combine(root, "orders.db"));
        return new ReadModel.ReadModelProjection(store,
            partition => new Journal.DirectoryStorage(Path.Combine(root, "checkpoints", partition.ToString("D4", CultureInfo.InvariantCulture))),
            clock: options.Clock);
    }

    /// <summary>The partition count is fixed for a data directory (sellers are hashed onto it).</summary>
    /// <summary>OpenTelemetry when it is asked for: the spans of ASP.NET Core, HttpClient (webhooks, carriers), Npgsql,
    /// Orleans and Surge's own sources; metrics of ASP.NET Core and Surge; OTLP export when an endpoint is given.</summary>
    private static void AddTelemetry(WebApplicationBuilder builder, TelemetryOptions telemetry)
    {
        if (!telemetry.Tracing)
        {
            return;
        }
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(telemetry.ServiceName, serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
            .WithTracing(t =>
            {
                t.AddSource(Application.ApplicationTelemetry.SourceName, Runtime.RunnerTelemetry.SourceName, ServerTelemetry.SourceName, Flow.FlowTelemetry.SourceName, "Microsoft.Orleans.Runtime",
                        "Microsoft.Orleans.Application")
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation();
                Npgsql.TracerProviderBuilderExtensions.AddNpgsql(t);
                if (telemetry.OtlpEndpoint is { } endpoint)
                {
                    t.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
                }
                telemetry.ConfigureTracing?.Invoke(t);
            })
            .WithMetrics(m =>
            {
                m.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
                if (telemetry.OtlpEndpoint is { } endpoint)
                {
                    m.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
                }
            });
    }

    /// <summary>Every silo: Surge's exceptions cross silos as themselves; grain calls carry the caller's trace when tracing is on.</summary>
    private static Orleans.Hosting.ISiloBuilder Configured(Orleans.Hosting.ISiloBuilder silo, TelemetryOptions telemetry)
    {
        ConfigureGrainExceptions(silo.Services);
        return telemetry.Tracing ? silo.AddActivityPropagation() : silo;
    }

    /// <summary>Orleans sends an exception thrown in a grain back to a caller on another silo only when the type's
    /// namespace is on a list (System, Microsoft, Azure by default); any other cannot be serialized, and the caller
    /// gets a failure the HTTP handler cannot tell from a bug (500). Surge's are added, and Npgsql's (a journal failure
    /// carries PostgreSQL's as its inner exception, and one part that cannot be sent fails the whole): a journal that
    /// failed or a partition that is leaving on the silo that hosts it is answered 503 (retry) by whichever silo took
    /// the request, as on the silo itself. The silos of a cluster trust each other (see docs/SECURITY.md).</summary>
    public static void ConfigureGrainExceptions(IServiceCollection services) =>
        services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o =>
        {
            o.SupportedNamespacePrefixes.Add("Surge");
            o.SupportedNamespacePrefixes.Add("Npgsql");
        });

    /// <summary>Refuses to start with a carrier endpoint the outbound policy would refuse at every delivery (a private
    /// address, not allowed): better one clear line now than dead letters later.</summary>
    private static async Task CheckCarriersAsync(Flow.FulfillmentRules rules, Flow.OutboundPolicy outbound)
    {
        foreach (var carrier in rules.Carriers.Where(c => c.Endpoint is not null))
        {
            if (await outbound.RefusalAsync(new Uri(carrier.Endpoint!)) is { } refusal)
            {
                throw new ArgumentException($"carrier {carrier.Id}: endpoint {carrier.Endpoint}: {refusal} (serve --allow-outbound-host)");
            }
        }
    }

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
        await State.Lifecycle.DrainRequestsAsync(DrainRequestsMax);
        await State.Lifecycle.Stopping.CancelAsync();
        await State.Flow.StopAsync(); // before the gateway: a stage may be sending status updates through it
        await State.Gateway.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await State.Flow.DisposeAsync(); // its readers before the journals
        if (State.ReadModel is { } readModel)
        {
            await readModel.DisposeAsync(); // its readers too
        }
        await partitions.DisposeAsync();
        _control.Dispose();
        State.Dispose();
    }
}
