namespace Surge.Server;

/// <summary>Everything `surge serve` can be told, grouped by concern; each bound with its unit. Defaults suit one
/// 2-core machine.</summary>
public sealed record ServerOptions
{
    /// <summary>Where journals, snapshots, keys and the control log live.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Partitions (a power of two, 1 to <see cref="PartitionsMax"/>). Fixed for a data directory. 16 by default:
    /// each partition has its own journal and fsyncs, and on 2 cores fewer partitions measured faster (docs/BENCHMARKS.md).</summary>
    public int Partitions { get; init; } = DefaultPartitions;

    public const int DefaultPartitions = 16;

    public const int PartitionsMax = 1024;

    /// <summary>Admin key to use instead of the generated one (SURGE_ADMIN_KEY).</summary>
    public string? AdminKey { get; init; }

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The HTTP API: address, bodies, deadline, batch sizes, capacity cap.</summary>
    public HttpOptions Http { get; init; } = new();

    /// <summary>Queues between the API and the partitions.</summary>
    public AdmissionOptions Admission { get; init; } = new();

    /// <summary>Journals, snapshots and the control log.</summary>
    public StorageOptions Storage { get; init; } = new();

    /// <summary>Orders: holds, expiry, idempotency.</summary>
    public OrderOptions Orders { get; init; } = new();

    /// <summary>The downstream stages: fulfillment rules, carriers, e-mail.</summary>
    public FlowOptions Flow { get; init; } = new();

    /// <summary>Category suggestions for new SKUs.</summary>
    public CategoryOptions Categories { get; init; } = new();

    /// <summary>Traces, metrics and the shape of the logs.</summary>
    public TelemetryOptions Telemetry { get; init; } = new();

    /// <summary>Cluster mode: membership in Redis instead of a one-silo localhost cluster (null = one process).</summary>
    public ClusterMode? Cluster { get; init; }

    /// <summary>What this node needs outside itself to serve (the cluster's PostgreSQL and Redis), probed by <c>/readyz</c>.</summary>
    public IReadOnlyList<DependencyCheck> Dependencies { get; init; } = [];

    /// <summary>True when this node keeps the read model: switched on, and either one node (a SQLite file in the data
    /// directory) or a read model shared by the cluster (<see cref="StorageOptions.SharedReadModel"/>).</summary>
    public bool KeepsReadModel => Storage.ReadModel && (Cluster is null || Storage.SharedReadModel is not null);

    /// <summary>The retention the partitions are configured with (ms): <see cref="OrderOptions.Retention"/> when this node
    /// keeps the read model that answers for retired orders, otherwise never retire.</summary>
    public long RetentionMs => KeepsReadModel ? (long)Orders.Retention.TotalMilliseconds : Engine.RetainForever;

    /// <summary>The ordering saga's view of these settings.</summary>
    public OrderSagaOptions Saga => new() { Clock = Clock, ReservationTtl = Orders.ReservationTtl, GroupCommandsMax = Admission.BatchCommandsMax };

