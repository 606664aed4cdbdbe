using Surge.Core;

namespace Surge.Server;

/// <summary>The node's lifecycle: recovery before serving, readiness, following a control log other silos write, and
/// the drain (new requests refused, those in flight answered).</summary>
public sealed class NodeLifecycle(ServerOptions options, ControlStore control, Catalog catalog, Gateway gateway, OrderSaga orders,
    WarehouseSync warehouses) : IDisposable
{
    /// <summary>Cancelled when the server begins to stop (background loops of the shell end on it).</summary>
    public CancellationTokenSource Stopping { get; } = new();
    public bool Ready { get; private set; }
    public long OrdersAtStart { get; private set; }

    /// <summary>Keeps this silo current with a control log other silos write: every <paramref name="interval"/>
    /// re-reads it (new sellers, keys, subscriptions) and brings the partitions and the routing view up to its
    /// warehouses; in a cluster also finishes multi-seller orders that a silo's death left half done.</summary>
    internal async Task FollowControlAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, options.Clock);
        var sinceReconcile = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    control.Refresh();
                    if (control.WarehouseCount != catalog.Warehouses.Count)
                    {
                        await warehouses.SyncWarehousesAsync();
                    }
                    if ((sinceReconcile += interval) >= ReconcileInterval)
                    {
                        sinceReconcile = TimeSpan.Zero;
                        await orders.ReconcileAsync(olderThan: ReconcileGrace);
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
    public TimeSpan ReconcileGrace => options.Http.RequestDeadline * 4;

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
        var stats = await UntilAnsweredAsync(() => Task.WhenAll(Enumerable.Range(0, options.Partitions).Select(p => gateway.Grain(p).Stats())));
        await UntilAnsweredAsync(async () =>
        {
            await warehouses.SyncWarehousesAsync();
            return 0;
        });
        long lastSequence = 0;
        for (var p = 0; p < options.Partitions; p++)
        {
            var partition = p;
            var partitionCatalog = await UntilAnsweredAsync(() => gateway.Grain(partition).ReadCatalog());
            foreach (var sku in partitionCatalog.Skus)
            {
                catalog.AddSku(sku.SellerId, sku.Code, sku.Ref);
            }
            lastSequence = Math.Max(lastSequence, stats[p].LastParentSequence);
        }
        orders.ResumeSequence(lastSequence);
        // Alone, nothing is in progress before serving; in a cluster other silos may be placing orders right now.
        var reconciled = await UntilAnsweredAsync(() => orders.ReconcileAsync(olderThan: options.Cluster is null ? TimeSpan.Zero : ReconcileGrace));
        OrdersAtStart = stats.Sum(s => (long)s.Orders);
        Ready = true;
        return new RecoverySummary(stats.Sum(s => s.RecoveredRecords), OrdersAtStart, reconciled, started.Elapsed);
    }

    /// <summary>Longest a starting silo keeps asking partitions that do not answer (one moving, one whose silo just
    /// died) before it gives up starting.</summary>
    public static readonly TimeSpan RecoveryRetryMax = TimeSpan.FromMinutes(3);

    /// <summary>Runs a recovery step again while partitions are unavailable (a cluster in motion), up to
    /// <see cref="RecoveryRetryMax"/>.</summary>
    private async Task<T> UntilAnsweredAsync<T>(Func<Task<T>> step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await step();
            }
            // A damaged or incomplete journal stays so: asking again cannot help, the start fails at once.
            catch (Exception e) when (Problems.IsUnavailable(e) && e is not (Journal.JournalCorruptException or Journal.JournalGapException)
                && clock.Elapsed < RecoveryRetryMax)
            {
                FollowFailed?.Invoke(e);
                await Task.Delay(TimeSpan.FromSeconds(1), options.Clock);
            }
        }
    }

    public void Dispose() => Stopping.Dispose();
}
