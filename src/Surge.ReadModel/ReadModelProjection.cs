using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Surge.Flow;
using Surge.Journal;

namespace Surge.ReadModel;

/// <summary>How far the read model is behind one partition.</summary>
public sealed record ProjectionStatus(int Partition, long Position, long LagRecords, double LagSeconds);

/// <summary>
/// The read model's side of a node: one <see cref="OrderProjector"/> per partition this node hosts, opened when the
/// partition has recovered here (its reader holds the journal from the projector's checkpoint at once) and closed
/// before the partition's journal closes — so it moves with the partition, like the downstream stages. One loop runs
/// every projector of the node in rounds, each round's changes of all partitions in one transaction (the database has
/// one writer and one sync per round; the projection uses at most one core and intake keeps the rest). A projector
/// that fails is opened again from its checkpoint after <see cref="ProjectorOptions.RetryDelay"/>; what it repeats
/// changes nothing.
/// </summary>
public sealed class ReadModelProjection : IAsyncDisposable
{
    private readonly Func<int, IJournalStorage> _checkpoints;
    private readonly ProjectorOptions _options;
    private readonly TimeProvider _clock; // the partitions' clock: lag is measured against the time their records carry
    private readonly TimeProvider _pacing = TimeProvider.System; // waits and retries run on real time (a test's fake clock need not move)
    private readonly ConcurrentDictionary<int, Slot> _slots = new();
    // Keeps a round (read, commit, checkpoint) and the opening, closing and reading of projectors apart: a projector read
    // but not committed must not be checkpointed or closed with a checkpoint.
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public ReadModelProjection(ReadModelStore store, Func<int, IJournalStorage> checkpoints, ProjectorOptions? options = null, TimeProvider? clock = null)
    {
        Store = store;
        _checkpoints = checkpoints;
        _options = options ?? new ProjectorOptions();
        _clock = clock ?? TimeProvider.System;
    }

    public ReadModelStore Store { get; }

    public ILogger Log { get; set; } = NullLogger.Instance;

    /// <summary>A partition's projector and what the loop needs to run it (all of it under the projection's gate).</summary>
    private sealed class Slot(int partition, IJournal journal)
    {
        public int Partition { get; } = partition;
        public IJournal Journal { get; } = journal;
        public OrderProjector? Projector { get; set; }
        /// <summary>While no projector is open (it failed; the next try is due later): a reader at its checkpoint, so
        /// compaction keeps what the next one needs.</summary>
        public IJournalReader? Hold { get; set; }
        public long RetryAtMs { get; set; }
        public long CheckpointAtMs { get; set; }
        /// <summary>What the database holds of this partition, as far as this node knows (set after each commit): read
        /// without the gate, so that a freshness figure never waits for a round.</summary>
        public volatile Committed? Committed;
    }

    /// <summary>The last record of a partition whose changes are committed, and its time.</summary>
    private sealed record Committed(long Sequence, long RecordAtMs);

    /// <summary>Called right after a partition recovered here, before it takes a command: opens its projector (loading its
    /// checkpoint and opening its reader, so compaction keeps what the read model still needs).</summary>
    public void OnPartitionOpened(int partition, IJournal journal)
    {
        var slot = new Slot(partition, journal);
        lock (_gate)
        {
            if (!_slots.TryAdd(partition, slot))
            {
                throw new InvalidOperationException($"partition {partition}'s projector is open here already");
            }
            Open(slot);
        }
    }

    /// <summary>Opens the slot's projector from its checkpoint; null (and a hold on the journal) when that fails.</summary>
    private OrderProjector? Open(Slot slot)
    {
        try
        {
            slot.Projector = new OrderProjector(slot.Partition, slot.Journal, _checkpoints(slot.Partition), Store, _options);
            slot.Committed ??= new Committed(slot.Projector.Position, slot.Projector.RecordAtMs); // the database may be further
            slot.Hold?.Dispose();
            slot.Hold = null;
        }
        catch (Exception e)
        {
            Log.LogError(e, "partition {Partition}: its read-model projector did not open; retrying in {Delay}", slot.Partition, _options.RetryDelay);
            slot.RetryAtMs = _pacing.GetUtcNow().ToUnixTimeMilliseconds() + (long)_options.RetryDelay.TotalMilliseconds;
            HoldAtCheckpoint(slot);
        }
        return slot.Projector;
    }

