using System.Buffers.Binary;
using Surge.Core;
using Surge.Journal;

namespace Surge.Flow;

/// <summary>
/// A downstream stage's copy of one partition: it applies the partition's journal records to its own
/// <see cref="Engine"/> — the same deterministic code, so it reaches the same states — and turns each record's
/// events into facts (<see cref="OrderFact"/>) and paid orders (<see cref="PaidOrder"/>) as of that record.
/// Nothing is added to the intake path: the partition journals commands only, and the follower derives the
/// rest, at its own pace. Its checkpoint (<see cref="Save"/>) is its engine and the destinations of unpaid
/// orders after a journal sequence; a stage saves one only once the effects of every record up to it are
/// durable, so a restart repeats effects (at least once, same ids) and never skips one.
/// </summary>
public sealed class PartitionFollower
{
    private const ulong CheckpointMagic = 0x5057464547525553UL; // "SURGEFWP"
    private const int CheckpointVersion = 1;

    private readonly Engine _engine;
    // Destination of every placed seller order until it is paid or cancelled (the engine keeps only the
    // allocation it made from it). Bounded by the partition's live reservations.
    private readonly Dictionary<long, (int Region, ushort Country)> _destinations;

    private PartitionFollower(Engine engine, Dictionary<long, (int, ushort)> destinations, long sequence)
    {
        _engine = engine;
        _destinations = destinations;
        Sequence = sequence;
    }

    public PartitionFollower(EngineOptions? options = null)
        : this(new Engine(options), [], 0)
    {
    }

    /// <summary>Sequence of the last journal record applied.</summary>
    public long Sequence { get; private set; }

    /// <summary>The follower's clock: the time of the newest batch applied (Unix ms; long.MinValue before any).</summary>
    public long NowMs => _engine.NowMs;

    /// <summary>Seller orders placed and neither paid nor cancelled yet.</summary>
    public int UnpaidOrders => _destinations.Count;

    /// <summary>Read access to the follower's engine (catalog and orders as of <see cref="Sequence"/>).</summary>
    public Engine Engine => _engine;

    /// <summary>Applies journal record <paramref name="sequence"/> and appends what it did to
    /// <paramref name="facts"/> and <paramref name="paid"/>. Records must come in sequence order, each once.</summary>
    public void Apply(long sequence, ReadOnlySpan<byte> batch, List<OrderFact> facts, List<PaidOrder> paid)
    {
        if (sequence != Sequence + 1)
        {
            throw new InvalidOperationException($"record {sequence} does not follow {Sequence}");
        }
        _engine.Apply(batch);
        Sequence = sequence;
        var now = _engine.NowMs;
        foreach (ref readonly var e in _engine.Events)
        {
            switch (e.Kind)
            {
                case EventKind.OrderPlaced:
                    _destinations[e.OrderId] = (e.Warehouse, (ushort)e.Quantity);
                    facts.Add(new OrderFact(FactKind.Placed, e.OrderId, OrderStatus.PendingPayment, CancelReason.None, now, _engine.SellerOfOrder(e.OrderId)));
                    break;
                case EventKind.PaymentConfirmed:
                    facts.Add(new OrderFact(FactKind.Paid, e.OrderId, OrderStatus.Paid, CancelReason.None, now, _engine.SellerOfOrder(e.OrderId)));
                    paid.Add(Describe(e.OrderId, now));
                    _destinations.Remove(e.OrderId);
                    break;
                case EventKind.OrderCancelled or EventKind.ReservationExpired:
                    facts.Add(new OrderFact(FactKind.Cancelled, e.OrderId, OrderStatus.Cancelled, e.CancelReason, now, _engine.SellerOfOrder(e.OrderId)));
                    _destinations.Remove(e.OrderId);
                    break;
                case EventKind.StatusAdvanced:
                    facts.Add(new OrderFact(FactKind.StatusAdvanced, e.OrderId, e.Status, CancelReason.None, now, _engine.SellerOfOrder(e.OrderId)));
                    break;
            }
        }
    }

    private PaidOrder Describe(long orderId, long now)
    {
        var order = _engine.GetOrder(orderId) ?? throw new InvalidOperationException($"paid order {orderId} is not in the engine");
        var (region, country) = _destinations.GetValueOrDefault(orderId, (-1, (ushort)0));
        var lines = new List<PaidLine>(order.Allocations.Count);
        foreach (var a in order.Allocations)
        {
            lines.Add(new PaidLine(_engine.GetSku(a.Sku), _engine.Warehouses[a.Warehouse], a.Quantity));
        }
        return new PaidOrder(orderId, order.ParentId, order.SellerId, order.BuyerId, now,
            new Destination(CountryCode.Unpack(country), _engine.RegionName(region)), lines);
    }

