using System.Globalization;
using Microsoft.Extensions.Logging;
using Surge.Core;
using Surge.Flow;
using Surge.Journal;

namespace Surge.Application;

/// <summary>The downstream's settings: rules, delivery, e-mail, partitions and clock.</summary>
public sealed record DownstreamOptions
{
    public required int Partitions { get; init; }
    public FulfillmentRules Rules { get; init; } = new();
    public DispatchOptions Dispatch { get; init; } = new();
    public SmtpOptions? Smtp { get; init; }
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>Who subscribed to order events (the control data): a port the host implements.</summary>
public interface ISubscriberDirectory
{
    IReadOnlyList<Subscription> Subscriptions { get; }
}

/// <summary>
/// The downstream of this node, orchestrated: one <see cref="FulfillmentStage"/> per partition, created the moment
/// the partition is recovered (so compaction keeps what the stage still needs), started once the node serves, and
/// stopped before the partitions close; the carrier dispatcher and the subscriber notifier. It reaches the partitions
/// through <see cref="IPartitions"/> (status updates as journaled commands), the subscriptions through
/// <see cref="ISubscriberDirectory"/>, and keeps its state in <see cref="IFlowJournals"/> (follower checkpoints per
/// partition, the shipment store, the notification outbox). It is each stage's <see cref="IStageEffects"/>.
/// </summary>
public sealed class Downstream : IStageEffects, IAsyncDisposable
{
    /// <summary>Status updates sent to a partition in one group.</summary>
    private const int MarkGroupCommandsMax = 1_024;

    private readonly DownstreamOptions _options;
    private readonly IFlowJournals _journals;
    private readonly ISubscriberDirectory _subscribers;
    private readonly FulfillmentPlanner _planner;
    private readonly FulfillmentStage?[] _stages;
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];
    private readonly SemaphoreSlim _cpuGate = new(1);
    private readonly HttpClient _http;
    private IPartitions? _partitions;
    private bool _disposed;

    public Downstream(DownstreamOptions options, IFlowJournals journals, ISubscriberDirectory subscribers)
    {
        _options = options;
        _journals = journals;
        _subscribers = subscribers;
        _planner = new FulfillmentPlanner(options.Rules);
        _stages = new FulfillmentStage?[options.Partitions];
        Store = ShipmentStore.Open(journals.OpenStore("shipments"));
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
        Dispatcher = new CarrierDispatcher(options.Rules, Store, _http, OnDispatchedAsync, options.Dispatch, options.Clock);
        Outbox = NotificationOutbox.Open(journals.OpenStore("notifications"));
        Notifier = new NotificationDispatcher(Outbox, _http, Target, options.Smtp is { } smtp ? new SmtpEmailSender(smtp) : null,
            options.Dispatch, options.Clock);
    }

    /// <summary>Subscriber webhooks (merchants, storefronts): queued durably, then sent by <see cref="Notifier"/>.</summary>
    public NotificationOutbox Outbox { get; }

    public NotificationDispatcher Notifier { get; }

    private NotificationTarget? Target(long subscription) =>
        _subscribers.Subscriptions.FirstOrDefault(s => s.Id == subscription) is { } s && WebhookSecret.TryParse(s.Secret, out var key)
            ? new NotificationTarget(s.Url, key, s.Email, s.Language)
            : null;

    /// <summary>Queues a notification for every subscription that wants this fact's event type and may see its
    /// seller. Ids: <c>ntf_{seller order}_{status}_{subscription}</c>, the same when the fact is seen again.</summary>
    public async Task KeepFactsAsync(IReadOnlyList<OrderFact> facts, CancellationToken cancellationToken)
    {
        var subscriptions = _subscribers.Subscriptions;
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

    /// <summary>Called by the host right after a partition recovered.</summary>
    public void OnPartitionOpened(int partition, DurablePartition opened)
    {
        var checkpoints = _journals.Checkpoints(partition);
        FulfillmentStage.SeedIfMissing(checkpoints, opened.Journal, out var seeded);
        if (seeded is { } from)
        {
            Log.LogWarning("partition {Partition}: no fulfillment checkpoint and its journal starts after record 1; fulfillment starts at record {Sequence} (orders paid before it are not planned)",
                partition, from + 1);
        }
        _stages[partition] = new FulfillmentStage(partition, opened.Journal, checkpoints, _planner, Store, this,
            new StageOptions { IsTransient = IsTransient, CpuGate = _cpuGate }, _options.Clock);
    }

    public bool IsCarrierHealthy(string carrierId) => Dispatcher.IsHealthy(carrierId);

    public void ShipmentsStored(IReadOnlyList<ShipmentState> shipments)
    {
        Dispatcher.Enqueue(shipments);
        NotifyOrders(shipments.Select(s => s.Plan.OrderId));
    }

    public Task MarkAllocatedAsync(int partition, IReadOnlyList<long> sellerOrders, CancellationToken cancellationToken) =>
        AdvanceAsync(partition, [.. sellerOrders.Select(o => (o, OrderStatus.Allocated))], cancellationToken);

    public void FactsObserved(int partition, IReadOnlyList<OrderFact> facts) => NotifyOrders(facts.Select(f => f.OrderId));

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

    /// <summary>Starts every stage's loop (after recovery, once the partitions take commands).</summary>
    public void Start(IPartitions partitions)
    {
        if (_partitions is not null)
        {
            return;
        }
        _partitions = partitions;
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
    private async Task AdvanceAsync(int partition, List<(long Order, OrderStatus Status)> updates, CancellationToken cancellationToken)
    {
        var partitions = _partitions ?? throw new InvalidOperationException("the downstream has not started");
        for (var start = 0; start < updates.Count; start += MarkGroupCommandsMax)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var group = updates.Skip(start).Take(MarkGroupCommandsMax).ToList();
            await partitions.SubmitGroup(partition, group.Count, w =>
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
        if (_partitions is null)
        {
            return; // the stages have not started, so no shipment exists to move an order
        }
        var byPartition = new Dictionary<int, List<(long, OrderStatus)>>();
        foreach (var order in sellerOrders.Distinct())
        {
            var shipments = Store.ForOrder(order);
            if (shipments.Count == 0 || OrderProgress.Target(shipments) is not { } target)
            {
                continue;
            }
            var partition = _partitions.PartitionOf(shipments[0].Plan.SellerId);
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
