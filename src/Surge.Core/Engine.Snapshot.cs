using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Surge.Core;

public sealed partial class Engine
{
    /// <summary>"SURGESNP" little-endian.</summary>
    private const ulong SnapshotMagic = 0x504E534547525553UL;
    private const int SnapshotFormatVersion = 3;
    private const int SnapshotFormatVersionWithoutRetirement = 2;
    private const int SnapshotFormatVersionWithoutKeys = 1;
    private const int RawChunkElements = 1 << 20;

    /// <summary>
    /// Writes the whole state. The layout is fixed and contains no addresses, hash seeds or times, so two
    /// engines in the same state write the same bytes (this is what <see cref="StateHash"/> hashes).
    /// <code>
    /// magic:u64 | version:i32 | now_ms:i64
    /// | regions: count:i32, name:string×count
    /// | warehouses: count:i32, (code:string, region:string, country:string)×count
    /// | skus: count:i32, (seller:i64, code, title, category:string, weight_g, length_mm, width_mm, height_mm:i32,
    ///                     temperature:u8, hazmat:bool, price_minor:i64, currency:string)×count
    /// | stride:i32 | SkuState×skus | StockCell×(skus·stride) | orders:i32, OrderRecord×orders
    /// | allocations:i32, Allocation×allocations | order index: slots:i32, count:i32, Slot×slots
    /// | buyer limits: slots:i32, count:i32, Slot×slots | expiries: count:i32, (deadline_ms:i64, placement:i64, order:i64)×count
    /// | idempotency keys: evicted_early:i64, count:i32, Entry×count (in arrival order)
    /// | retirement: placements:i64, retain_ms:i64, id_block_bits:i32, retired_orders:i64, allocation_garbage:i32,
    ///   floors: count:i32, (block:i64, floor:i64)×count by block, retired sold: count:i32, (sku:i32, warehouse:i32,
    ///   units:i64)×count by (sku, warehouse), retired limit units: count:i32, (sku:i32, units:i64)×count by sku,
    ///   retirement queue: count:i32, (final_at_ms:i64, order:i64)×count oldest first
    /// | magic:u64
    /// (format 2 has expiries as (deadline_ms:i64, order_index:i32) and no retirement; format 1 also no idempotency
    /// keys: both are read as having none)
    /// </code>
    /// Strings use <see cref="BinaryWriter"/>'s length-prefixed UTF-8; structs are their in-memory bytes.
    /// </summary>
    public void WriteSnapshot(Stream destination)
    {
        using var w = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
        WriteState(w, canonical: false);
    }

    /// <summary>In canonical form the hash tables, whose slot layout depends on how they were sized, are
    /// replaced by their content in a fixed order: the order index is implied by the order table, and the
    /// buyer limits are written as sorted (buyer, sku, units) triples with units &gt; 0.</summary>
    private void WriteState(BinaryWriter w, bool canonical)
    {
        w.Write(SnapshotMagic);
        w.Write(SnapshotFormatVersion);
        w.Write(_nowMs);
        w.Write(_regions.Count);
        _regions.ForEach(w.Write);
        w.Write(_warehouses.Count);
        foreach (var wh in _warehouses)
        {
            w.Write(wh.Code);
            w.Write(wh.Region);
            w.Write(wh.Country);
        }
        w.Write(_skuCount);
        foreach (var s in _skuInfo)
        {
            WriteSkuInfo(w, s);
        }
        w.Write(_stride);
        WriteRaw(w, _skus.AsSpan(0, _skuCount));
        WriteRaw(w, _cells.AsSpan(0, _skuCount * _stride));
        w.Write(_orderCount);
        WriteRaw(w, _orders.AsSpan(0, _orderCount));
        w.Write(_allocationCount);
        WriteRaw(w, _allocations.AsSpan(0, _allocationCount));
        if (canonical)
        {
            WriteCanonicalQuotas(w);
        }
        else
        {
            w.Write(_orderIndex.Slots.Length);
            w.Write(_orderIndex.Count);
            WriteRaw(w, _orderIndex.Slots.AsSpan());
            w.Write(_quotas.Slots.Length);
            w.Write(_quotas.Count);
            WriteRaw(w, _quotas.Slots.AsSpan());
        }
        w.Write(_expiries.Count);
        WriteRaw(w, _expiries.Items.AsSpan(0, _expiries.Count));
        w.Write(_keys.EvictedEarly);
        var keys = _keys.InArrivalOrder().ToArray();
        w.Write(keys.Length);
        WriteRaw<IdempotencyTable.Entry>(w, keys);
        WriteRetirement(w);
        w.Write(SnapshotMagic);
    }

