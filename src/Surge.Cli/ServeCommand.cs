using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Surge.Application;
using Surge.Flow;
using Surge.Server;

namespace Surge.Cli;

/// <summary>`surge serve`: the embedded server (Orleans silo + HTTP API in one process) until Ctrl+C / SIGTERM.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port") { Description = "HTTP port on the host address (0 picks a free one).", DefaultValueFactory = _ => 8080 };
        port.Check(value => value is < 0 or > 65_535 ? "--port must be 0..65535" : null);
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var data = new Option<DirectoryInfo>("--data") { Description = "Data directory (journals, snapshots, keys).", DefaultValueFactory = _ => new DirectoryInfo("surge-data") };
        var partitions = Output.PositiveOption("--partitions", "Partitions, a power of two; fixed for a data directory", ServerOptions.DefaultPartitions, ServerOptions.PartitionsMax);
        var verbose = new Option<bool>("--verbose") { Description = "Log at Information level (default: warnings only)." };
        var fulfillment = new Option<FileInfo?>("--fulfillment")
        {
            Description = "Fulfillment rules (JSON: shipping classes, service levels, carriers); see config/fulfillment.example.json. "
                + "Without it shipments are planned with no carrier.",
        };
        var categoryModel = new Option<FileInfo?>("--category-model")
        {
            Description = "Product-category model (ML.NET zip) for SKUs created without a category; default DATA/models/category.zip. "
                + "Trained in the background at the first start when missing.",
        };
        var categoryTraining = new Option<FileInfo?>("--category-training")
        {
            Description = "Titles and categories to train that model from (PriceRunner CSV format); default "
                + $"../shared/data/{ClassifyCommand.TrainPath} when it exists (else SKUs keep the category they are given).",
        };
        var noCategories = new Option<bool>("--no-categories")
        {
            Description = "Suggest no product categories: no model is loaded or trained (SKUs keep the category they are given). "
                + "For silos that must start fast and light, e.g. many on one machine.",
        };
        var smtp = new Option<string?>("--smtp") { Description = "SMTP server HOST:PORT for e-mail subscriptions (none: e-mail subscriptions are refused)." };
        var smtpFrom = new Option<string>("--smtp-from") { Description = "Sender address of those e-mails.", DefaultValueFactory = _ => "surge@localhost" };
        var journalPostgres = new Option<string?>("--journal-postgres")
        {
            Description = "Keep the partitions' journals and snapshots in PostgreSQL (an Npgsql connection string, e.g. "
                + "\"Host=127.0.0.1;Port=5432;Username=surge;Database=surge\") instead of the data directory, and the control data (sellers, "
                + "keys, warehouses, subscriptions), the downstream stores and the read model (listings, histories, sales) with them. Opening a "
                + "partition takes it over: another process still holding it can no longer append.",
        };
        var clusterRedis = new Option<string?>("--cluster-redis")
        {
            Description = "Join a cluster whose membership is kept in this Redis (e.g. 127.0.0.1:6379); needs --journal-postgres (journals "
                + "and the control data every silo shares). Give every silo the same admin key (SURGE_ADMIN_KEY).",
        };
        var capacity = new Option<int>("--capacity")
        {
            Description = "Orders per second this silo takes through its API; beyond it orders are answered 503 silo_capacity with Retry-After "
                + "(0 = no cap). Lets one machine emulate a cluster of small machines.",
            DefaultValueFactory = _ => 0,
        };
        var clusterAdvertise = new Option<string?>("--cluster-advertise")
        {
            Description = "The IP address other silos reach this one at (default: --host; required when --host is 0.0.0.0, e.g. the pod IP).",
        };
        var clusterPort = new Option<int>("--cluster-port") { Description = "Silo-to-silo port (0 = a free one).", DefaultValueFactory = _ => 0 };
        var clusterId = new Option<string>("--cluster-id") { Description = "Silos with the same id form one cluster.", DefaultValueFactory = _ => "surge" };
        var retention = new Option<double>("--retention-days")
        {
            Description = "Days a delivered, cancelled or returned order stays in its partition before it retires to the read model "
                + "(read-only from then on; at least 1 hour = 0.0417; kept for ever in cluster mode, which has no read model yet).",
            DefaultValueFactory = _ => new OrderOptions().Retention.TotalDays,
        };
        var allowOutbound = new Option<string[]>("--allow-outbound-host")
        {
            Description = "A host webhooks and carriers may be at although it resolves to a loopback, private or link-local address (repeat the flag "
                + "for several; exact host name or IP). Without it the server calls only public addresses (SSRF protection).",
        };
        var managementPort = new Option<int?>("--management-port")
        {
            Description = "Serve the dashboard and /metrics on this port only (on 127.0.0.1, or Http:ManagementHost), off the API's port; 0 picks a free one.",
        };
        var otlp = new Option<string?>("--otlp-endpoint")
        {
            Description = "Export traces and metrics over OTLP to this collector (e.g. http://127.0.0.1:4317); none: no telemetry is exported.",
        };
        otlp.Check(value => value is null || Uri.TryCreate(value, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? null : "--otlp-endpoint must be an absolute http(s) URL");
        var jsonLogs = new Option<bool>("--json-logs") { Description = "Log one JSON object a line, with the trace id of the request it belongs to." };
        var config = new Option<FileInfo?>("--config")
        {
            Description = "Settings file (JSON, docs/CONFIGURATION.md), read after ./appsettings.json and before SURGE__… environment variables; "
                + "the flags here win over all of them.",
        };
        var command = new Command("serve", "Run the embedded server: partitions as Orleans grains, the HTTP API under /v1, OpenAPI at /openapi/v1.json "
            + "(rendered at /docs/api), and the fulfillment stage that plans the shipments of paid orders. Settings: docs/CONFIGURATION.md. "
            + "Exit codes: 0 stopped, 1 unexpected failure, 2 bad flag or setting, 3 cannot listen, 4 data directory unusable, "
            + "5 corrupt journal, 6 PostgreSQL or Redis unreachable.")
        {
            port, host, data, partitions, fulfillment, categoryModel, categoryTraining, noCategories, smtp, smtpFrom, journalPostgres, clusterRedis, clusterId, clusterAdvertise, clusterPort, capacity, retention, allowOutbound, managementPort, otlp, jsonLogs, config, verbose,
        };
        command.SetAction(async (parse, token) =>
        {
            ServerOptions options;
            Npgsql.NpgsqlDataSource? postgres = null;
            ClusterDependencies? dependencies = null;
            try
            {
                var settings = ServeSettings.Load(parse.GetValue(config)?.FullName);
                bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
                var connection = Given(journalPostgres) ? parse.GetValue(journalPostgres)
                    : ServeSettings.Secret(settings.Storage.Postgres, settings.Storage.PostgresFile, "Storage:PostgresFile");
                if (connection is not null)
                {
                    postgres = Npgsql.NpgsqlDataSource.Create(connection);
                    await Journal.Postgres.PostgresJournal.EnsureSchemaAsync(postgres, token);
                    await Journal.Postgres.PostgresControlLog.EnsureSchemaAsync(postgres, token);
                    await PostgresFlowJournals.EnsureSchemaAsync(postgres, token);
                }
                var rulesFile = Given(fulfillment) ? parse.GetValue(fulfillment)?.FullName : settings.Fulfillment;
                var rules = rulesFile is null ? new FulfillmentRules() : FulfillmentRules.Load(Path.GetFullPath(rulesFile));
                var dataDirectory = Path.GetFullPath(Given(data) || settings.Data is null ? parse.GetValue(data)!.FullName : settings.Data);
                var redisAddress = Given(clusterRedis) ? parse.GetValue(clusterRedis) : settings.Cluster.Redis;
                dependencies = new ClusterDependencies(postgres, redisAddress);
                var cluster = settings.Cluster;
                var defaults = new ClusterMode("");
                options = new ServerOptions
                {
                    DataDirectory = dataDirectory,
                    AdminKey = ServeSettings.Secret(settings.AdminKey, settings.AdminKeyFile, "AdminKeyFile"),
                    Categories = new()
                    {
                        ModelFile = parse.GetValue(noCategories) ? null : parse.GetValue(categoryModel)?.FullName ?? Path.Combine(dataDirectory, "models", "category.zip"),
                        TrainingFile = parse.GetValue(noCategories) ? null : TrainingFile(parse.GetValue(categoryTraining)),
                        // A cluster trains the model once: the first silo stores it beside the journals, the others load it.
                        SharedModel = postgres is null ? null : new Journal.Postgres.PostgresFileStorage(postgres, "models"),
                    },
                    Http = settings.Http with
                    {
                        Port = Given(port) ? parse.GetValue(port) : settings.Http.Port,
                        Host = Given(host) ? parse.GetValue(host)! : settings.Http.Host,
                        CapacityOrdersPerSecond = Given(capacity) ? parse.GetValue(capacity) : settings.Http.CapacityOrdersPerSecond,
                        ManagementPort = Given(managementPort) ? parse.GetValue(managementPort) : settings.Http.ManagementPort,
                    },
                    Admission = settings.Admission,
                    Telemetry = new()
                    {
                        OtlpEndpoint = Given(otlp) ? parse.GetValue(otlp) : settings.Telemetry.OtlpEndpoint,
                        ServiceName = settings.Telemetry.ServiceName ?? new TelemetryOptions().ServiceName,
                        JsonLogs = Given(jsonLogs) ? parse.GetValue(jsonLogs) : settings.Telemetry.JsonLogs ?? false,
                    },
                    Partitions = Given(partitions) || settings.Partitions is null ? parse.GetValue(partitions) : settings.Partitions.Value,
                    Dependencies = dependencies.Checks,
                    Orders = Given(retention) ? settings.Orders with { Retention = Days(parse.GetValue(retention)) } : settings.Orders,
                    Flow = new()
                    {
                        Rules = rules, Dispatch = rules.Delivery,
                        Smtp = Given(smtp) ? Smtp(parse.GetValue(smtp), parse.GetValue(smtpFrom)!)
                            : settings.Flow.Smtp is { Host: { } smtpHost } s ? new SmtpOptions(smtpHost, s.Port, Given(smtpFrom) ? parse.GetValue(smtpFrom)! : s.From, s.User,
                                ServeSettings.Secret(s.Password, s.PasswordFile, "Flow:Smtp:PasswordFile"))
                            : null,
                        OutboundAllowedHosts = Given(allowOutbound) ? parse.GetValue(allowOutbound) ?? [] : settings.Flow.OutboundAllowedHosts ?? [],
                    },
                    Cluster = redisAddress is null ? null : new ClusterMode(redisAddress)
                    {
                        ClusterId = Given(clusterId) || cluster.Id is null ? parse.GetValue(clusterId)! : cluster.Id,
                        AdvertisedAddress = Given(clusterAdvertise) ? parse.GetValue(clusterAdvertise) : cluster.AdvertisedAddress,
                        SiloPort = Given(clusterPort) || cluster.SiloPort is null ? parse.GetValue(clusterPort) : cluster.SiloPort.Value,
                        ProbeTimeout = cluster.ProbeTimeout ?? defaults.ProbeTimeout,
                        MissedProbesLimit = cluster.MissedProbesLimit ?? defaults.MissedProbesLimit,
                        VotesForDeath = cluster.VotesForDeath ?? defaults.VotesForDeath,
                        TableRefresh = cluster.TableRefresh ?? defaults.TableRefresh,
                        PlacementCheck = cluster.PlacementCheck ?? defaults.PlacementCheck,
                        PlacementResidenceMin = cluster.PlacementResidenceMin ?? defaults.PlacementResidenceMin,
                    },
                    Storage = new()
                    {
                        SegmentBytesMax = settings.Storage.SegmentBytesMax ?? new StorageOptions().SegmentBytesMax,
                        SnapshotEveryBytes = settings.Storage.SnapshotEveryBytes ?? new StorageOptions().SnapshotEveryBytes,
                        ReadModel = settings.Storage.ReadModel ?? true,
                        JournalFactory = postgres is null ? null : i => Journal.Postgres.PostgresJournal.Open(postgres, i, Owner),
                        FlowJournals = postgres is null ? null : new PostgresFlowJournals(postgres, Owner),
                        ControlLogFactory = postgres is null ? null : () => new Journal.Postgres.PostgresControlLog(postgres),
                        // The read model beside the journals: every silo projects the partitions it hosts into it.
                        SharedReadModel = postgres is null ? null : new SharedReadModel(
                            () => ReadModel.ReadModelStore.OpenPostgres(postgres, "the PostgreSQL read model"),
                            partition => new Journal.Postgres.PostgresFileStorage(postgres, "read-model/" + partition.ToString("D4", CultureInfo.InvariantCulture))),
                    },
                };
                options.Validate();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (postgres is not null)
                {
                    await postgres.DisposeAsync();
                }
                return Fail(e, e is FulfillmentRulesException or FileNotFoundException ? (StartupFailure.Usage, e.Message)
                    : StartupFailure.Classify(e, parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(data)!.FullName));
            }
            int Fail(Exception e, (int Code, string Line) failure)
            {
                Console.Error.WriteLine($"surge serve: {failure.Line}");
                if (parse.GetValue(verbose))
                {
                    Console.Error.WriteLine(e);
                }
                return failure.Code;
            }
            await using var postgresSource = postgres;
            await using var probes = dependencies;
            SurgeServer server;
            try
            {
                server = await SurgeServer.StartAsync(options, parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return Fail(e, StartupFailure.Classify(e, options.Http.Host, options.Http.Port, options.DataDirectory));
            }
            await using var running = server;
            Console.WriteLine($"surge: serving {server.BaseAddress} (data {options.DataDirectory}, {options.Partitions} partitions, "
                + $"{options.Flow.Rules.Carriers.Count} carriers)");
            if (server.ManagementAddress is { } management)
            {
                Console.WriteLine($"surge: dashboard and /metrics at {management}");
            }
            Console.WriteLine($"surge: recovered {server.Recovery.Orders:N0} orders ({server.Recovery.ReplayedRecords:N0} journal records replayed, "
                + $"{server.Recovery.Reconciled} multi-seller orders finished) in {server.Recovery.Elapsed.TotalMilliseconds:F0} ms");
            if (server.AdminKeyGenerated)
            {
                Console.WriteLine($"surge: admin key (shown once, stored in {Path.Combine(options.DataDirectory, SurgeServer.AdminKeyFile)}): {server.AdminKey}");
            }
            Console.WriteLine($"surge: category suggestions {server.State.Categories.State.ToString().ToLowerInvariant()}"
                + (server.State.Categories.State == ClassifierState.Loading ? " (the model loads or trains in the background)" : ""));
            Console.WriteLine("surge: ready");
            var stopped = new TaskCompletionSource();
            using var registration = token.Register(() => stopped.TrySetResult());
            await stopped.Task;
            Console.WriteLine("surge: stopping (draining queues, closing journals)");
            return 0;
        });
        return command;
    }

    /// <summary>Who holds a partition's journal and stores in PostgreSQL (shown in <c>surge_partitions.owner</c>).</summary>
    private static string Owner => $"{Environment.MachineName}:{Environment.ProcessId}";

    private static SmtpOptions? Smtp(string? server, string from)
    {
        if (server is null)
        {
            return null;
        }
        var colon = server.LastIndexOf(':');
        return colon > 0 && int.TryParse(server.AsSpan(colon + 1), out var port) && port is > 0 and <= 65_535
            ? new SmtpOptions(server[..colon], port, from)
            : throw new ArgumentException($"--smtp: HOST:PORT, not '{server}'");
    }

    /// <summary>The given training file (it must exist), else the shared PriceRunner split if it is there, else none.</summary>
    private static string? TrainingFile(FileInfo? given)
    {
        if (given is not null)
        {
            return given.Exists ? given.FullName : throw new FileNotFoundException($"--category-training: no file at {given.FullName}");
        }
        try
        {
            return Load.SharedData.Locate(null, ClassifyCommand.TrainPath, "--category-training");
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Days as a time span; a value a time span cannot hold is refused the way the server refuses a bad bound.</summary>
    private static TimeSpan Days(double days) =>
        double.IsFinite(days) && days >= 0 && days <= TimeSpan.MaxValue.TotalDays ? TimeSpan.FromDays(days)
            : throw new ArgumentException($"--retention-days must be a number of days, not {days}");
}
