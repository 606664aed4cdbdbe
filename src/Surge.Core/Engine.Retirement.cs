using System.Diagnostics;

namespace Surge.Core;

/// <summary>
/// Retirement: a seller order that has been final (delivered, cancelled, returned) for the retention leaves the
/// engine, so memory, snapshots and recovery scale with live orders, not with history (the read model keeps the
/// history). What the engine must still know of a retired order it keeps in aggregate:
/// <list type="bullet">
/// <item>its id, for duplicate detection: per block of ids (the ids sharing their bits above
/// <see cref="IdBlockBits"/>), the highest id retired from it. An id at or below its block's floor that is not live
/// is refused as a duplicate. This is exact when each block's ids are handed out in increasing order by one writer and
/// the retention is longer than any id waits between being handed out and being placed (Surge's order ids: a block
/// of sequences is leased to one silo, which numbers orders in sequence; a placement waits at most the request
/// deadline, seconds, against a retention of days);</item>
/// <item>the units it sold, per SKU and warehouse, and the flash-sale limit units it holds, per SKU, so the
/// invariants (received = on hand + sold; buyer limits) still add up.</item>
/// </list>
/// Orders become final in clock order, so the retirement queue is first in, first out. Retirement runs at the start
/// of each batch, after the expiries, deterministically like everything else: the retention is a journaled command
/// (<see cref="CommandKind.ConfigureRetention"/>), never a host setting read at replay.
/// </summary>
public sealed partial class Engine
{
    /// <summary>Never retire (the default until a <see cref="CommandKind.ConfigureRetention"/>).</summary>
    public const long RetainForever = long.MaxValue;

    private long _retentionMs = RetainForever;
    private int _idBlockBits = 63;
    private RetireEntry[] _retiring = new RetireEntry[16];
    private int _retiringHead, _retiringCount;
    private readonly Dictionary<long, long> _retiredFloors = [];
    private readonly Dictionary<(int Sku, int Warehouse), long> _retiredSold = [];
    private readonly Dictionary<int, long> _retiredLimitUnits = [];
    private long _retiredOrders;
    private int _allocationGarbage;
    private long _placements; // orders placed so far: the expiry heap's tie-break

    private struct RetireEntry
    {
        public long FinalAtMs;
        public long OrderId;
    }

    /// <summary>How long a final seller order stays, in ms (<see cref="RetainForever"/>: always).</summary>
    public long RetentionMs => _retentionMs;

    /// <summary>Ids sharing their bits above this many low bits form a block with one retirement floor.</summary>
    public int IdBlockBits => _idBlockBits;

    /// <summary>Seller orders retired so far.</summary>
    public long RetiredOrders => _retiredOrders;

    /// <summary>The highest order id ever retired (0: none), so a host can continue numbering above it.</summary>
    public long HighestRetiredId => _retiredFloors.Count == 0 ? 0 : _retiredFloors.Values.Max();

    /// <summary>Whether an order id was retired here (or lies at or below its block's floor).</summary>
    public bool IsRetired(long orderId) =>
        _retiredFloors.Count > 0 && _retiredFloors.TryGetValue(orderId >> _idBlockBits, out var floor) && orderId <= floor;

    private static bool IsFinal(OrderStatus status) => status is OrderStatus.Delivered or OrderStatus.Cancelled or OrderStatus.Returned;

    /// <summary>The answer for a command on an order the engine does not hold.</summary>
    private RejectReason Missing(long orderId) => IsRetired(orderId) ? RejectReason.OrderRetired : RejectReason.OrderNotFound;

    private RejectReason ConfigureRetention(ref CommandReader reader, ref long reference)
    {
        var retainMs = reader.I64();
        int bits = reader.U8();
        reference = retainMs;
        if (retainMs < 0 || bits > 63 || (bits != _idBlockBits && _retiredFloors.Count > 0))
        {
            return RejectReason.InvalidArgument; // the blocks of ids already retired cannot be cut differently
        }
        var wasForever = _retentionMs == RetainForever;
        (_retentionMs, _idBlockBits) = (retainMs, bits);
        if (retainMs == RetainForever)
        {
            (_retiringHead, _retiringCount) = (0, 0);
        }
        else if (wasForever)
        {
            // Orders already final start their retention now (when they became final was not kept).
            for (var i = 0; i < _orderCount; i++)
            {
                if (IsFinal(_orders[i].Status))
                {
                    BecameFinal(_orders[i].OrderId);
                }
            }
        }
        return RejectReason.None;
    }

    /// <summary>Queues an order that just became final for retirement (nothing when orders are kept for ever).</summary>
    private void BecameFinal(long orderId)
    {
        if (_retentionMs == RetainForever)
        {
            return;
        }
        if (_retiringCount == _retiring.Length)
        {
            var grown = new RetireEntry[_retiring.Length * 2];
            for (var i = 0; i < _retiringCount; i++)
            {
                grown[i] = _retiring[(_retiringHead + i) % _retiring.Length];
            }
            (_retiring, _retiringHead) = (grown, 0);
        }
        _retiring[(_retiringHead + _retiringCount++) % _retiring.Length] = new RetireEntry { FinalAtMs = _nowMs, OrderId = orderId };
    }

