using System.Globalization;
using Microsoft.Extensions.Logging;
using Surge.Flow;
using Surge.Journal;

namespace Surge.Application;

/// <summary>
/// The downstream of one partition, living where the partition lives: its fulfillment stage, its shipment store and
/// carrier dispatcher, its notification outbox and notifier. It opens when the partition is recovered on this node
/// (from the partition's <see cref="IFlowJournals"/>: the data directory, or the shared database in a cluster) and
/// closes before the partition's journal does — so when a partition moves to another silo, its downstream moves with
/// it and resumes there from its checkpoint, sending what was pending under the same shipment and notification ids.
/// A carrier's rate limit is shared out over the partitions (each unit paces at its share), so the carrier sees at
/// most its limit from the whole system wherever the units run.
/// </summary>
public sealed class PartitionFlow : IStageEffects, IAsyncDisposable
{
    private readonly Downstream _owner;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private readonly List<Task> _background = []; // status progress moved off the caller's path; guarded by itself
    private List<long> _mayLag = [];
    private bool _started;
    private bool _disposed;
    private int _disposing; // 1 once DisposeAsync has begun (it may be called by the host and by a reopen at once)

    private PartitionFlow(Downstream owner, int partition, ShipmentStore store, NotificationOutbox outbox)
    {
        _owner = owner;
        Partition = partition;
        Store = store;
        Outbox = outbox;
        var options = owner.Options;
        var share = options.Rules with
        {
            Carriers = [.. options.Rules.Carriers.Select(c => c with { RateLimitPerSecond = Math.Max(1, c.RateLimitPerSecond / options.Partitions) })],
        };
        Dispatcher = new CarrierDispatcher(share, store, owner.Http, OnDispatchedAsync, options.Dispatch, options.Clock);
        Notifier = new NotificationDispatcher(outbox, owner.Http, owner.Target, owner.Email, options.Dispatch, options.Clock);
    }

