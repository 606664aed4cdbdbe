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

    /// <summary>Where webhooks and carrier manifests may go: public addresses, and the hosts the operator allows.</summary>
    public OutboundPolicy Outbound { get; init; } = new();
}

/// <summary>Who subscribed to order events (the control data): a port the host implements.</summary>
public interface ISubscriberDirectory
{
    IReadOnlyList<Subscription> Subscriptions { get; }

    /// <summary>The subscriptions, including every one created before <paramref name="atMs"/> (Unix ms) anywhere in
    /// the cluster: a fact of that time must reach a subscription created a moment before it on another silo.</summary>
    ValueTask<IReadOnlyList<Subscription>> SubscriptionsAsOfAsync(long atMs);
}

/// <summary>
/// The downstream of this node: one <see cref="PartitionFlow"/> per partition this node hosts, opened the moment the
/// partition is recovered here (so compaction keeps what its stage still needs), started once the node serves, and
/// stopped and closed before the partition's journal closes — at shutdown, or when the partition moves to another
/// silo, where it opens again from the same stores. It reaches the partitions through <see cref="IPartitions"/>
/// (status updates as journaled commands), the subscriptions through <see cref="ISubscriberDirectory"/>, and keeps each
/// partition's state in <see cref="IFlowJournals"/> (the stage's checkpoints, the shipment store, the notification
/// outbox).
/// </summary>
public sealed class Downstream : IAsyncDisposable
{
    /// <summary>Status updates sent to a partition in one group.</summary>
    private const int MarkGroupCommandsMax = 1_024;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Slot> _units = new();
    private readonly Lock _lifecycle = new();
    private IPartitions? _partitions;

    internal IPartitions? Partitions => _partitions;
    private bool _disposed;

