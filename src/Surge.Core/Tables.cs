using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Surge.Core;

// Flat, blittable tables of the engine. They are dumped to snapshots byte for byte, so every struct has an
// explicit field order with no padding holes, and no table depends on memory addresses or hash seeds.

/// <summary>Open-addressing hash map from a non-zero 64-bit key to a non-negative int, linear probing,
/// load factor at most 1/2. Deletion shifts the following entries of the run back (no tombstones), so lookups stay
/// as short after orders retire as before.</summary>
internal sealed class LongIntMap
{
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct Slot
    {
        public long Key;
        public int ValuePlusOne; // 0 = empty
    }

    private Slot[] _slots;
    private int _count;
    private int _shift;

    public LongIntMap(int expected)
    {
        var capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, expected * 2));
        _slots = LargeArray.New<Slot>(capacity);
        _shift = 64 - BitOperations.Log2((uint)capacity);
    }

    public int Count => _count;
    internal Slot[] Slots => _slots;

    public long MemoryBytes => (long)_slots.Length * Unsafe.SizeOf<Slot>();

    private const int RunBits = 3;

    /// <summary>Ids that differ only in their low <see cref="RunBits"/> bits share a hashed group of adjacent
    /// slots, so the usual case — ids handed out in sequence by the partition — touches one cache line per
    /// eight orders instead of one per order; groups themselves are spread by Fibonacci hashing, so no long
    /// runs of occupied slots build up whatever the ids are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(long key)
    {
        var k = (ulong)key;
        var group = (k >> RunBits) * 0x9E3779B97F4A7C15UL >> (_shift + RunBits);
        return (int)((group << RunBits) | (k & ((1UL << RunBits) - 1)));
    }

    /// <summary>Starts loading the slot where <paramref name="key"/> would be (a hint for the CPU).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(long key)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref _slots[Home(key)]));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Get(long key)
    {
        var mask = _slots.Length - 1;
        for (var i = Home(key); ; i = (i + 1) & mask)
        {
            ref var slot = ref _slots[i];
            if (slot.ValuePlusOne == 0)
            {
                return -1;
            }
            if (slot.Key == key)
            {
                return slot.ValuePlusOne - 1;
            }
        }
    }

    /// <summary>Adds a key that is known to be absent.</summary>
    public void Add(long key, int value)
    {
        Debug.Assert(value >= 0);
        if ((_count + 1) * 2 > _slots.Length)
        {
            Grow();
        }
        Insert(key, value);
        _count++;
    }

    /// <summary>Points a present key at another value (an order that moved in the order table).</summary>
    public void Set(long key, int value)
    {
        var mask = _slots.Length - 1;
        for (var i = Home(key); ; i = (i + 1) & mask)
        {
            ref var slot = ref _slots[i];
            Debug.Assert(slot.ValuePlusOne != 0, "key absent");
            if (slot.Key == key)
            {
                slot.ValuePlusOne = value + 1;
                return;
            }
        }
    }

    /// <summary>Removes a present key: every later entry of its run whose home is not between the hole and itself moves
    /// back into the hole (backward-shift deletion), so no lookup ever stops short of its key.</summary>
    public void Remove(long key)
    {
        var mask = _slots.Length - 1;
        var hole = Home(key);
        while (_slots[hole].Key != key)
        {
            Debug.Assert(_slots[hole].ValuePlusOne != 0, "key absent");
            hole = (hole + 1) & mask;
        }
        for (var i = (hole + 1) & mask; _slots[i].ValuePlusOne != 0; i = (i + 1) & mask)
        {
            var home = Home(_slots[i].Key);
            // The entry at i may fill the hole unless its home lies cyclically in (hole, i].
            var stays = hole <= i ? home > hole && home <= i : home > hole || home <= i;
            if (!stays)
            {
                _slots[hole] = _slots[i];
                hole = i;
            }
        }
        _slots[hole] = default;
        _count--;
    }

    private void Insert(long key, int value)
    {
        var mask = _slots.Length - 1;
        var i = Home(key);
        while (_slots[i].ValuePlusOne != 0)
        {
            Debug.Assert(_slots[i].Key != key, "key already present");
            i = (i + 1) & mask;
        }
        _slots[i] = new Slot { Key = key, ValuePlusOne = value + 1 };
    }

    private void Grow()
    {
        var old = _slots;
        _slots = LargeArray.New<Slot>(old.Length * 2);
        _shift--;
        foreach (var slot in old)
        {
            if (slot.ValuePlusOne != 0)
            {
                Insert(slot.Key, slot.ValuePlusOne - 1);
            }
        }
    }

    internal void Restore(Slot[] slots, int count)
    {
        _slots = slots;
        _count = count;
        _shift = 64 - BitOperations.Log2((uint)slots.Length);
    }
}

/// <summary>Units a buyer holds of a flash-sale SKU (reserved or bought, not cancelled).
/// Open addressing over (buyer, sku); counts drop to zero but entries stay.</summary>
internal sealed class BuyerQuotaMap
{
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct Slot
    {
        public long Buyer;
        public int SkuPlusOne; // 0 = empty
        public int Units;
    }

