using System.Diagnostics;

namespace Surge.Core;

public sealed partial class Engine
{
    private const int TierRegion = 0;
    private const int TierCountry = 1;
    private const int TierElsewhere = 2;

    /// <summary>
    /// Warehouse allocation policy, pure and deterministic. One warehouse that can ship the whole line is
    /// preferred, choosing the buyer's region first, then the buyer's country, then anywhere (ties: lowest
    /// warehouse reference). Only when no single warehouse has enough is the line split, drawing from the
    /// same tiers in the same order. Returns false, changing nothing, when all warehouses together lack stock.
    /// </summary>
    private bool Allocate(int sku, int quantity, int shipRegion, ushort shipCountry, byte flags)
    {
        var warehouseCount = _warehouses.Count;
        var cells = _cells.AsSpan(sku * _stride, warehouseCount);
        var best = -1;
        var bestTier = int.MaxValue;
        long total = 0;
        for (var w = 0; w < cells.Length; w++)
        {
            var available = cells[w].Available;
            total += available;
            if (available >= quantity)
            {
                var tier = Tier(w, shipRegion, shipCountry);
                if (tier < bestTier)
                {
                    best = w;
                    bestTier = tier;
                }
            }
        }
        if (best >= 0)
        {
            Reserve(sku, best, quantity, flags);
            return true;
        }
        if (total < quantity)
        {
            return false;
        }
        var remaining = quantity;
        for (var tier = TierRegion; tier <= TierElsewhere && remaining > 0; tier++)
        {
            for (var w = 0; w < cells.Length && remaining > 0; w++)
            {
                var available = cells[w].Available;
                if (available > 0 && Tier(w, shipRegion, shipCountry) == tier)
                {
                    var take = Math.Min(available, remaining);
                    Reserve(sku, w, take, flags);
                    remaining -= take;
                }
            }
        }
        Debug.Assert(remaining == 0);
        return true;
    }

    private int Tier(int warehouse, int shipRegion, ushort shipCountry)
    {
        if (shipRegion >= 0 && _warehouseRegion[warehouse] == shipRegion)
        {
            return TierRegion;
        }
        return shipCountry != 0 && _warehouseCountry[warehouse] == shipCountry ? TierCountry : TierElsewhere;
    }

    private void Reserve(int sku, int warehouse, int quantity, byte flags)
    {
        ref var cell = ref Cell(sku, warehouse);
        cell.Reserved += quantity;
        Debug.Assert(cell.Reserved <= cell.OnHand);
        if (_allocationCount == _allocations.Length)
        {
            LargeArray.Resize(ref _allocations, LargeArray.Grown(_allocations.Length));
        }
        _allocations[_allocationCount++] = new Allocation
        {
            Sku = sku,
            Warehouse = (short)warehouse,
            Flags = flags,
            Quantity = quantity,
        };
    }

    private RejectReason ReceiveStock(ref CommandReader reader, ref long reference) => MoveStock(ref reader, ref reference, receipt: true);

    private RejectReason AdjustStock(ref CommandReader reader, ref long reference) => MoveStock(ref reader, ref reference, receipt: false);

    /// <summary>A receipt (positive units only) or an adjustment (either sign, never below what is reserved):
    /// on hand and received move together, so received = on_hand + sold keeps holding.</summary>
    private RejectReason MoveStock(ref CommandReader reader, ref long reference, bool receipt)
    {
        var sku = reader.I32();
        var warehouse = reader.I32();
        var delta = reader.I32();
        reference = sku;
        var check = CheckStockTarget(sku, warehouse);
        if (check != RejectReason.None)
        {
            return check;
        }
        if (delta == 0 || (receipt && delta < 0) || Math.Abs((long)delta) > Limits.StockMovementUnitsMax)
        {
            return RejectReason.InvalidQuantity;
        }
        ref var cell = ref Cell(sku, warehouse);
        if (delta < 0 && cell.Available < -delta)
        {
            return RejectReason.InsufficientStock;
        }
        if ((long)cell.OnHand + delta > Limits.OnHandUnitsMax)
        {
            return RejectReason.CapacityExceeded;
        }
        cell.OnHand += delta;
        cell.Received += delta;
        EmitStock(receipt ? EventKind.StockReceived : EventKind.StockAdjusted, sku, warehouse, delta);
        return RejectReason.None;
    }

    private RejectReason CheckStockTarget(int sku, int warehouse)
    {
        if (!IsSku(sku))
        {
            return RejectReason.UnknownSku;
        }
        return IsWarehouse(warehouse) ? RejectReason.None : RejectReason.UnknownWarehouse;
    }

    private void EmitStock(EventKind kind, int sku, int warehouse, int quantity)
    {
        ref var e = ref Emit(kind, 0);
        e.Sku = sku;
        e.Warehouse = warehouse;
        e.Quantity = quantity;
    }

    private RejectReason ConfigureFlashSale(ref CommandReader reader, ref long reference)
    {
        var sku = reader.I32();
        var startsAtMs = reader.I64();
        var perBuyerLimit = reader.I32();
        reference = sku;
        if (!IsSku(sku))
        {
            return RejectReason.UnknownSku;
        }
        if (perBuyerLimit < 0 || perBuyerLimit > Limits.PerBuyerLimitMax)
        {
            return RejectReason.InvalidArgument;
        }
        ref var state = ref _skus[sku];
        state.Flags |= SkuState.FlashSaleFlag;
        state.FlashStartsAtMs = startsAtMs;
        state.PerBuyerLimit = perBuyerLimit;
        ref var e = ref Emit(EventKind.FlashSaleConfigured, 0);
        e.Sku = sku;
        e.Value = startsAtMs;
        e.Quantity = perBuyerLimit;
        return RejectReason.None;
    }
}