    /// <summary>Opens the unit of <paramref name="partition"/> (whose journal is <paramref name="journal"/>): takes over
    /// and replays its stores, and opens its stage's reader at its checkpoint (the caller holds those records meanwhile:
    /// <see cref="FulfillmentStage.HoldFromCheckpoint"/>). Runs beside the partition, which already takes commands.</summary>
    internal static PartitionFlow Open(Downstream owner, int partition, IJournal journal)
    {
        var journals = owner.Journals;
        ShipmentStore? store = null;
        NotificationOutbox? outbox = null;
        try
        {
            store = ShipmentStore.Open(journals.OpenStore(partition, "shipments"), owner.Options.Dispatch.ManifestShipmentsMax);
            outbox = NotificationOutbox.Open(journals.OpenStore(partition, "notifications"));
            var unit = new PartitionFlow(owner, partition, store, outbox);
            unit.Stage = new FulfillmentStage(partition, journal, journals.Checkpoints(partition), owner.Planner, store, unit,
                new StageOptions { IsTransient = Downstream.IsTransient, CpuGate = owner.CpuGate }, owner.Options.Clock);
            unit._mayLag = MayLag(store);
            return unit;
        }
        catch
        {
            store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            outbox?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    public int Partition { get; }

    public FulfillmentStage Stage { get; private set; } = null!;

    public ShipmentStore Store { get; }

    public CarrierDispatcher Dispatcher { get; }

    public NotificationOutbox Outbox { get; }

    public NotificationDispatcher Notifier { get; }

    /// <summary>Starts the stage's loop, the carrier lanes and the notifier (each queues what its store has pending).</summary>
    internal void Start()
    {
        if (_started || _disposed)
        {
            return;
        }
        _started = true;
        Notifier.Start();
        Dispatcher.Start();
        _loop = Task.Run(RunAsync);
        if (_mayLag.Count > 0)
        {
            InBackground(CatchUpAsync(_mayLag, _stop.Token));
            _mayLag = [];
        }
    }

    /// <summary>Seller orders whose shipments went further than the partition's status may show: a unit that stopped
    /// between recording a dispatch or a tracking event and moving the order (a move, a crash) leaves them so. Taken
    /// at open, before anything else uses the store.</summary>
    private static List<long> MayLag(ShipmentStore store) =>
        [.. store.Where(s => s.Delivery == DeliveryState.Dispatched || s.Tracking.Count > 0).Select(s => s.Plan.OrderId).Distinct()];

    /// <summary>Moves along the orders of <paramref name="candidates"/> whose status is behind their shipments (read from
    /// the partition in groups; cancelled ones are left alone).</summary>
    private async Task CatchUpAsync(List<long> candidates, CancellationToken cancellationToken)
    {
        var partitions = _owner.Partitions!;
        var lagging = new List<long>();
        foreach (var group in candidates.Chunk(CatchUpReadOrdersMax))
        {
            SellerOrderState[] states;
            while (true)
            {
                try
                {
                    states = await partitions.GetOrders(Partition, group).WaitAsync(cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (Downstream.IsTransient(e))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _owner.Options.Clock, cancellationToken).ConfigureAwait(false);
                }
            }
            lagging.AddRange(states.Where(o => o.Status != Core.OrderStatus.Cancelled
                    && OrderProgress.Target(Store.ForOrder(o.Id)) is { } target && Core.StatusTransitions.Rank(o.Status) < Core.StatusTransitions.Rank(target))
                .Select(o => o.Id));
        }
        await ProgressAsync(lagging, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Seller orders read from the partition in one call when catching up.</summary>
    private const int CatchUpReadOrdersMax = 1_000;

    /// <summary>Runs work the unit owns until it stops (cancelled then; what it did not finish, the next unit's
    /// <see cref="MayLag"/> and <see cref="CatchUpAsync"/> find).</summary>
    private void InBackground(Task work)
    {
        lock (_background)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(work.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        }
    }

    private async Task RunAsync()
    {
        try
        {
            await Stage.RunAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopping: the notifier or a store was closed under a step in progress; the next unit repeats that step.
        }
        catch (Exception e)
        {
            // The step that failed is not checkpointed: a unit opened again from the checkpoint repeats it (same ids).
            _owner.Log.LogError(e, "fulfillment stage of partition {Partition} stopped at record {Sequence}; its unit opens again from its checkpoint",
                Partition, Stage.Position);
            _owner.Reopen(Partition, this);
        }
    }

    public bool IsCarrierHealthy(string carrierId) => Dispatcher.IsHealthy(carrierId);

    public void ShipmentsStored(IReadOnlyList<ShipmentState> shipments)
    {
        Dispatcher.Enqueue(shipments);
        _owner.NotifyOrders(shipments.Select(s => s.Plan.OrderId));
    }

    public Task MarkAllocatedAsync(int partition, IReadOnlyList<long> sellerOrders, CancellationToken cancellationToken) =>
        _owner.AdvanceAsync(partition, [.. sellerOrders.Select(o => (o, Core.OrderStatus.Allocated))], cancellationToken);

    /// <summary>Queues a notification for every subscription that wants this fact's event type and may see its
    /// seller. Ids: <c>ntf_{seller order}_{status}_{subscription}</c>, the same when the fact is seen again (after a
    /// restart or on the silo the partition moved to).</summary>
    public async Task KeepFactsAsync(IReadOnlyList<OrderFact> facts, CancellationToken cancellationToken)
    {
        var subscriptions = await _owner.Subscribers.SubscriptionsAsOfAsync(facts.Max(f => f.AtMs)).ConfigureAwait(false);
        if (subscriptions.Count == 0)
        {
            return;
        }
        var notifications = new List<Notification>();
        foreach (var fact in facts)
        {
            var type = OrderEventTypes.Of(fact);
            foreach (var subscription in subscriptions)
            {
                if (subscription.Sees(fact.SellerId) && subscription.EventTypes.Contains(type))
                {
                    var id = string.Create(CultureInfo.InvariantCulture, $"ntf_{fact.OrderId}_{type}_{subscription.Id}");
                    notifications.Add(new Notification(id, subscription.Id, type, fact.OrderId, fact.AtMs,
                        OrderEventTypes.Body(fact, id, Ids.Order(Ids.ParentOf(fact.OrderId)), Ids.SellerOrder(fact.OrderId), Ids.Seller(fact.SellerId))));
                }
            }
        }
        if (notifications.Count > 0)
        {
            Notifier.Enqueue(await Outbox.QueueAsync(notifications).ConfigureAwait(false));
        }
    }

    public void FactsObserved(int partition, IReadOnlyList<OrderFact> facts) => _owner.NotifyOrders(facts.Select(f => f.OrderId));

    private Task OnDispatchedAsync(IReadOnlyList<ShipmentState> shipments, CancellationToken cancellationToken)
    {
        _owner.NotifyOrders(shipments.Select(s => s.Plan.OrderId));
        return ProgressAsync(shipments.Select(s => s.Plan.OrderId), cancellationToken);
    }

    /// <summary>Stores a carrier's tracking events for shipments of this partition (new ones only; events of shipments
    /// it does not have are ignored) and moves their orders along in the background (the caller may be the partition
    /// itself, which must not wait on a command to itself while it moves). Returns the new ones once they are durable.</summary>
    public async Task<IReadOnlyList<TrackingUpdate>> RecordTrackingAsync(IReadOnlyList<TrackingUpdate> updates)
    {
        var fresh = await Store.AppendTrackingAsync(updates).ConfigureAwait(false);
        var orders = fresh.Select(u => Store.Find(u.ShipmentId)!.Plan.OrderId).ToList();
        _owner.NotifyOrders(orders);
        InBackground(ProgressAsync(orders, _stop.Token));
        return fresh;
    }

    /// <summary>Moves these seller orders (all of this partition) along — dispatched, in transit, delivered… — as far as
    /// all their shipments allow, retrying while the partition is overloaded.</summary>
    private async Task ProgressAsync(IEnumerable<long> sellerOrders, CancellationToken cancellationToken)
    {
        var updates = new List<(long, Core.OrderStatus)>();
        foreach (var order in sellerOrders.Distinct())
        {
            if (Store.ForOrder(order) is { Count: > 0 } shipments && OrderProgress.Target(shipments) is { } target)
            {
                updates.AddRange(OrderProgress.Steps(target).Select(step => (order, step)));
            }
        }
        while (updates.Count > 0)
        {
            try
            {
                await _owner.AdvanceAsync(Partition, updates, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (Downstream.IsTransient(e))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), _owner.Options.Clock, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The shipments of these seller orders of the partition.</summary>
    public IReadOnlyList<ShipmentState> Shipments(IEnumerable<long> sellerOrders) => [.. sellerOrders.SelectMany(Store.ForOrder)];

    public IReadOnlyList<ShipmentState> DeadLetters(string carrierId) =>
        Store.Where(s => s.Delivery == DeliveryState.DeadLetter && s.Plan.CarrierId == carrierId);

    public PartitionFlowStatus Status()
    {
        var lag = Stage.Lag;
        return new PartitionFlowStatus(Partition, Stage.Position, lag.Records, lag.Seconds, Store.Orders, Store.Count, Dispatcher.Health());
    }

    /// <summary>Moves dead-lettered shipments of a carrier back to pending and sends them again.</summary>
    public Task<int> RedriveAsync(string carrierId, IReadOnlyCollection<string>? shipmentIds) => Dispatcher.RedriveAsync(carrierId, shipmentIds);

    /// <summary>Stops the loops (the stage saves its checkpoint if its last step finished). Everything is cancelled
    /// first, then awaited: work waiting on the partition (which may be closing and holding new commands) is abandoned
    /// rather than waited for. The unit can still be read until disposed.</summary>
    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }
        var dispatcher = Dispatcher.DisposeAsync().AsTask();
        var notifier = Notifier.DisposeAsync().AsTask();
        Task[] background;
        lock (_background)
        {
            background = [.. _background];
        }
        await Task.WhenAll([_loop, dispatcher, notifier, .. background]).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposing, 1) == 1)
        {
            return;
        }
        _disposed = true;
        await StopAsync().ConfigureAwait(false);
        Stage.Dispose();
        await Store.DisposeAsync().ConfigureAwait(false);
        await Outbox.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
