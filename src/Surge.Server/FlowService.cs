using System.Globalization;
using Microsoft.Extensions.Logging;
using Surge.Core;
using Surge.Flow;
using Surge.Journal;

namespace Surge.Server;

/// <summary>
/// The downstream stages of this node: one <see cref="FulfillmentStage"/> per partition, created the moment the
/// partition is recovered (so compaction keeps what the stage still needs), started once the node serves, and
/// stopped before the gateway and journals close; the carrier dispatcher and the subscriber notifier. Stage data
/// lives under <c>flow/</c> in the data directory: follower checkpoints per partition, the shipment store and the
/// notification outbox.
/// </summary>
public sealed class FlowService : IAsyncDisposable
{
    /// <summary>Status updates sent to a partition in one group.</summary>
    private const int MarkGroupCommandsMax = 1_024;

    private readonly ServerOptions _options;
    private readonly FulfillmentPlanner _planner;
    private readonly FulfillmentStage?[] _stages;
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];
    private readonly SemaphoreSlim _cpuGate = new(1);
    private readonly HttpClient _http;
    private Gateway? _gateway;
    private bool _disposed;

    public FlowService(ServerOptions options)
    {
        _options = options;
        _planner = new FulfillmentPlanner(options.Flow.Rules);
        _stages = new FulfillmentStage?[options.Partitions];
        Store = ShipmentStore.Open(new DirectoryStorage(Path.Combine(options.DataDirectory, "flow", "shipments")),
            new JournalOptions { SegmentBytesMax = options.Storage.SegmentBytesMax });
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
        Dispatcher = new CarrierDispatcher(options.Flow.Rules, Store, _http, OnDispatchedAsync, options.Flow.Dispatch, options.Clock);
        Outbox = NotificationOutbox.Open(new DirectoryStorage(Path.Combine(options.DataDirectory, "flow", "notifications")),
            new JournalOptions { SegmentBytesMax = options.Storage.SegmentBytesMax });
        Notifier = new NotificationDispatcher(Outbox, _http, Target, options.Flow.Smtp is { } smtp ? new SmtpEmailSender(smtp) : null,
            options.Flow.Dispatch, options.Clock);
    }

    /// <summary>Subscriber webhooks (merchants, storefronts): queued durably, then sent by <see cref="Notifier"/>.</summary>
    public NotificationOutbox Outbox { get; }

    public NotificationDispatcher Notifier { get; }

    private NotificationTarget? Target(long subscription) =>
        Subscriptions().FirstOrDefault(s => s.Id == subscription) is { } s && WebhookSecret.TryParse(s.Secret, out var key)
            ? new NotificationTarget(s.Url, key, s.Email, s.Language)
            : null;

    /// <summary>The subscriptions, from the control store (set by the server before the stages start).</summary>
    public Func<IReadOnlyList<Subscription>> Subscriptions { get; set; } = () => [];

    /// <summary>Queues a notification for every subscription that wants this fact's event type and may see its
    /// seller. Ids: <c>ntf_{seller order}_{status}_{subscription}</c>, the same when the fact is seen again.</summary>
    private async Task KeepFactsAsync(IReadOnlyList<OrderFact> facts, CancellationToken cancellationToken)
    {
        var subscriptions = Subscriptions();
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

    public CarrierDispatcher Dispatcher { get; }

    /// <summary>Webhook ids seen on <c>POST /v1/carriers/{id}/events</c> (replays are refused).</summary>
    public ReplayGuard Replays { get; } = new();

    public ShipmentStore Store { get; }

    public ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public FulfillmentRules Rules => _planner.Rules;

    /// <summary>The stages, by partition (null for a partition not opened yet).</summary>
    public IReadOnlyList<FulfillmentStage?> Stages => _stages;

    /// <summary>Called by <see cref="PartitionHost"/> right after a partition recovered.</summary>
    internal void OnPartitionOpened(int partition, DurablePartition opened)
    {
        var checkpoints = new DirectoryStorage(Path.Combine(_options.DataDirectory, "flow", "fulfillment", partition.ToString("D4")));
        FulfillmentStage.SeedIfMissing(checkpoints, opened.Journal, out var seeded);
        if (seeded is { } from)
        {
            Log.LogWarning("partition {Partition}: no fulfillment checkpoint and its journal starts after record 1; fulfillment starts at record {Sequence} (orders paid before it are not planned)",
                partition, from + 1);
        }
        _stages[partition] = new FulfillmentStage(partition, opened.Journal, checkpoints, _planner, Store, Dispatcher.IsHealthy,
            (orders, token) => AdvanceAsync(partition, orders.Select(o => (o, OrderStatus.Allocated)).ToList(), token),
            new StageOptions { IsTransient = IsTransient, CpuGate = _cpuGate }, _options.Clock)
        {
            ShipmentsStored = shipments =>
            {
                Dispatcher.Enqueue(shipments);
                NotifyOrders(shipments.Select(s => s.Plan.OrderId));
            },
            FactsObserved = (_, facts) => NotifyOrders(facts.Select(f => f.OrderId)),
            FactsToKeep = KeepFactsAsync,
        };
    }

    /// <summary>Live streams watching orders (the buyer's tracking page).</summary>
    public OrderWatchers Watchers { get; } = new();

    private void NotifyOrders(IEnumerable<long> sellerOrders)
    {
        if (Watchers.Count == 0)
        {
            return;
        }
        foreach (var order in sellerOrders)
        {
            Watchers.Notify(Ids.ParentOf(order));
        }
    }

    private static bool IsTransient(Exception e) => e is AdmissionException or JournalBackpressureException or TimeoutException;

    /// <summary>Starts every stage's loop (after recovery, when the gateway exists).</summary>
    internal void Start(Gateway gateway)
    {
        if (_gateway is not null)
        {
            return;
        }
        _gateway = gateway;
        Notifier.Start();
        _loops = _stages.OfType<FulfillmentStage>().Select(stage => Task.Run(() => RunAsync(stage))).ToArray();
        Dispatcher.Start();
    }

    private async Task RunAsync(FulfillmentStage stage)
    {
        try
        {
            await stage.RunAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.LogError(e, "fulfillment stage of partition {Partition} stopped at record {Sequence}; it resumes there at the next start",
                stage.Partition, stage.Position);
        }
    }

    /// <summary>Sends status updates to one partition in groups. Refusals by the engine are fine (a step back, or
    /// an order cancelled by its seller after payment); refusals by admission control are retried by the caller.</summary>
    private async Task AdvanceAsync(int partition, IReadOnlyList<(long Order, OrderStatus Status)> updates, CancellationToken cancellationToken)
    {
        var gateway = _gateway ?? throw new InvalidOperationException("the flow service has not started");
        for (var start = 0; start < updates.Count; start += MarkGroupCommandsMax)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var group = updates.Skip(start).Take(MarkGroupCommandsMax).ToList();
            await gateway.SubmitGroup(partition, group.Count, w =>
            {
                foreach (var (order, status) in group)
                {
                    w.AdvanceStatus(order, status);
                }
            }).ConfigureAwait(false);
        }
    }

    /// <summary>Moves the seller orders of these shipments along (dispatched, in transit, delivered…) as far as
    /// all their shipments allow, retrying while the partitions are overloaded.</summary>
    private async Task ProgressAsync(IEnumerable<long> sellerOrders, CancellationToken cancellationToken)
    {
        if (_gateway is null)
        {
            return; // the stages have not started (ServerOptions.StartFlow = false), so no shipment exists to move an order
        }
        var byPartition = new Dictionary<int, List<(long, OrderStatus)>>();
        foreach (var order in sellerOrders.Distinct())
        {
            var shipments = Store.ForOrder(order);
            if (shipments.Count == 0 || OrderProgress.Target(shipments) is not { } target)
            {
                continue;
            }
            var partition = _gateway!.PartitionOf(shipments[0].Plan.SellerId);
            if (!byPartition.TryGetValue(partition, out var list))
            {
                byPartition[partition] = list = [];
            }
            list.AddRange(OrderProgress.Steps(target).Select(step => (order, step)));
        }
        foreach (var (partition, updates) in byPartition)
        {
            while (true)
            {
                try
                {
                    await AdvanceAsync(partition, updates, cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (IsTransient(e))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _options.Clock, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private Task OnDispatchedAsync(IReadOnlyList<ShipmentState> shipments, CancellationToken cancellationToken)
    {
        NotifyOrders(shipments.Select(s => s.Plan.OrderId));
        return ProgressAsync(shipments.Select(s => s.Plan.OrderId), cancellationToken);
    }

    /// <summary>Stores a carrier's tracking events (new ones only) and moves their orders along. Returns how many
    /// were new.</summary>
    public async Task<int> RecordTrackingAsync(IReadOnlyList<TrackingUpdate> updates, CancellationToken cancellationToken)
    {
        var fresh = await Store.AppendTrackingAsync(updates).ConfigureAwait(false);
        NotifyOrders(fresh.Select(u => Store.Find(u.ShipmentId)!.Plan.OrderId));
        await ProgressAsync(fresh.Select(u => Store.Find(u.ShipmentId)!.Plan.OrderId), cancellationToken).ConfigureAwait(false);
        return fresh.Count;
    }

    /// <summary>Lag of every started stage.</summary>
    public IEnumerable<(int Partition, StageLag Lag, long Position)> Lags() =>
        _stages.OfType<FulfillmentStage>().Select(s => (s.Partition, s.Lag, s.Position));

    /// <summary>Stops the loops (each saves its checkpoint). Call before the gateway and the journals close.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _loops = [];
        await Dispatcher.DisposeAsync().ConfigureAwait(false);
        await Notifier.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await StopAsync().ConfigureAwait(false);
        foreach (var stage in _stages)
        {
            stage?.Dispose();
        }
        await Store.DisposeAsync().ConfigureAwait(false);
        await Outbox.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
        _cpuGate.Dispose();
        _stop.Dispose();
    }
}