    /// <summary>Writes the follower's state after <see cref="Sequence"/> as a checksummed snapshot file in
    /// <paramref name="storage"/> (temp file, sync, rename) and deletes older ones.</summary>
    public SnapshotInfo Save(IJournalStorage storage)
    {
        var info = SnapshotFiles.Write(storage, Sequence, stream =>
        {
            Span<byte> header = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(header, CheckpointMagic);
            BinaryPrimitives.WriteInt32LittleEndian(header[8..], CheckpointVersion);
            BinaryPrimitives.WriteInt32LittleEndian(header[12..], _destinations.Count);
            stream.Write(header);
            Span<byte> entry = stackalloc byte[14];
            foreach (var (order, (region, country)) in _destinations)
            {
                BinaryPrimitives.WriteInt64LittleEndian(entry, order);
                BinaryPrimitives.WriteInt32LittleEndian(entry[8..], region);
                BinaryPrimitives.WriteUInt16LittleEndian(entry[12..], country);
                stream.Write(entry);
            }
            _engine.WriteSnapshot(stream);
        });
        foreach (var name in storage.ListFiles())
        {
            if (SnapshotFiles.TryParseName(name, out var older) && older < Sequence)
            {
                storage.Delete(name);
            }
        }
        return info;
    }

    /// <summary>How far the follower is behind its journal at <paramref name="nowMs"/>: records durable but not applied, and
    /// the age of the newest record applied while any are (0 when caught up).</summary>
    public StageLag LagBehind(IJournal journal, long nowMs) => Behind(journal.DurableSequence, Sequence, NowMs, nowMs);

    /// <summary>A follower's lag from figures read earlier: the records durable after <paramref name="sequence"/>, and —
    /// when there are any — the time since <paramref name="recordAtMs"/>, the time of the last record followed (the
    /// oldest not followed is at least that old; <see cref="long.MinValue"/>: none followed yet, 0 s).</summary>
    public static StageLag Behind(long durableSequence, long sequence, long recordAtMs, long nowMs)
    {
        var behind = Math.Max(0, durableSequence - sequence);
        var seconds = behind == 0 || recordAtMs == long.MinValue ? 0 : Math.Max(0, (nowMs - recordAtMs) / 1000.0);
        return new StageLag(behind, seconds);
    }

    /// <summary>Saves the follower in <paramref name="storage"/> if it moved past <paramref name="saved"/>, then lets the
    /// journal compact what <paramref name="reader"/> no longer needs. Returns the sequence now saved. The caller calls it
    /// only when every effect of the records applied so far is durable.</summary>
    public long CheckpointPast(long saved, IJournalStorage storage, IJournalReader reader)
    {
        if (Sequence == saved)
        {
            return saved;
        }
        Save(storage);
        reader.Release(Sequence);
        return Sequence;
    }

    /// <summary>A follower that starts at the partition's newest snapshot instead of the first record: for a
    /// journal whose early records were compacted before any stage followed it. Unpaid orders placed before the
    /// snapshot have no known destination. Null when the journal has no snapshot.</summary>
    public static PartitionFollower? FromSnapshot(IJournal journal)
    {
        if (journal.LatestSnapshot is not { } snapshot)
        {
            return null;
        }
        using var stream = journal.OpenSnapshot(snapshot);
        return new PartitionFollower(Engine.ReadSnapshot(stream), [], snapshot.Sequence);
    }

    /// <summary>The follower saved last in <paramref name="storage"/>, or a new one at sequence 0 when there is
    /// none. A damaged newest checkpoint is skipped for an older valid one (a repeat of effects, never a loss).</summary>
    public static PartitionFollower Load(IJournalStorage storage, EngineOptions? options = null)
    {
        var names = storage.ListFiles().Where(n => SnapshotFiles.TryParseName(n, out _)).OrderDescending(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var info = SnapshotFiles.Validate(storage, name, out _);
            if (info is null)
            {
                continue;
            }
            using var stream = SnapshotFiles.OpenPayload(storage, info);
            Span<byte> header = stackalloc byte[16];
            stream.ReadExactly(header);
            if (BinaryPrimitives.ReadUInt64LittleEndian(header) != CheckpointMagic
                || BinaryPrimitives.ReadInt32LittleEndian(header[8..]) != CheckpointVersion)
            {
                throw new InvalidDataException($"{storage.Describe(name)} is not a follower checkpoint of version {CheckpointVersion}");
            }
            var count = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
            var destinations = new Dictionary<long, (int, ushort)>(count);
            Span<byte> entry = stackalloc byte[14];
            for (var i = 0; i < count; i++)
            {
                stream.ReadExactly(entry);
                destinations[BinaryPrimitives.ReadInt64LittleEndian(entry)] =
                    (BinaryPrimitives.ReadInt32LittleEndian(entry[8..]), BinaryPrimitives.ReadUInt16LittleEndian(entry[12..]));
            }
            var engine = Engine.ReadSnapshot(stream);
            return new PartitionFollower(engine, destinations, info.Sequence);
        }
        return new PartitionFollower(options);
    }
}