    private Slot[] _slots;
    private int _count;
    private int _shift;

    public BuyerQuotaMap(int expected)
    {
        var capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, expected * 2));
        _slots = LargeArray.New<Slot>(capacity);
        _shift = 64 - BitOperations.Log2((uint)capacity);
    }

    public int Count => _count;
    internal Slot[] Slots => _slots;
    public long MemoryBytes => (long)_slots.Length * Unsafe.SizeOf<Slot>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(long buyer, int sku) =>
        (int)(((ulong)buyer * 0x9E3779B97F4A7C15UL ^ (ulong)sku * 0xC2B2AE3D27D4EB4FUL) >> _shift);

    public int Get(long buyer, int sku)
    {
        var mask = _slots.Length - 1;
        for (var i = Home(buyer, sku); ; i = (i + 1) & mask)
        {
            ref var slot = ref _slots[i];
            if (slot.SkuPlusOne == 0)
            {
                return 0;
            }
            if (slot.Buyer == buyer && slot.SkuPlusOne == sku + 1)
            {
                return slot.Units;
            }
        }
    }

    /// <summary>Adds <paramref name="delta"/> to the buyer's units of the SKU and returns the new total.</summary>
    public int Add(long buyer, int sku, int delta)
    {
        if ((_count + 1) * 2 > _slots.Length)
        {
            Grow();
        }
        var mask = _slots.Length - 1;
        for (var i = Home(buyer, sku); ; i = (i + 1) & mask)
        {
            ref var slot = ref _slots[i];
            if (slot.SkuPlusOne == 0)
            {
                Debug.Assert(delta >= 0);
                slot = new Slot { Buyer = buyer, SkuPlusOne = sku + 1, Units = delta };
                _count++;
                return delta;
            }
            if (slot.Buyer == buyer && slot.SkuPlusOne == sku + 1)
            {
                slot.Units += delta;
                Debug.Assert(slot.Units >= 0);
                return slot.Units;
            }
        }
    }

    private void Grow()
    {
        var old = _slots;
        _slots = LargeArray.New<Slot>(old.Length * 2);
        _shift--;
        var mask = _slots.Length - 1;
        foreach (var slot in old)
        {
            if (slot.SkuPlusOne == 0)
            {
                continue;
            }
            var i = Home(slot.Buyer, slot.SkuPlusOne - 1);
            while (_slots[i].SkuPlusOne != 0)
            {
                i = (i + 1) & mask;
            }
            _slots[i] = slot;
        }
    }

    internal void Restore(Slot[] slots, int count)
    {
        _slots = slots;
        _count = count;
        _shift = 64 - BitOperations.Log2((uint)slots.Length);
    }
}

/// <summary>Binary min-heap of reservation deadlines ordered by (deadline, placement): ties break by placement order,
/// so expiry is deterministic. Entries name the order by id (its place in the order table changes when others
/// retire); those of orders paid, cancelled or retired since are dropped lazily when they reach the top.</summary>
internal sealed class ExpiryHeap
{
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct Entry
    {
        public long DeadlineMs;
        public long Placement; // the engine's count of placements when this order was placed: ties break by it
        public long OrderId;
    }

    private Entry[] _items;
    private int _count;

    public ExpiryHeap(int capacity) => _items = LargeArray.New<Entry>(Math.Max(16, capacity));

    public int Count => _count;
    internal Entry[] Items => _items;
    public long MemoryBytes => (long)_items.Length * Unsafe.SizeOf<Entry>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Less(in Entry a, in Entry b) =>
        a.DeadlineMs < b.DeadlineMs || (a.DeadlineMs == b.DeadlineMs && a.Placement < b.Placement);

    public void Push(long deadlineMs, long placement, long orderId)
    {
        if (_count == _items.Length)
        {
            LargeArray.Resize(ref _items, LargeArray.Grown(_items.Length));
        }
        var entry = new Entry { DeadlineMs = deadlineMs, Placement = placement, OrderId = orderId };
        var i = _count++;
        while (i > 0)
        {
            var parent = (i - 1) >> 1;
            if (!Less(entry, _items[parent]))
            {
                break;
            }
            _items[i] = _items[parent];
            i = parent;
        }
        _items[i] = entry;
    }

    public bool TryPeek(out Entry top)
    {
        top = _count > 0 ? _items[0] : default;
        return _count > 0;
    }

    public void Pop()
    {
        Debug.Assert(_count > 0);
        var last = _items[--_count];
        _items[_count] = default;
        if (_count == 0)
        {
            return;
        }
        var i = 0;
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= _count)
            {
                break;
            }
            if (child + 1 < _count && Less(_items[child + 1], _items[child]))
            {
                child++;
            }
            if (!Less(_items[child], last))
            {
                break;
            }
            _items[i] = _items[child];
            i = child;
        }
        _items[i] = last;
    }

    internal void Restore(Entry[] items, int count)
    {
        _items = items;
        _count = count;
    }
}
