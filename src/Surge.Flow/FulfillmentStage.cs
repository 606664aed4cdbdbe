using System.Diagnostics;
using Surge.Core;
using Surge.Journal;

namespace Surge.Flow;

/// <summary>Bounds and pacing of a downstream stage, each with its unit.</summary>
public sealed record StageOptions
{
    /// <summary>Most journal records taken per step (one step = read, plan, store, mark, in that order).</summary>
    public int RecordsPerStep { get; init; } = 256;

    /// <summary>How often progress is made durable (a follower checkpoint), at most. A crash repeats at most
    /// this much work (same ids).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a caught-up stage waits before looking for new durable records; each further empty look
    /// doubles the wait, up to <see cref="IdlePollMax"/>.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The longest wait of an idle stage between two looks (a quiet partition costs ~10 wake-ups a second,
    /// not 200; the first record after a quiet spell is planned at most this late).</summary>
    public TimeSpan IdlePollMax { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Wait before trying again after the partition refused to take the stage's status updates
    /// (overloaded) or the store failed.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Failures of an effect worth trying again after <see cref="RetryDelay"/> (backpressure, overload).
    /// Anything else stops the stage; its checkpoint has not moved past the step, so a restart repeats it.</summary>
    public Func<Exception, bool> IsTransient { get; init; } = e => e is JournalBackpressureException or TimeoutException;

    /// <summary>Shared by the stages of a node: how many of them may read and plan at the same time. One by default,
    /// so downstream work uses at most one core and intake keeps the rest (measured on 2 cores: with every stage
    /// planning at once, new orders waited seconds for a thread while a 1 M backlog was planned).</summary>
    public SemaphoreSlim? CpuGate { get; init; }
}

/// <summary>How far a stage is behind its partition: journal records not yet processed, and the age of the
/// oldest of them (0 when caught up).</summary>
public readonly record struct StageLag(long Records, double Seconds);

/// <summary>
/// The fulfillment stage of one partition: follows the partition's journal (<see cref="PartitionFollower"/>),
/// plans the shipments of every paid seller order (<see cref="FulfillmentPlanner"/>), stores the plans durably
/// (<see cref="ShipmentStore"/>), then marks those orders <c>allocated</c> through <c>markAllocated</c> (a
/// journaled engine command, idempotent: advancing to the status an order has is accepted and changes nothing).
/// Its checkpoint moves only past records whose effects are durable, so a restart repeats at most
/// <see cref="StageOptions.CheckpointInterval"/> of work, with the same ids, and loses nothing. It lags at the
/// peak by design — intake never waits for it — and catches up afterwards.
/// </summary>
public sealed class FulfillmentStage : IDisposable
{
    private readonly IJournal _journal;
    private readonly IJournalStorage _checkpoints;
    private readonly FulfillmentPlanner _planner;
    private readonly ShipmentStore _store;
    private readonly IStageEffects _effects;
    private readonly StageOptions _options;
    private readonly TimeProvider _time;
    private readonly PartitionFollower _follower;
    private readonly IJournalReader _reader;
    private readonly List<OrderFact> _facts = [];
    private readonly List<PaidOrder> _paid = [];
    private long _checkpointed;
    private long _plannedOrders;

    // True from the moment a step has applied records to the follower until their effects are all durable: a
    // checkpoint taken then would skip them (a stop in the middle of a step — a partition closing, a cancelled
    // retry — must leave the last complete checkpoint, so the next owner repeats the step instead).
    private bool _stepOpen;

    /// <summary>Loads the stage's checkpoint and opens its reader at once, so the partition's compaction keeps
    /// every record the stage still needs from this moment on.</summary>
    public FulfillmentStage(int partition, IJournal journal, IJournalStorage checkpoints, FulfillmentPlanner planner, ShipmentStore store,
        IStageEffects effects, StageOptions? options = null, TimeProvider? time = null)
    {
        Partition = partition;
        _journal = journal;
        _checkpoints = checkpoints;
        _planner = planner;
        _store = store;
        _effects = effects;
        _options = options ?? new StageOptions();
        _time = time ?? TimeProvider.System;
        _follower = PartitionFollower.Load(checkpoints);
        _reader = journal.OpenReader(_follower.Sequence);
        _checkpointed = _follower.Sequence;
    }

    public int Partition { get; }

    /// <summary>Opens a reader of <paramref name="journal"/> that keeps every record the stage may start from until the
    /// stage has opened its own: at the oldest checkpoint the journal still has records after (the stage falls back to
    /// an older checkpoint when a newer one is damaged), or at 0 when there is no checkpoint.</summary>
    public static IJournalReader HoldFromCheckpoint(IJournalStorage checkpoints, IJournal journal)
    {
        var sequences = checkpoints.ListFiles().Select(n => SnapshotFiles.TryParseName(n, out var s) ? s : -1).Where(s => s >= 0).Order().ToList();
        if (sequences.Count == 0)
        {
            return journal.OpenReader(0);
        }
        for (var i = 0; ; i++)
        {
            try
            {
                return journal.OpenReader(sequences[i]);
            }
            catch (JournalGapException) when (i < sequences.Count - 1)
            {
                // compacted past this older checkpoint: a newer one is where the stage can start
            }
        }
    }

