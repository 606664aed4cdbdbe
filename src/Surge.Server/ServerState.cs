using Surge.Core;

namespace Surge.Server;

/// <summary>
/// The node's services, built once in dependency order by <see cref="SurgeServer.StartAsync"/> (the composition root)
/// and handed to the HTTP endpoints, the dashboard and the metrics. Holds services only: the node's lifecycle is
/// <see cref="NodeLifecycle"/>, the warehouses' synchronisation <see cref="WarehouseSync"/>.
/// </summary>
public sealed class ServerState : IDisposable
{
    public ServerState(ServerOptions options, ControlStore control, TrackingTokens tokens, Catalog catalog, Gateway gateway, Downstream flow,
        CategorySuggestions categories, ReadModel.ReadModelProjection? readModel)
    {
        ReadModel = readModel;
        ReadModelReads = readModel is null ? null : new ReadModelRouting(readModel, gateway);
        Options = options;
        Control = control;
        Tokens = tokens;
        Catalog = catalog;
        Gateway = gateway;
        Flow = flow;
        Categories = categories;
        Orders = new OrderSaga(gateway, catalog, options.Saga)
        {
            LeaseBlock = control.Shared ? control.LeaseSequenceBlock : null,
            Archive = readModel is null ? null : new ReadModelArchive(readModel.Store, catalog),
        };
        FlowQueries = new DownstreamQueries(new FlowRouting(gateway, flow), gateway, Orders);
        Forecasts = new SellerForecasts(ReadModelReads is null ? gateway : new ReadModelDemand(ReadModelReads, gateway), options.Clock);
        Skus = new CatalogWrites(gateway, catalog, categories, options.Http.RequestDeadline, options.Clock);
        Idempotency = new IdempotencyStore(options);
        Capacity = options.Http.CapacityOrdersPerSecond > 0 ? new CapacityGate(options.Http.CapacityOrdersPerSecond, options.Http.CapacityBurst, options.Clock) : null;
        Warehouses = new WarehouseSync(options, control, catalog, gateway);
        Lifecycle = new NodeLifecycle(options, control, catalog, gateway, Orders, Warehouses);
        Readiness = new Readiness(Lifecycle, options.Dependencies);
        RateLimits = new KeyRateLimits(options.Http.RateLimits);
    }

    public ServerOptions Options { get; }
    public ControlStore Control { get; }
    public TrackingTokens Tokens { get; }
    public Catalog Catalog { get; }
    public Gateway Gateway { get; }
    public OrderSaga Orders { get; }
    public SellerForecasts Forecasts { get; }
    public CatalogWrites Skus { get; }
    /// <summary>This node's downstream: the units of the partitions it hosts.</summary>
    public Downstream Flow { get; }

    /// <summary>This node's projection into the read model (the partitions it hosts); null when it keeps none.</summary>
    public ReadModel.ReadModelProjection? ReadModel { get; }

    /// <summary>The read model as the API reads it (listings, histories, sales, demand, freshness of every partition);
    /// null when this node keeps none.</summary>
    public ReadModelRouting? ReadModelReads { get; }

    /// <summary>The downstream of every partition, wherever it runs (the API's view).</summary>
    public DownstreamQueries FlowQueries { get; }
    public CategorySuggestions Categories { get; }
    public IdempotencyStore Idempotency { get; }
    public ServerMetrics Metrics { get; } = new();

    /// <summary>Per-seller outcomes of the orders this node was sent (the dashboard's drill-down).</summary>
    public SellerTallies SellerTallies { get; } = new();

    /// <summary>This node's cap on orders per second; null = no cap.</summary>
    public CapacityGate? Capacity { get; }

    /// <summary>Readiness, recovery, the drain and the following of a shared control log.</summary>
    public NodeLifecycle Lifecycle { get; }

    /// <summary>Where webhooks and carrier manifests may go (checked when a webhook URL is given).</summary>
    public Flow.OutboundPolicy Outbound { get; init; } = new();

    /// <summary>Requests per second per API key; dashboard login attempts per client address.</summary>
    public KeyRateLimits RateLimits { get; }

    /// <summary>Whether this node should get traffic (<c>/readyz</c>).</summary>
    public Readiness Readiness { get; }

    /// <summary>The warehouses of the control log, brought into every partition and the routing catalog.</summary>
    public WarehouseSync Warehouses { get; }

    public void Dispose()
    {
        Lifecycle.Dispose();
        Warehouses.Dispose();
        Categories.Dispose();
        RateLimits.Dispose();
    }
}
