using Surge.Core;

namespace Surge.Server;

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