    /// <summary>When <paramref name="checkpoints"/> has no checkpoint and the journal no longer starts at record 1
    /// (it was compacted before any stage followed it), saves a checkpoint at the partition's newest snapshot
    /// and returns its sequence in <paramref name="seededAt"/>: the stage then starts there, and orders paid
    /// before it are not planned. Otherwise changes nothing.</summary>
    public static void SeedIfMissing(IJournalStorage checkpoints, IJournal journal, out long? seededAt)
    {
        seededAt = null;
        if (checkpoints.ListFiles().Any(name => SnapshotFiles.TryParseName(name, out _)))
        {
            return;
        }
        try
        {
            journal.OpenReader(0).Dispose();
        }
        catch (JournalGapException)
        {
            var follower = PartitionFollower.FromSnapshot(journal);
            if (follower is null)
            {
                throw;
            }
            follower.Save(checkpoints);
            seededAt = follower.Sequence;
        }
    }

    /// <summary>Sequence of the last record whose effects are done.</summary>
    public long Position => _follower.Sequence;

    /// <summary>Seller orders planned by this stage since it started (repeats after a restart included).</summary>
    public long PlannedOrders => Interlocked.Read(ref _plannedOrders);

    public StageLag Lag => _follower.LagBehind(_journal, _time.GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>Processes records until <paramref name="cancellationToken"/> is cancelled, then saves a final
    /// checkpoint.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var sinceCheckpoint = Stopwatch.StartNew();
        var idleWait = _options.IdlePoll;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var processed = await StepAsync(cancellationToken).ConfigureAwait(false);
                if (sinceCheckpoint.Elapsed >= _options.CheckpointInterval)
                {
                    Checkpoint();
                    sinceCheckpoint.Restart();
                }
                if (processed > 0)
                {
                    idleWait = _options.IdlePoll;
                    continue;
                }
                await Task.Delay(idleWait, _time, cancellationToken).ConfigureAwait(false);
                idleWait = TimeSpan.FromTicks(Math.Min(idleWait.Ticks * 2, Math.Max(_options.IdlePoll.Ticks, _options.IdlePollMax.Ticks)));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        Checkpoint();
    }

    /// <summary>One step: up to <see cref="StageOptions.RecordsPerStep"/> records read, their paid orders planned
    /// and stored, those orders marked allocated. Returns the number of records processed (0 = caught up).</summary>
    public async Task<int> StepAsync(CancellationToken cancellationToken)
    {
        _facts.Clear();
        _paid.Clear();
        var gate = _options.CpuGate;
        var plans = new List<IReadOnlyList<PlannedShipment>>();
        int records;
        if (gate is not null)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        try
        {
            _stepOpen = true;
            records = _reader.Read(_options.RecordsPerStep, (sequence, payload) => _follower.Apply(sequence, payload, _facts, _paid));
            foreach (var order in _paid)
            {
                using var traced = FlowTelemetry.StartPlan(order);
                plans.Add(_planner.Plan(order, _effects.IsCarrierHealthy));
                traced?.SetTag("surge.shipments", plans[^1].Count);
            }
        }
        finally
        {
            gate?.Release();
        }
        if (records == 0)
        {
            _stepOpen = false;
            return 0;
        }
        // A span only for a step that had records (the stage polls an idle journal often): its planning and storing.
        using var span = FlowTelemetry.Source.StartActivity("fulfillment.step");
        span?.SetTag("surge.partition", Partition);
        span?.SetTag("surge.records", records);
        span?.SetTag("surge.orders_planned", plans.Count);
        if (plans.Count > 0)
        {
            IReadOnlyList<ShipmentState> stored = [];
            await RetryAsync(async () => stored = await _store.AppendPlansAsync(plans).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            if (stored.Count > 0)
            {
                _effects.ShipmentsStored(stored);
            }
            var planned = plans.Where(p => p.Count > 0).Select(p => p[0].OrderId).ToList();
            await RetryAsync(() => _effects.MarkAllocatedAsync(Partition, planned, cancellationToken), cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _plannedOrders, planned.Count);
        }
        if (_facts.Count > 0)
        {
            await RetryAsync(() => _effects.KeepFactsAsync(_facts, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        _effects.FactsObserved(Partition, _facts);
        _stepOpen = false;
        return records;
    }

    /// <summary>Saves the follower if it moved, then lets the partition compact what the stage no longer needs. Does
    /// nothing while a step is unfinished (its records are applied, their effects not all durable).</summary>
    public void Checkpoint()
    {
        if (!_stepOpen)
        {
            _checkpointed = _follower.CheckpointPast(_checkpointed, _checkpoints, _reader);
        }
    }

    private async Task RetryAsync(Func<Task> effect, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await effect().ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException && _options.IsTransient(e))
            {
                await Task.Delay(_options.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => _reader.Dispose();
}