    /// <summary>Keeps the partition's journal from its projector's checkpoint on while no projector is open.</summary>
    private void HoldAtCheckpoint(Slot slot)
    {
        try
        {
            slot.Hold ??= FulfillmentStage.HoldFromCheckpoint(_checkpoints(slot.Partition), slot.Journal);
        }
        catch (Exception e)
        {
            Log.LogWarning(e, "partition {Partition}: the journal could not be held at the read model's checkpoint", slot.Partition);
        }
    }

    /// <summary>Called before a partition's journal closes here: saves its projector's checkpoint and closes it.</summary>
    public Task OnPartitionClosingAsync(int partition)
    {
        lock (_gate)
        {
            if (_slots.TryRemove(partition, out var slot))
            {
                Close(slot, final: true);
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>Closes a slot's projector. <paramref name="final"/>: the partition leaves this node — the checkpoint is
    /// saved and the hold let go; otherwise the projector failed and no checkpoint is saved (its follower may be ahead of
    /// the database), the hold taken before keeping the journal until the next one opens.</summary>
    private void Close(Slot slot, bool final)
    {
        if (final)
        {
            slot.Hold?.Dispose();
            slot.Hold = null;
        }
        if (slot.Projector is not { } projector)
        {
            return;
        }
        try
        {
            if (final)
            {
                projector.Checkpoint();
            }
        }
        catch (Exception e)
        {
            Log.LogWarning(e, "partition {Partition}: the read-model checkpoint was not saved; the next projector repeats from the one before", slot.Partition);
        }
        finally
        {
            projector.Dispose();
            slot.Projector = null;
        }
    }

    /// <summary>Starts the loop that runs every projector of the node in turn.</summary>
    public void Start()
    {
        if (_loop.IsCompleted && !_stop.IsCancellationRequested)
        {
            _loop = Task.Run(() => RunAsync(_stop.Token));
        }
    }

    /// <summary>Runs every projector once: each reads up to a step of records and all their changes are committed in one
    /// transaction (one sync of the database per round, however many partitions moved); a projector whose database is
    /// behind seeds it first. The loop's round, also what a test calls to project now. Returns the records written.</summary>
    public int Round()
    {
        var now = _pacing.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate)
        {
            var read = new List<(Slot Slot, ProjectionBatch Batch)>();
            var written = 0;
            foreach (var slot in _slots.Values.OrderBy(s => s.Partition))
            {
                if (slot.Projector is null && (now < slot.RetryAtMs || Open(slot) is null))
                {
                    continue;
                }
                var projector = slot.Projector!;
                try
                {
                    if (projector.SeedDue)
                    {
                        written += projector.Step(); // commits as it goes
                    }
                    else if (projector.Read() is { } batch)
                    {
                        read.Add((slot, batch));
                    }
                }
                catch (Exception e)
                {
                    Failed([slot], e, now);
                }
            }
            if (read.Count > 0)
            {
                try
                {
                    Store.Commit([.. read.Select(r => r.Batch)]);
                    written += read.Sum(r => r.Batch.Records);
                }
                catch (Exception e)
                {
                    Failed([.. read.Select(r => r.Slot)], e, now);
                    read.Clear();
                }
            }
            foreach (var slot in _slots.Values)
            {
                if (slot.Projector is { } committed && committed.Position != slot.Committed?.Sequence)
                {
                    slot.Committed = new Committed(committed.Position, committed.RecordAtMs);
                }
                if (slot.Projector is { } projector && now >= slot.CheckpointAtMs)
                {
                    try
                    {
                        projector.Checkpoint();
                        slot.CheckpointAtMs = now + (long)_options.CheckpointInterval.TotalMilliseconds;
                    }
                    catch (Exception e)
                    {
                        Failed([slot], e, now);
                    }
                }
            }
            return written;
        }
    }

    /// <summary>Projectors whose followers may now be ahead of the database: each is closed without a checkpoint (the
    /// journal held at the last one) and opened again from it after <see cref="ProjectorOptions.RetryDelay"/>.</summary>
    private void Failed(Slot[] slots, Exception e, long now)
    {
        foreach (var slot in slots)
        {
            Log.LogError(e, "partition {Partition}: the read-model projector stopped at record {Sequence}; it opens again from its checkpoint in {Delay}",
                slot.Partition, slot.Projector?.Position, _options.RetryDelay);
            HoldAtCheckpoint(slot);
            Close(slot, final: false);
            slot.RetryAtMs = now + (long)_options.RetryDelay.TotalMilliseconds;
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var idle = _options.IdlePoll;
        while (!stop.IsCancellationRequested)
        {
            if (Round() > 0)
            {
                idle = _options.IdlePoll;
                continue;
            }
            try
            {
                await Task.Delay(idle, _pacing, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            idle = TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, Math.Max(_options.IdlePoll.Ticks, _options.IdlePollMax.Ticks)));
        }
    }

    /// <summary>How far the read model is behind each partition hosted here (from what was last committed; a partition
    /// whose projector is not open shows the whole durable journal after that as lag).</summary>
    public IReadOnlyList<ProjectionStatus> Status()
    {
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        return [.. _slots.Values.OrderBy(s => s.Partition).Select(s => StatusOf(s, now))];
    }

    /// <summary>How far the read model is behind <paramref name="partition"/>; null when it is not hosted here.</summary>
    public ProjectionStatus? StatusOf(int partition) =>
        _slots.TryGetValue(partition, out var slot) ? StatusOf(slot, _clock.GetUtcNow().ToUnixTimeMilliseconds()) : null;

    private static ProjectionStatus StatusOf(Slot slot, long nowMs)
    {
        var committed = slot.Committed ?? new Committed(0, long.MinValue);
        var lag = PartitionFollower.Behind(slot.Journal.DurableSequence, committed.Sequence, committed.RecordAtMs, nowMs);
        return new ProjectionStatus(slot.Partition, committed.Sequence, lag.Records, lag.Seconds);
    }

    /// <summary>Waits until the read model holds every record of <paramref name="partition"/> that was durable when
    /// called, for at most <paramref name="within"/> (real time); true when it does. A partition not hosted here
    /// answers false at once.</summary>
    public async Task<bool> CatchUpAsync(int partition, TimeSpan within, CancellationToken cancellationToken = default)
    {
        if (!_slots.TryGetValue(partition, out var slot))
        {
            return false;
        }
        var target = slot.Journal.DurableSequence;
        var deadline = _pacing.GetTimestamp() + (long)(within.TotalSeconds * _pacing.TimestampFrequency);
        while ((slot.Committed?.Sequence ?? 0) < target)
        {
            if (_pacing.GetTimestamp() >= deadline || !_slots.ContainsKey(partition))
            {
                return false;
            }
            await Task.Delay(CatchUpPoll, _pacing, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>How often <see cref="CatchUpAsync"/> looks at the projector's position.</summary>
    private static readonly TimeSpan CatchUpPoll = TimeSpan.FromMilliseconds(1);

    /// <summary>Stops the loop and closes every projector (each saves its checkpoint).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }
        await _loop.ConfigureAwait(false);
        foreach (var partition in _slots.Keys.ToList())
        {
            await OnPartitionClosingAsync(partition).ConfigureAwait(false);
        }
        _stop.Dispose();
    }
}