    /// <summary>Retires every queued order final for at least the retention at the batch's time.</summary>
    private void RetireDue()
    {
        if (_retentionMs == RetainForever || _nowMs < long.MinValue + _retentionMs)
        {
            return;
        }
        var before = _nowMs - _retentionMs;
        while (_retiringCount > 0)
        {
            ref readonly var next = ref _retiring[_retiringHead];
            if (next.FinalAtMs > before)
            {
                break;
            }
            var orderId = next.OrderId;
            _retiringHead = (_retiringHead + 1) % _retiring.Length;
            _retiringCount--;
            var index = _orderIndex.Get(orderId);
            if (index >= 0 && IsFinal(_orders[index].Status))
            {
                Retire(index);
            }
        }
        if (_allocationGarbage > Math.Max(RetirementCompactionMinAllocations, _allocationCount / 2))
        {
            CompactAllocations();
        }
    }

    /// <summary>Allocations freed by retirement that wait before the arena is compacted, at least.</summary>
    private const int RetirementCompactionMinAllocations = 4096;

    private void Retire(int index)
    {
        ref var order = ref _orders[index];
        var orderId = order.OrderId;
        if (order.Status != OrderStatus.Cancelled)
        {
            foreach (ref readonly var a in _allocations.AsSpan(order.AllocationStart, order.AllocationCount))
            {
                _retiredSold[(a.Sku, a.Warehouse)] = _retiredSold.GetValueOrDefault((a.Sku, a.Warehouse)) + a.Quantity;
                if (a.CountsAgainstLimit)
                {
                    _retiredLimitUnits[a.Sku] = _retiredLimitUnits.GetValueOrDefault(a.Sku) + a.Quantity;
                }
            }
        }
        var block = orderId >> _idBlockBits;
        _retiredFloors[block] = Math.Max(_retiredFloors.GetValueOrDefault(block), orderId);
        _allocationGarbage += order.AllocationCount;
        _orderIndex.Remove(orderId);
        var last = --_orderCount;
        if (index != last)
        {
            _orders[index] = _orders[last];
            _orderIndex.Set(_orders[index].OrderId, index);
        }
        _orders[last] = default;
        _retiredOrders++;
        ref var e = ref Emit(EventKind.OrderRetired, orderId);
        e.Value = _nowMs;
    }

    /// <summary>Copies the live orders' allocations into a fresh arena, in order-table order, and drops the retired ones'.</summary>
    private void CompactAllocations()
    {
        var live = _allocationCount - _allocationGarbage;
        var fresh = LargeArray.New<Allocation>(Math.Max(16, live + live / 4));
        var next = 0;
        for (var i = 0; i < _orderCount; i++)
        {
            ref var order = ref _orders[i];
            _allocations.AsSpan(order.AllocationStart, order.AllocationCount).CopyTo(fresh.AsSpan(next));
            order.AllocationStart = next;
            next += order.AllocationCount;
        }
        Debug.Assert(next == live);
        (_allocations, _allocationCount, _allocationGarbage) = (fresh, next, 0);
    }

    /// <summary>Units sold by retired orders at (sku, warehouse), for the invariants.</summary>
    private long RetiredSold(int sku, int warehouse) => _retiredSold.GetValueOrDefault((sku, warehouse));

    private void WriteRetirement(BinaryWriter w)
    {
        w.Write(_placements);
        w.Write(_retentionMs);
        w.Write(_idBlockBits);
        w.Write(_retiredOrders);
        w.Write(_allocationGarbage);
        w.Write(_retiredFloors.Count);
        foreach (var (block, floor) in _retiredFloors.OrderBy(p => p.Key))
        {
            w.Write(block);
            w.Write(floor);
        }
        w.Write(_retiredSold.Count);
        foreach (var ((sku, warehouse), units) in _retiredSold.OrderBy(p => p.Key.Sku).ThenBy(p => p.Key.Warehouse))
        {
            w.Write(sku);
            w.Write(warehouse);
            w.Write(units);
        }
        w.Write(_retiredLimitUnits.Count);
        foreach (var (sku, units) in _retiredLimitUnits.OrderBy(p => p.Key))
        {
            w.Write(sku);
            w.Write(units);
        }
        w.Write(_retiringCount);
        for (var i = 0; i < _retiringCount; i++)
        {
            ref readonly var entry = ref _retiring[(_retiringHead + i) % _retiring.Length];
            w.Write(entry.FinalAtMs);
            w.Write(entry.OrderId);
        }
    }

    private void ReadRetirement(BinaryReader r)
    {
        _placements = r.ReadInt64();
        _retentionMs = r.ReadInt64();
        _idBlockBits = r.ReadInt32();
        _retiredOrders = r.ReadInt64();
        _allocationGarbage = r.ReadInt32();
        if (_placements < 0 || _retentionMs < 0 || _idBlockBits is < 0 or > 63 || _retiredOrders < 0 || _allocationGarbage < 0 || _allocationGarbage > _allocationCount)
        {
            throw new InvalidDataException("snapshot retirement header is out of range");
        }
        for (var i = CheckedCount(r.ReadInt32(), int.MaxValue); i > 0; i--)
        {
            _retiredFloors.Add(r.ReadInt64(), r.ReadInt64());
        }
        for (var i = CheckedCount(r.ReadInt32(), int.MaxValue); i > 0; i--)
        {
            _retiredSold.Add((r.ReadInt32(), r.ReadInt32()), r.ReadInt64());
        }
        for (var i = CheckedCount(r.ReadInt32(), int.MaxValue); i > 0; i--)
        {
            _retiredLimitUnits.Add(r.ReadInt32(), r.ReadInt64());
        }
        var queued = CheckedCount(r.ReadInt32(), int.MaxValue);
        _retiring = new RetireEntry[Math.Max(16, queued)];
        for (var i = 0; i < queued; i++)
        {
            _retiring[i] = new RetireEntry { FinalAtMs = r.ReadInt64(), OrderId = r.ReadInt64() };
        }
        (_retiringHead, _retiringCount) = (0, queued);
    }
}