    /// <summary>Rebuilds an engine from <see cref="WriteSnapshot"/> output. Throws <see cref="InvalidDataException"/>
    /// on a snapshot of another format or a truncated one.</summary>
    public static Engine ReadSnapshot(Stream source)
    {
        using var r = new BinaryReader(source, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            return ReadSnapshotCore(r);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("snapshot is truncated", e);
        }
    }

    private static Engine ReadSnapshotCore(BinaryReader r)
    {
        if (r.ReadUInt64() != SnapshotMagic)
        {
            throw new InvalidDataException("not a Surge engine snapshot (bad magic)");
        }
        var version = r.ReadInt32();
        if (version is not (SnapshotFormatVersion or SnapshotFormatVersionWithoutRetirement or SnapshotFormatVersionWithoutKeys))
        {
            throw new InvalidDataException($"snapshot format {version} is not supported (expected {SnapshotFormatVersion})");
        }
        var engine = new Engine(new EngineOptions(ExpectedSkus: 16, ExpectedOrders: 16, ExpectedBuyerLimits: 16));
        engine._nowMs = r.ReadInt64();
        var regionCount = CheckedCount(r.ReadInt32(), int.MaxValue);
        for (var i = 0; i < regionCount; i++)
        {
            engine.InternRegion(r.ReadString());
        }
        var warehouseCount = CheckedCount(r.ReadInt32(), Limits.WarehousesMax);
        for (var i = 0; i < warehouseCount; i++)
        {
            var wh = new WarehouseInfo(r.ReadString(), r.ReadString(), r.ReadString());
            engine._warehouses.Add(wh);
            engine._warehouseByCode.Add(wh.Code, i);
            engine._warehouseRegion[i] = engine.InternRegion(wh.Region);
            engine._warehouseCountry[i] = CountryCode.Pack(wh.Country);
        }
        var skuCount = CheckedCount(r.ReadInt32(), Limits.SkusMax);
        for (var i = 0; i < skuCount; i++)
        {
            var info = ReadSkuInfo(r);
            engine._skuInfo.Add(info);
            engine._skuByKey.Add((info.SellerId, info.Code), i);
        }
        engine._stride = CheckedCount(r.ReadInt32(), Limits.WarehousesMax);
        engine._skuCount = skuCount;
        engine._skus = ReadRaw<SkuState>(r, skuCount, Headroom(skuCount));
        engine._cells = ReadRaw<StockCell>(r, skuCount * engine._stride, engine._skus.Length * engine._stride);
        engine._orderCount = CheckedCount(r.ReadInt32(), Limits.OrdersMax);
        engine._orders = ReadRaw<OrderRecord>(r, engine._orderCount, Headroom(engine._orderCount));
        engine._allocationCount = CheckedCount(r.ReadInt32(), int.MaxValue);
        engine._allocations = ReadRaw<Allocation>(r, engine._allocationCount, Headroom(engine._allocationCount));
        var indexSlots = CheckedCount(r.ReadInt32(), int.MaxValue);
        var indexCount = r.ReadInt32();
        engine._orderIndex.Restore(ReadRaw<LongIntMap.Slot>(r, indexSlots, indexSlots), indexCount);
        var quotaSlots = CheckedCount(r.ReadInt32(), int.MaxValue);
        var quotaCount = r.ReadInt32();
        engine._quotas.Restore(ReadRaw<BuyerQuotaMap.Slot>(r, quotaSlots, quotaSlots), quotaCount);
        var expiryCount = CheckedCount(r.ReadInt32(), int.MaxValue);
        if (version == SnapshotFormatVersion)
        {
            engine._expiries.Restore(ReadRaw<ExpiryHeap.Entry>(r, expiryCount, Headroom(expiryCount)), expiryCount);
        }
        else
        {
            // Older formats kept the order's place in the order table; the heap names orders by id now.
            // The same heap order: the order's place in the table was its placement order, and no order had retired.
            var old = ReadRaw<LegacyExpiry>(r, expiryCount, expiryCount);
            var entries = LargeArray.New<ExpiryHeap.Entry>(Headroom(expiryCount));
            for (var i = 0; i < expiryCount; i++)
            {
                var index = old[i].OrderIndex;
                entries[i] = new ExpiryHeap.Entry
                {
                    DeadlineMs = old[i].DeadlineMs,
                    Placement = index,
                    OrderId = (uint)index < (uint)engine._orderCount ? engine._orders[index].OrderId
                        : throw new InvalidDataException($"snapshot expiry names order {index} of {engine._orderCount}"),
                };
            }
            engine._expiries.Restore(entries, expiryCount);
            engine._placements = engine._orderCount;
        }
        if (version >= SnapshotFormatVersionWithoutRetirement)
        {
            var evictedEarly = r.ReadInt64();
            var keyCount = CheckedCount(r.ReadInt32(), Limits.IdempotencyKeysMax);
            engine._keys.Restore(ReadRaw<IdempotencyTable.Entry>(r, keyCount, keyCount).Take(keyCount), evictedEarly);
        }
        if (version == SnapshotFormatVersion)
        {
            engine.ReadRetirement(r);
        }
        if (r.ReadUInt64() != SnapshotMagic)
        {
            throw new InvalidDataException("snapshot trailer is missing");
        }
        return engine;
    }