    public Downstream(DownstreamOptions options, IFlowJournals journals, ISubscriberDirectory subscribers)
    {
        Options = options;
        Journals = journals;
        Subscribers = subscribers;
        Planner = new FulfillmentPlanner(options.Rules);
        Http = new HttpClient(options.Outbound.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        Email = options.Smtp is { } smtp ? new SmtpEmailSender(smtp) : null;
    }

    internal DownstreamOptions Options { get; }

    internal IFlowJournals Journals { get; }

    internal ISubscriberDirectory Subscribers { get; }

    internal FulfillmentPlanner Planner { get; }

    internal HttpClient Http { get; }

    internal IEmailSender? Email { get; }

    /// <summary>All stages of the node take turns for their CPU part (see <see cref="StageOptions.CpuGate"/>).</summary>
    internal SemaphoreSlim CpuGate { get; } = new(1);

    internal NotificationTarget? Target(long subscription) =>
        Subscribers.Subscriptions.FirstOrDefault(s => s.Id == subscription) is { } s && WebhookSecret.TryParse(s.Secret, out var key)
            ? new NotificationTarget(s.Url, key, s.Email, s.Language)
            : null;

    /// <summary>Webhook ids seen on <c>POST /v1/carriers/{id}/events</c> by this node (replays are refused).</summary>
    public ReplayGuard Replays { get; } = new();

    public ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public FulfillmentRules Rules => Planner.Rules;

    /// <summary>The units of the partitions this node hosts now (those still opening are left out).</summary>
    public IEnumerable<PartitionFlow> Units =>
        _units.Values.Select(s => s.Ready).Where(t => t.IsCompletedSuccessfully && t.Result is not null).Select(t => t.Result!).OrderBy(u => u.Partition);

    /// <summary>The unit of a partition if this node hosts it now and it has opened.</summary>
    public PartitionFlow? Unit(int partition) =>
        _units.TryGetValue(partition, out var slot) && slot.Ready.IsCompletedSuccessfully ? slot.Ready.Result : null;

    /// <summary>The unit of a partition hosted here, once it has opened; null when this node does not host it (or it
    /// closed before it opened).</summary>
    public Task<PartitionFlow?> UnitAsync(int partition) =>
        _units.TryGetValue(partition, out var slot) ? slot.Ready : Task.FromResult<PartitionFlow?>(null);

    /// <summary>A unit being opened or open: <see cref="Ready"/> completes with it (or null if the partition closed first).</summary>
    private sealed class Slot(DurablePartition opened)
    {
        public DurablePartition Opened { get; } = opened;

        public CancellationTokenSource Closing { get; } = new();

        public Task<PartitionFlow?> Ready { get; set; } = null!;
    }

    /// <summary>Called by the host right after a partition recovered here, inside its activation: holds the journal
    /// records the unit's stage still needs (a reader at the oldest checkpoint, so compaction keeps them), and opens the
    /// unit in the background — taking over its stores, replaying them and loading the stage's checkpoint take longer
    /// than the partition's own recovery, and orders do not wait for them. Until it has opened, calls on the unit wait
    /// (<see cref="UnitAsync"/>); an open that fails is retried until the partition closes here.</summary>
    public void OnPartitionOpened(int partition, DurablePartition opened)
    {
        var checkpoints = Journals.Checkpoints(partition);
        FulfillmentStage.SeedIfMissing(checkpoints, opened.Journal, out var seeded);
        if (seeded is { } from)
        {
            Log.LogWarning("partition {Partition}: no fulfillment checkpoint and its journal starts after record 1; fulfillment starts at record {Sequence} (orders paid before it are not planned)",
                partition, from + 1);
        }
        var hold = FulfillmentStage.HoldFromCheckpoint(checkpoints, opened.Journal);
        var slot = new Slot(opened);
        lock (_lifecycle)
        {
            if (_disposed || !_units.TryAdd(partition, slot))
            {
                hold.Dispose();
                throw new InvalidOperationException($"partition {partition}'s downstream is open here already");
            }
            slot.Ready = Task.Run(() => OpenAsync(partition, opened, hold, slot.Closing.Token)); // off the activation's scheduler
        }
    }

    private async Task<PartitionFlow?> OpenAsync(int partition, DurablePartition opened, IJournalReader hold, CancellationToken closing)
    {
        var retry = UnitOpenRetryFirst;
        using (hold)
        {
            while (!closing.IsCancellationRequested)
            {
                PartitionFlow unit;
                try
                {
                    unit = PartitionFlow.Open(this, partition, opened.Journal);
                }
                catch (Exception e) when (!closing.IsCancellationRequested)
                {
                    Log.LogWarning(e, "partition {Partition}: its downstream did not open; retrying in {Delay}", partition, retry);
                    try
                    {
                        await Task.Delay(retry, Options.Clock, closing).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                    retry = NextRetry(retry);
                    continue;
                }
                lock (_lifecycle)
                {
                    if (!closing.IsCancellationRequested)
                    {
                        if (_partitions is not null)
                        {
                            unit.Start();
                        }
                        return unit;
                    }
                }
                await unit.DisposeAsync().ConfigureAwait(false);
            }
        }
        return null;
    }

    /// <summary>Called by a unit whose stage stopped on an error that retrying the effect did not cure (a store or the
    /// journal reader failed, a partition call was refused for good): after <see cref="UnitReopenDelay"/> the unit is
    /// closed and opened again from its checkpoint — what a partition move would do, without the move — so a stage
    /// never stays stopped while its partition serves. The journal is held at the checkpoint meanwhile.</summary>
    internal void Reopen(int partition, PartitionFlow failed)
    {
        lock (_lifecycle)
        {
            if (_disposed || !_units.TryGetValue(partition, out var slot) || slot.Closing.IsCancellationRequested
                || !slot.Ready.IsCompletedSuccessfully || slot.Ready.Result != failed)
            {
                return; // closing, or already being opened again
            }
            // Calls on the unit wait for the new one from now on (as while a partition's unit first opens).
            slot.Ready = Task.Run(() => ReopenAsync(partition, slot, failed));
        }
    }

    private async Task<PartitionFlow?> ReopenAsync(int partition, Slot slot, PartitionFlow failed)
    {
        // The failed unit's reader holds the journal at its checkpoint until a new hold is taken: compaction keeps
        // what the stage still needs. A hold that cannot be taken (the journal's store not answering) is tried again
        // until it can or the partition closes here — giving up would leave the partition serving with its
        // downstream stopped, every call on the unit refused, until the partition happened to move.
        var retry = UnitOpenRetryFirst;
        IJournalReader hold;
        while (true)
        {
            try
            {
                hold = FulfillmentStage.HoldFromCheckpoint(Journals.Checkpoints(partition), slot.Opened.Journal);
                break;
            }
            catch (Exception e)
            {
                // Closing meanwhile: the wait below ends at once.
                Log.LogWarning(e, "partition {Partition}: its downstream could not be held at its checkpoint to open again; retrying in {Delay}", partition, retry);
            }
            try
            {
                await Task.Delay(retry, Options.Clock, slot.Closing.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await CloseFailedAsync(partition, failed).ConfigureAwait(false);
                return null; // the partition closed here meanwhile: whoever opens it next opens its unit
            }
            retry = NextRetry(retry);
        }
        await CloseFailedAsync(partition, failed).ConfigureAwait(false);
        try
        {
            await Task.Delay(UnitReopenDelay, Options.Clock, slot.Closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            hold.Dispose();
            return null;
        }
        return await OpenAsync(partition, slot.Opened, hold, slot.Closing.Token).ConfigureAwait(false);
    }

    /// <summary>Closes a unit whose stage failed; a close that fails too is logged (its stores are opened afresh).</summary>
    private async Task CloseFailedAsync(int partition, PartitionFlow failed)
    {
        try
        {
            await failed.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.LogWarning(e, "partition {Partition}: its failed downstream did not close cleanly", partition);
        }
    }

    /// <summary>Pause before a unit whose stage failed is opened again.</summary>
    private static readonly TimeSpan UnitReopenDelay = TimeSpan.FromSeconds(1);

    /// <summary>Waits between tries to open a unit: doubling from the first to the most.</summary>
    private static readonly TimeSpan UnitOpenRetryFirst = TimeSpan.FromMilliseconds(100), UnitOpenRetryMax = TimeSpan.FromSeconds(5);

    private static TimeSpan NextRetry(TimeSpan retry) => TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, UnitOpenRetryMax.Ticks));

    /// <summary>Called by the host before a partition's journal closes here (it moves to another silo, or this one
    /// stops): stops its unit (the stage saves its checkpoint) and closes its stores; a unit still opening is given up.</summary>
    public async Task OnPartitionClosingAsync(int partition)
    {
        if (_units.TryRemove(partition, out var slot))
        {
            lock (_lifecycle)
            {
                slot.Closing.Cancel();
            }
            var unit = await slot.Ready.ConfigureAwait(false);
            if (unit is not null)
            {
                await unit.DisposeAsync().ConfigureAwait(false);
            }
            slot.Closing.Dispose();
        }
    }

    /// <summary>Carrier health on this node, each carrier's figures summed over the units.</summary>
    public IReadOnlyList<CarrierHealth> Health()
    {
        var all = Units.SelectMany(u => u.Dispatcher.Health()).ToList();
        return Rules.Carriers.Where(c => c.Endpoint is not null).Select(c =>
        {
            var mine = all.Where(h => h.CarrierId == c.Id).ToList();
            var breaker = mine.Select(h => h.Breaker).FirstOrDefault(b => b != "closed") ?? "closed";
            return new CarrierHealth(c.Id, breaker, mine.Sum(h => h.Queued), mine.Sum(h => h.Sent), mine.Sum(h => h.Failed), mine.Sum(h => h.DeadLetters));
        }).ToList();
    }

    /// <summary>Shipments planned, dispatched and dead-lettered in the units of this node.</summary>
    public (long Planned, long Dispatched, long DeadLetters) ShipmentCounts() =>
        Units.Aggregate((0L, 0L, 0L), (t, u) => (t.Item1 + u.Store.Count, t.Item2 + u.Store.Dispatched, t.Item3 + u.Store.DeadLetters));

    /// <summary>Seller orders with a plan in the units of this node.</summary>
    public long OrdersPlanned() => Units.Sum(u => (long)u.Store.Orders);

    /// <summary>Notifications waiting to be delivered in the units of this node.</summary>
    public long NotificationsPending() => Units.Sum(u => (long)u.Outbox.InState(NotificationState.Pending).Count);

    /// <summary>Live streams watching orders (the buyer's tracking page).</summary>
    public OrderWatchers Watchers { get; } = new();

    internal void NotifyOrders(IEnumerable<long> sellerOrders)
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

    internal static bool IsTransient(Exception e) => e is AdmissionException or JournalBackpressureException or TimeoutException;

    /// <summary>Starts every unit (after recovery, once the partitions take commands); units opened later start as
    /// they open.</summary>
    public void Start(IPartitions partitions)
    {
        lock (_lifecycle)
        {
            if (_partitions is not null)
            {
                return;
            }
            _partitions = partitions;
            foreach (var unit in Units)
            {
                unit.Start(); // units still opening start as they open (they check _partitions under this lock)
            }
        }
    }

    /// <summary>Sends status updates to one partition in groups. Refusals by the engine are fine (a step back, or
    /// an order cancelled by its seller after payment); refusals by admission control are retried by the caller.</summary>
    internal async Task AdvanceAsync(int partition, List<(long Order, OrderStatus Status)> updates, CancellationToken cancellationToken)
    {
        var partitions = _partitions ?? throw new InvalidOperationException("the downstream has not started");
        for (var start = 0; start < updates.Count; start += MarkGroupCommandsMax)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var group = updates.Skip(start).Take(MarkGroupCommandsMax).ToList();
            // Abandoned when cancelled: the partition may be closing and holding commands until its downstream stops.
            await partitions.SubmitGroup(partition, group.Count, w =>
            {
                foreach (var (order, status) in group)
                {
                    w.AdvanceStatus(order, status);
                }
            }).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Lag of every unit of this node.</summary>
    public IEnumerable<(int Partition, StageLag Lag, long Position)> Lags() => Units.Select(u => (u.Partition, u.Stage.Lag, u.Stage.Position));

    /// <summary>Stops and closes every unit. Call before the gateway and the journals close.</summary>
    public async Task StopAsync()
    {
        foreach (var partition in _units.Keys.ToList())
        {
            await OnPartitionClosingAsync(partition).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lifecycle)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        await StopAsync().ConfigureAwait(false);
        Http.Dispose();
        CpuGate.Dispose();
    }
}