    public void Validate()
    {
        if (Partitions < 1 || Partitions > PartitionsMax || (Partitions & (Partitions - 1)) != 0)
        {
            throw new ArgumentException($"partitions must be a power of two from 1 to {PartitionsMax}, not {Partitions}");
        }
        if (Http.Port is < 0 or > 65_535)
        {
            throw new ArgumentException($"port must be 0..65535, not {Http.Port}");
        }
        if (Http.ManagementPort is < 0 or > 65_535 || (Http.ManagementPort is { } management and > 0 && management == Http.Port))
        {
            throw new ArgumentException($"Http:ManagementPort must be 0..65535 and not the API's port, not {Http.ManagementPort}");
        }
        if (Telemetry.OtlpEndpoint is { } otlp && !(Uri.TryCreate(otlp, UriKind.Absolute, out var collector) && collector.Scheme is "http" or "https"))
        {
            throw new ArgumentException($"Telemetry:OtlpEndpoint must be an absolute http(s) URL, not '{otlp}'");
        }
        if (!System.Net.IPAddress.TryParse(Http.ManagementHost, out _))
        {
            throw new ArgumentException($"Http:ManagementHost must be an IP address, not '{Http.ManagementHost}'");
        }
        foreach (var (name, value) in new (string, long)[]
        {
            ("Admission:PartitionQueuedCommandsMax", Admission.PartitionQueuedCommandsMax), ("Admission:NodeQueuedCommandsMax", Admission.NodeQueuedCommandsMax),
            ("Admission:BatchCommandsMax", Admission.BatchCommandsMax), ("Admission:BatchesInFlightMax", Admission.BatchesInFlightMax),
            ("Http:BatchOrdersMax", Http.BatchOrdersMax), ("Http:BatchSkusMax", Http.BatchSkusMax), ("Orders:IdempotencyEntriesMax", Orders.IdempotencyEntriesMax),
            ("Storage:SegmentBytesMax", Storage.SegmentBytesMax), ("Storage:SnapshotEveryBytes", Storage.SnapshotEveryBytes),
        })
        {
            if (value < 1)
            {
                throw new ArgumentException($"{name} must be at least 1, not {value}");
            }
        }
        if (Http.RequestBodyBytesMax < 1024)
        {
            throw new ArgumentException($"Http:RequestBodyBytesMax must be at least 1024 bytes, not {Http.RequestBodyBytesMax}");
        }
        if (Http.RateLimits.StorefrontRequestsPerSecond < 0 || Http.RateLimits.SellerRequestsPerSecond < 0 || Http.RateLimits.LoginAttemptsPerMinute < 0
            || !(Http.RateLimits.BurstSeconds > 0))
        {
            throw new ArgumentException("Http:RateLimits: requests a second and login attempts a minute are 0 (no limit) or more; BurstSeconds is positive");
        }
        if (Http.CapacityOrdersPerSecond < 0 || Http.CapacityBurst <= TimeSpan.Zero)
        {
            throw new ArgumentException($"capacity is orders per second, 0 (no cap) or more, not {Http.CapacityOrdersPerSecond}; its burst must be positive");
        }
        if (Categories.ReviewBelow is < 0 or > 1)
        {
            throw new ArgumentException($"the category review threshold is a probability 0..1, not {Categories.ReviewBelow}");
        }
        if (Http.RequestDeadline <= TimeSpan.Zero || Orders.ReservationTtl <= TimeSpan.Zero || Orders.ExpiryCheckInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("Http:RequestDeadline, Orders:ReservationTtl and Orders:ExpiryCheckInterval must be positive");
        }
        if (Orders.Retention < OrderOptions.RetentionMin)
        {
            throw new ArgumentException($"the retention of final orders must be at least {OrderOptions.RetentionMin.TotalHours:0} h, not {Orders.Retention}");
        }
        if (Cluster is { } cluster)
        {
            if (Storage.JournalFactory is null)
            {
                throw new ArgumentException("cluster mode needs journals every silo can reach (e.g. --journal-postgres): a partition must recover on any silo");
            }
            if (Storage.ControlLogFactory is null)
            {
                throw new ArgumentException("cluster mode needs a control log every silo shares (e.g. --journal-postgres): sellers and keys created through one silo must be known to all");
            }
            var advertised = cluster.AdvertisedAddress ?? Http.Host;
            if (!System.Net.IPAddress.TryParse(advertised, out var address) || address.Equals(System.Net.IPAddress.Any) || address.Equals(System.Net.IPAddress.IPv6Any))
            {
                throw new ArgumentException($"cluster mode: other silos cannot reach '{advertised}'; give the address to advertise (--cluster-advertise, e.g. the pod IP)");
            }
            if (string.IsNullOrWhiteSpace(cluster.Redis) || cluster.SiloPort is < 0 or > 65_535 || cluster.GatewayPort is < 0 or > 65_535
                || cluster.ProbeTimeout <= TimeSpan.Zero || cluster.TableRefresh <= TimeSpan.Zero || cluster.MissedProbesLimit < 1 || cluster.VotesForDeath < 1
                || cluster.PlacementCheck <= TimeSpan.Zero || cluster.PlacementResidenceMin < TimeSpan.Zero)
            {
                throw new ArgumentException("cluster mode: a Redis address, ports 0..65535, positive probe timeout, table refresh and placement check, limits of at least 1");
            }
        }
    }
}

