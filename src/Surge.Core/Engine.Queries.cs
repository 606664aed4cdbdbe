using System.Runtime.CompilerServices;

namespace Surge.Core;

public sealed partial class Engine
{
    public int SkuCount => _skuCount;
    public int OrderCount => _orderCount;
    public IReadOnlyList<WarehouseInfo> Warehouses => _warehouses;

    /// <summary>The SKU reference of (seller, code), or -1.</summary>
    public int FindSku(long sellerId, string code) => _skuByKey.TryGetValue((sellerId, code), out var sku) ? sku : -1;

    public SkuDefinition GetSku(int sku) => IsSku(sku) ? _skuInfo[sku] : throw new ArgumentOutOfRangeException(nameof(sku));

    /// <summary>Start time and per-buyer limit of the SKU's flash sale, if one is configured.</summary>
    public (long StartsAtMs, int PerBuyerLimit)? GetFlashSale(int sku)
    {
        ref readonly var state = ref _skus[IsSku(sku) ? sku : throw new ArgumentOutOfRangeException(nameof(sku))];
        return state.IsFlashSale ? (state.FlashStartsAtMs, state.PerBuyerLimit) : null;
    }

    public int FindWarehouse(string code) => _warehouseByCode.TryGetValue(code, out var w) ? w : -1;

    /// <summary>The region reference used in <see cref="CommandWriter.PlaceOrder"/>, or -1 when no warehouse is in it.</summary>
    public int FindRegion(string region) => _regionByName.TryGetValue(region, out var r) ? r : -1;

    /// <summary>The name of a region reference (from <see cref="FindRegion"/> or an <see cref="EventKind.OrderPlaced"/>
    /// event), or null for -1 and unknown references.</summary>
    public string? RegionName(int region) => (uint)region < (uint)_regions.Count ? _regions[region] : null;

    public StockCell GetStock(int sku, int warehouse) =>
        IsSku(sku) && IsWarehouse(warehouse) ? Cell(sku, warehouse) : throw new ArgumentOutOfRangeException(nameof(sku));

    public StockTotals GetStockTotals(int sku)
    {
        if (!IsSku(sku))
        {
            throw new ArgumentOutOfRangeException(nameof(sku));
        }
        long onHand = 0, reserved = 0, sold = 0, received = 0;
        foreach (var cell in _cells.AsSpan(sku * _stride, _warehouses.Count))
        {
            onHand += cell.OnHand;
            reserved += cell.Reserved;
            sold += cell.Sold;
            received += cell.Received;
        }
        return new StockTotals(onHand, reserved, onHand - reserved, sold, received);
    }

    public int BuyerUnits(long buyerId, int sku) => _quotas.Get(buyerId, sku);

    public OrderStatus GetOrderStatus(long orderId)
    {
        var index = _orderIndex.Get(orderId);
        return index < 0 ? OrderStatus.None : _orders[index].Status;
    }

    public OrderSnapshot? GetOrder(long orderId)
    {
        var index = _orderIndex.Get(orderId);
        return index < 0 ? null : GetOrderAt(index);
    }

    /// <summary>The order at a position of the order table (0 ≤ index &lt; <see cref="OrderCount"/>), in placement
    /// order: a stable cursor for listings.</summary>
    public OrderSnapshot GetOrderAt(int index)
    {
        if ((uint)index >= (uint)_orderCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }
        ref readonly var o = ref _orders[index];
        var sellerId = _skus[_allocations[o.AllocationStart].Sku].SellerId;
        return new OrderSnapshot(o.OrderId, o.ParentId, o.BuyerId, sellerId, o.Status, o.CancelReason, o.PlacedAtMs,
            o.ExpiresAtMs, _allocations.AsSpan(o.AllocationStart, o.AllocationCount).ToArray());
    }

    /// <summary>The seller of the order at a position of the order table (cheap filter for listings).</summary>
    public long SellerAt(int index) =>
        (uint)index < (uint)_orderCount ? _skus[_allocations[_orders[index].AllocationStart].Sku].SellerId : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The seller of an order, or -1 when there is no such order.</summary>
    public long SellerOfOrder(long orderId)
    {
        var index = _orderIndex.Get(orderId);
        return index < 0 ? -1 : SellerAt(index);
    }

    /// <summary>The earliest deadline waiting in the expiry queue, or null. It may belong to an order paid or
    /// cancelled since (those leave the queue lazily); a batch at or after it clears it either way.</summary>
    public long? NextExpiryMs => _expiries.TryPeek(out var top) ? top.DeadlineMs : null;

    /// <summary>Counts and memory of the state. Walks the order table: O(orders), for reports, not the hot path.</summary>
    public EngineStats Stats()
    {
        var live = 0;
        foreach (ref readonly var o in _orders.AsSpan(0, _orderCount))
        {
            if (o.Status == OrderStatus.PendingPayment)
            {
                live++;
            }
        }
        var bytes = (long)_skus.Length * Unsafe.SizeOf<SkuState>()
            + (long)_cells.Length * Unsafe.SizeOf<StockCell>()
            + (long)_orders.Length * Unsafe.SizeOf<OrderRecord>()
            + (long)_allocations.Length * Unsafe.SizeOf<Allocation>()
            + _orderIndex.MemoryBytes + _expiries.MemoryBytes + _quotas.MemoryBytes
            + (long)_retiring.Length * 16 + (_retiredFloors.Count + _retiredSold.Count + _retiredLimitUnits.Count) * 32L;
        return new EngineStats(_skuCount, _warehouses.Count, _orderCount, live, _allocationCount, _quotas.Count, bytes, _retiredOrders, _retiredFloors.Count);
    }
}