    /// <summary>64-bit XXH3 of the canonical state: equal states have equal hashes, however the engines
    /// were sized or restored.</summary>
    public ulong StateHash()
    {
        var hash = new XxHash3();
        using var stream = new HashingWriteStream(hash);
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            WriteState(w, canonical: true);
        }
        return hash.GetCurrentHashAsUInt64();
    }

    private void WriteCanonicalQuotas(BinaryWriter w)
    {
        var held = _quotas.Slots.Where(s => s.SkuPlusOne != 0 && s.Units > 0)
            .OrderBy(s => s.Buyer).ThenBy(s => s.SkuPlusOne).ToList();
        w.Write(held.Count);
        foreach (var s in held)
        {
            w.Write(s.Buyer);
            w.Write(s.SkuPlusOne - 1);
            w.Write(s.Units);
        }
    }

    /// <summary>An expiry as formats 1 and 2 wrote it.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct LegacyExpiry
    {
        public long DeadlineMs;
        public int OrderIndex;
    }

    private static int Headroom(int count) => Math.Max(16, count + count / 4);

    private static int CheckedCount(int count, int max) =>
        count >= 0 && count <= max ? count : throw new InvalidDataException($"snapshot count {count} is outside [0, {max}]");

    private static void WriteSkuInfo(BinaryWriter w, SkuDefinition s)
    {
        w.Write(s.SellerId);
        w.Write(s.Code);
        w.Write(s.Title);
        w.Write(s.Category);
        w.Write(s.WeightGrams);
        w.Write(s.LengthMm);
        w.Write(s.WidthMm);
        w.Write(s.HeightMm);
        w.Write((byte)s.Temperature);
        w.Write(s.Hazmat);
        w.Write(s.PriceMinor);
        w.Write(s.Currency);
    }

    private static SkuDefinition ReadSkuInfo(BinaryReader r) => new(
        r.ReadInt64(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(),
        r.ReadInt32(), (TemperatureClass)r.ReadByte(), r.ReadBoolean(), r.ReadInt64(), r.ReadString());

    private static void WriteRaw<T>(BinaryWriter w, ReadOnlySpan<T> items) where T : unmanaged
    {
        for (var start = 0; start < items.Length; start += RawChunkElements)
        {
            var chunk = items.Slice(start, Math.Min(RawChunkElements, items.Length - start));
            w.Write(MemoryMarshal.AsBytes(chunk));
        }
    }

    private static T[] ReadRaw<T>(BinaryReader r, int count, int capacity) where T : unmanaged
    {
        var items = LargeArray.New<T>(Math.Max(count, capacity));
        for (var start = 0; start < count; start += RawChunkElements)
        {
            var chunk = items.AsSpan(start, Math.Min(RawChunkElements, count - start));
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(chunk));
        }
        return items;
    }
}