/// <summary>OpenTelemetry: traces (ASP.NET Core, HttpClient, Npgsql, Orleans grain calls, and Surge's own spans — a saga,
/// a partition's batch, its journal commit) and metrics, exported over OTLP when an endpoint is given; and the logs.</summary>
public sealed record TelemetryOptions
{
    /// <summary>The OTLP collector (e.g. http://otel-collector:4317); null: nothing is exported.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>The service name traces and metrics carry.</summary>
    public string ServiceName { get; init; } = "surge";

    /// <summary>Logs as one JSON object a line (with the trace id of the request they belong to) instead of text.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>More tracing configuration (tests add an in-memory exporter); tracing is on when this or
    /// <see cref="OtlpEndpoint"/> is set.</summary>
    public Action<OpenTelemetry.Trace.TracerProviderBuilder>? ConfigureTracing { get; init; }

    public bool Tracing => OtlpEndpoint is not null || ConfigureTracing is not null;
}

/// <summary>The HTTP API's settings.</summary>
public sealed record HttpOptions
{
    /// <summary>Address Kestrel listens on (loopback by default).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>HTTP port; 0 picks a free one (see <see cref="SurgeServer.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>A second port for operators only — the dashboard and <c>/metrics</c> move there, off the public port, and
    /// the API is not served on it (<c>serve --management-port</c>; 0 picks a free one). Null: everything on
    /// <see cref="Port"/>.</summary>
    public int? ManagementPort { get; init; }

    /// <summary>Address the management port listens on (loopback by default: reach it through the pod or a tunnel).</summary>
    public string ManagementHost { get; init; } = "127.0.0.1";

