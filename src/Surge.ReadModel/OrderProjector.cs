using Surge.Core;
using Surge.Flow;
using Surge.Journal;

namespace Surge.ReadModel;

/// <summary>Bounds and pacing of the read model's projectors, each with its unit.</summary>
public sealed record ProjectorOptions
{
    /// <summary>Most journal records one projector reads per step (one step = one read-model transaction).</summary>
    public int RecordsPerStep { get; init; } = 256;

    /// <summary>Seller orders written per transaction when a projector seeds the read model from its engine's state.</summary>
    public int SeedOrdersPerCommit { get; init; } = 10_000;

    /// <summary>How often a projector saves its follower (checkpoint) and releases the journal behind it, at most. A
    /// crash repeats at most this much projection work; the repeat changes nothing (every change is idempotent).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the projection waits when every partition is caught up; each further empty round doubles the
    /// wait up to <see cref="IdlePollMax"/>.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>The longest wait between two looks when idle (a new order shows in listings at most this late when quiet).</summary>
    public TimeSpan IdlePollMax { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Wait before a projector that failed (database or journal error) is opened again from its checkpoint.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Projects one partition's journal into the read model: a <see cref="PartitionFollower"/> (its own engine, the same
/// deterministic code) applies each durable record, and the record's facts become row changes — a placed seller order
/// with its lines (SKU code, warehouse, price at placement), each new status — written with the partition's position in
/// one transaction. Its checkpoint (the follower, in its own storage) is saved only after the rows it covers are
/// committed, so it is never ahead of the database; a restart repeats the records after it, which changes nothing.
/// When the database is behind the follower (a new or rebuilt read model over a journal compacted past its start), the
/// projector first seeds the database from the follower's engine: every seller order it holds, with its status now.
/// </summary>
public sealed class OrderProjector : IDisposable
{
    private readonly IJournal _journal;
    private readonly IJournalStorage _checkpoints;
    private readonly ReadModelStore _store;
    private readonly ProjectorOptions _options;
    private readonly PartitionFollower _follower;
    private readonly IJournalReader _reader;
    private readonly List<OrderFact> _facts = [];
    private readonly List<PaidOrder> _paid = [];
    private readonly List<OrderChange> _changes = [];
    private long _checkpointed;
    private bool _seed;

    /// <summary>Loads the checkpoint and opens the reader at once (from then on the journal keeps what the projector
    /// needs). A journal compacted past record 1 with no checkpoint starts from the partition's newest snapshot.</summary>
    public OrderProjector(int partition, IJournal journal, IJournalStorage checkpoints, ReadModelStore store, ProjectorOptions? options = null)
    {
        Partition = partition;
        _journal = journal;
        _checkpoints = checkpoints;
        _store = store;
        _options = options ?? new ProjectorOptions();
        _follower = PartitionFollower.Load(checkpoints);
        IJournalReader reader;
        try
        {
            reader = journal.OpenReader(_follower.Sequence);
        }
        catch (JournalGapException) when (_follower.Sequence == 0 && PartitionFollower.FromSnapshot(journal) is { } fromSnapshot)
        {
            _follower = fromSnapshot;
            reader = journal.OpenReader(_follower.Sequence);
        }
        _reader = reader;
        _checkpointed = _follower.Sequence;
        _seed = _follower.Sequence > store.Position(partition).Sequence;
    }

    public int Partition { get; }

    /// <summary>The last journal record projected.</summary>
    public long Position => _follower.Sequence;

    /// <summary>The time of the last journal record projected (<see cref="long.MinValue"/> before the first).</summary>
    public long RecordAtMs => _follower.NowMs;

    /// <summary>Journal records durable but not projected yet, and the age of the oldest of them (0 when caught up).</summary>
    public StageLag Lag(long nowMs) => _follower.LagBehind(_journal, nowMs);

    /// <summary>Whether the database must first be seeded from the follower's engine (see <see cref="Step"/>).</summary>
    public bool SeedDue => _seed;

    /// <summary>One step: the seed when one is due, else up to <see cref="ProjectorOptions.RecordsPerStep"/> records read
    /// and their changes committed. Returns the records (or seeded orders) written; 0 when caught up. A failure leaves
    /// the follower ahead of the database: the projector must then be disposed and opened again from its checkpoint.</summary>
    public int Step()
    {
        if (_seed)
        {
            var seeded = Seed();
            _seed = false;
            return Math.Max(1, seeded);
        }
        if (Read() is not { } batch)
        {
            return 0;
        }
        _store.Commit(batch);
        return batch.Records;
    }

    /// <summary>Reads up to <see cref="ProjectorOptions.RecordsPerStep"/> records into the follower and returns their
    /// changes (null: caught up), for the caller to commit — with other partitions' in one transaction. Until it is
    /// committed the follower is ahead of the database: if the commit fails, the projector must be disposed and opened
    /// again from its checkpoint. Not while a seed is due.</summary>
    public ProjectionBatch? Read()
    {
        if (_seed)
        {
            throw new InvalidOperationException("the read model must be seeded first (Step)");
        }
        _changes.Clear();
        var records = _reader.Read(_options.RecordsPerStep, (sequence, payload) =>
        {
            _facts.Clear();
            _paid.Clear();
            _follower.Apply(sequence, payload, _facts, _paid);
            foreach (var fact in _facts)
            {
                _changes.Add(fact.Kind == FactKind.Placed
                    ? OrderChange.Place(sequence, Describe(_follower.Engine, fact.OrderId))
                    : OrderChange.To(sequence, fact.AtMs, fact.OrderId, fact.Status, fact.CancelReason));
            }
        });
        return records == 0 ? null : new ProjectionBatch(Partition, _follower.Sequence, _follower.NowMs, _changes) { Records = records };
    }

    /// <summary>Writes every seller order of the follower's engine as it is now, then the position.</summary>
    private int Seed()
    {
        var engine = _follower.Engine;
        var sequence = _follower.Sequence;
        _changes.Clear();
        for (var i = 0; i < engine.OrderCount; i++)
        {
            var order = engine.GetOrderAt(i);
            _changes.Add(OrderChange.Place(sequence, Describe(engine, order)) with { Seeded = true });
            if (order.Status != OrderStatus.PendingPayment)
            {
                _changes.Add(OrderChange.To(sequence, Math.Max(order.PlacedAtMs, engine.NowMs), order.OrderId, order.Status, order.CancelReason) with { Seeded = true });
            }
            if (_changes.Count >= _options.SeedOrdersPerCommit)
            {
                // Position 0: only the last transaction moves it, so a seed cut short by a crash is done again.
                _store.Commit(new ProjectionBatch(Partition, 0, 0, _changes));
                _changes.Clear();
            }
        }
        _store.Commit(new ProjectionBatch(Partition, sequence, engine.NowMs, _changes));
        return engine.OrderCount;
    }

    private static PlacedOrder Describe(Engine engine, long orderId) =>
        engine.GetOrder(orderId) is { } order ? Describe(engine, order)
            : throw new InvalidOperationException($"placed seller order {orderId} is not in the follower's engine");

    private static PlacedOrder Describe(Engine engine, OrderSnapshot order)
    {
        var lines = new OrderLineRow[order.Allocations.Count];
        var currency = "";
        for (var i = 0; i < lines.Length; i++)
        {
            var allocation = order.Allocations[i];
            var sku = engine.GetSku(allocation.Sku);
            currency = sku.Currency;
            lines[i] = new OrderLineRow(sku.Code, engine.Warehouses[allocation.Warehouse].Code, allocation.Quantity, sku.PriceMinor);
        }
        return new PlacedOrder(order.OrderId, order.ParentId, order.SellerId, order.BuyerId, order.PlacedAtMs, currency, lines);
    }

    /// <summary>Saves the follower if it moved (every record it applied is committed once <see cref="Step"/> returned),
    /// then lets the journal compact what the projector no longer needs.</summary>
    public void Checkpoint()
    {
        if (!_seed)
        {
            _checkpointed = _follower.CheckpointPast(_checkpointed, _checkpoints, _reader);
        }
    }

    public void Dispose() => _reader.Dispose();
}