    /// <summary>Longest a request waits for its commands; then 503 `deadline_exceeded` (the order may still land;
    /// retry with the same Idempotency-Key).</summary>
    public TimeSpan RequestDeadline { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest request body, in bytes (1,000 orders of a few lines fit easily).</summary>
    public long RequestBodyBytesMax { get; init; } = 4 * 1024 * 1024;

    /// <summary>Orders in one POST /v1/orders/batch.</summary>
    public int BatchOrdersMax { get; init; } = 1_000;

    /// <summary>SKUs in one POST /v1/skus/batch.</summary>
    public int BatchSkusMax { get; init; } = 1_000;

    /// <summary>How long a seller's or storefront's old key keeps working after <c>POST /v1/keys/rotate</c>, by default
    /// and at most (a caller may ask for less).</summary>
    public TimeSpan KeyRotationGrace { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Requests per second per API key, and the dashboard's login throttle.</summary>
    public RateLimitOptions RateLimits { get; init; } = new();

    /// <summary>Orders per second this node takes through its API (0 = no cap); beyond it orders are answered 503
    /// `silo_capacity`. One machine can so emulate a cluster of small machines (`serve --capacity`).</summary>
    public int CapacityOrdersPerSecond { get; init; }

    /// <summary>Orders the capacity cap lets through at once after a quiet moment: this much time's worth.</summary>
    public TimeSpan CapacityBurst { get; init; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>The queues between the API and the partitions.</summary>
public sealed record AdmissionOptions
{
    /// <summary>Commands waiting in one partition's queue; beyond it that partition answers 429 (hot seller).</summary>
    public int PartitionQueuedCommandsMax { get; init; } = 32_768;

    /// <summary>Commands waiting in all queues together; beyond it the node answers 503 (saturated).</summary>
    public int NodeQueuedCommandsMax { get; init; } = 262_144;

    /// <summary>Commands in one partition batch (one grain call, one journal record).</summary>
    public int BatchCommandsMax { get; init; } = 8_192;

    /// <summary>Batches of one partition applied but not yet durable.</summary>
    public int BatchesInFlightMax { get; init; } = 4;
}

/// <summary>Where the partitions' journals and the control data live.</summary>
public sealed record StorageOptions
{
    /// <summary>Journal segment size per partition, in bytes (each partition keeps one spare preallocated).</summary>
    public long SegmentBytesMax { get; init; } = 16L * 1024 * 1024;

    /// <summary>Journal bytes per partition after which a snapshot is written (bounds recovery time).</summary>
    public long SnapshotEveryBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>One group commit for all of the node's local partition journals on a device (a
    /// <see cref="Journal.GroupCommitter"/> per device: one thread, one device flush per round) instead of a writer
    /// thread and an fdatasync per partition.</summary>
    public bool SharedCommit { get; init; } = true;

    /// <summary>Keep the read model — a seller's orders with filters, a buyer's history, CSV export, sales per SKU per
    /// day and the forecasts' demand — projected from the partitions' journals: in a SQLite file,
    /// <c>read-model/orders.db</c> of the data directory, or where <see cref="SharedReadModel"/> says. In cluster mode
    /// only with a shared one (without it the listings scan the partitions and the read-model routes answer 503).</summary>
    public bool ReadModel { get; init; } = true;

    /// <summary>A read model shared by the silos of a cluster (PostgreSQL, `serve --journal-postgres`), each projecting
    /// the partitions it hosts, with the projectors' checkpoints beside it so that they follow a partition that moves;
    /// null = the data directory's SQLite file (one node).</summary>
    public SharedReadModel? SharedReadModel { get; init; }

    /// <summary>Replaces the journal storage of a partition (tests inject slow or failing disks); null = a directory.</summary>
    public Func<int, Journal.IJournalStorage>? StorageFactory { get; init; }

    /// <summary>Opens partition i's journal somewhere else than a segment journal in the data directory (e.g. the
    /// PostgreSQL journal, `serve --journal-postgres`); null = the local segment journal.</summary>
    public Func<int, Journal.IJournal>? JournalFactory { get; init; }

    /// <summary>Where each partition's downstream keeps its stores and checkpoints, if not in directories under
    /// <c>flow/</c> of the data directory (in a cluster: the shared database, so that they follow the partition).</summary>
    public Flow.IFlowJournals? FlowJournals { get; init; }

    /// <summary>Opens a control log shared with other silos (sellers, keys, warehouses, subscriptions; e.g. in
    /// PostgreSQL with `--journal-postgres`); null = control.jsonl in the data directory.</summary>
    public Func<Journal.IControlLog>? ControlLogFactory { get; init; }
}

/// <summary>How orders hold stock and how repeated requests are recognised.</summary>
public sealed record OrderOptions
{
    /// <summary>How long an unpaid order holds its stock.</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How often each partition checks for unpaid holds past their expiry.</summary>
    public TimeSpan ExpiryCheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an Idempotency-Key's answer is kept: in this silo's memory (the full answer) and, for order
    /// placements and stock receipts, in the partition with the command (durable; at most
    /// <see cref="Limits.IdempotencyKeysMax"/> keys per partition).</summary>
    public TimeSpan IdempotencyRetention { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Idempotency records kept in this silo's memory; the oldest go first beyond it.</summary>
    public int IdempotencyEntriesMax { get; init; } = 1_000_000;

    /// <summary>How long a seller order stays in its partition after it became final (delivered, cancelled, returned);
    /// then it retires from the engine and is read from the read model. 30 days by default: a delivered order can still
    /// be returned (delivered → returned) within the return window most marketplaces give, 30 days, and late carrier
    /// events and payment disputes fall within it; past it an order only needs to be read. Only with the read model
    /// (<see cref="StorageOptions.ReadModel"/>, one node): without it orders are kept for ever. At least
    /// <see cref="RetentionMin"/>.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>The shortest retention: far above the request deadline, so no order id waits longer between being
    /// handed out and being placed than a retired order of its block has been final (what keeps duplicate detection
    /// of retired ids exact).</summary>
    public static readonly TimeSpan RetentionMin = TimeSpan.FromHours(1);
}

/// <summary>The downstream stages.</summary>
public sealed record FlowOptions
{
    /// <summary>Fulfillment rules: shipping classes, service levels and carriers (<c>serve --fulfillment FILE</c>).
    /// The defaults plan shipments but know no carrier.</summary>
    public Flow.FulfillmentRules Rules { get; init; } = new();

    /// <summary>Start the downstream stages with the server; false leaves them stopped until
    /// <see cref="SurgeServer.StartFlow"/> (the flow benchmark builds a backlog first).</summary>
    public bool Start { get; init; } = true;

    /// <summary>The SMTP server for e-mail subscriptions (<c>serve --smtp HOST:PORT --smtp-from ADDRESS</c>); null: e-mail
    /// subscriptions are refused.</summary>
    public Flow.SmtpOptions? Smtp { get; init; }

    /// <summary>Delivery of shipments to carriers: manifest size, retries, breaker.</summary>
    public Flow.DispatchOptions Dispatch { get; init; } = new();

    /// <summary>Hosts webhooks and carriers may be at although they resolve to a loopback, private or link-local address
    /// (exact host names or IP literals; <c>serve --allow-outbound-host</c>). Every other host must resolve to public
    /// addresses only, when a URL is given and again at each connection.</summary>
    public IReadOnlyList<string> OutboundAllowedHosts { get; init; } = [];
}

/// <summary>Category suggestions for SKUs created without a category.</summary>
public sealed record CategoryOptions
{
    /// <summary>The product-category model (ML.NET zip). Loaded at start if it exists; else trained from
    /// <see cref="TrainingFile"/> in the background and saved here. Null: no category suggestions.</summary>
    public string? ModelFile { get; init; }

    /// <summary>PriceRunner-format CSV (title, category) to train the category model from when its file is missing.</summary>
    public string? TrainingFile { get; init; }

    /// <summary>A suggestion whose probability is below this is flagged for review (0..1).</summary>
    public float ReviewBelow { get; init; } = 0.9f;

    /// <summary>Replaces loading the category model (tests).</summary>
    public Func<Task<Classification.CategoryClassifier>>? ModelLoader { get; init; }

    /// <summary>Where a cluster keeps its one category model (<see cref="CategoryModels.SharedName"/> in this storage;
    /// PostgreSQL in cluster mode): a silo loads it from there, and only a silo that finds none trains it and stores
    /// it there for the others. Null: the model file alone.</summary>
    public Journal.IJournalStorage? SharedModel { get; init; }
}

/// <summary>
/// How a silo joins a cluster: Orleans membership kept in Redis (<see cref="Redis"/>, a StackExchange.Redis
/// configuration string such as "127.0.0.1:6379"), this silo's ports, and failure detection tighter than
/// Orleans' defaults so a dead silo's partitions move within seconds. The partitions' journals must be
/// shared too (<see cref="ServerOptions.JournalFactory"/>, e.g. PostgreSQL), so any silo can recover them.
/// </summary>
public sealed record ClusterMode(string Redis)
{
    /// <summary>Silos with the same id form one cluster.</summary>
    public string ClusterId { get; init; } = "surge";

    /// <summary>Silo-to-silo port (0 = a free one).</summary>
    public int SiloPort { get; init; }

    /// <summary>Client gateway port (0 = a free one).</summary>
    public int GatewayPort { get; init; }

    /// <summary>The address other silos reach this one at (null = the HTTP host address). Needed when the host is
    /// 0.0.0.0, e.g. the pod IP in Kubernetes (`serve --cluster-advertise`).</summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>How long a probe of another silo may take before it counts as missed.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Missed probes in a row after which a silo suspects another.</summary>
    public int MissedProbesLimit { get; init; } = 2;

    /// <summary>Suspicions needed to declare a silo dead (1 suits clusters of a few silos).</summary>
    public int VotesForDeath { get; init; } = 1;

    /// <summary>How often each silo re-reads the membership table.</summary>
    public TimeSpan TableRefresh { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a partition checks that it lives on the silo <see cref="Autoscale.PartitionAssignment"/> gives it
    /// (and moves there when not).</summary>
    public TimeSpan PlacementCheck { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a partition stays where it was activated before it may move again (a silo that has just
    /// joined, or a membership view still settling, does not make partitions move back and forth).</summary>
    public TimeSpan PlacementResidenceMin { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>Where a cluster's read model lives: how a silo opens its store, and each partition's projector checkpoints.</summary>
public sealed record SharedReadModel(Func<ReadModel.ReadModelStore> OpenStore, Func<int, Journal.IJournalStorage> Checkpoints);
