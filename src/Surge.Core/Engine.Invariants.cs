namespace Surge.Core;

public sealed partial class Engine
{
    /// <summary>
    /// Full check of the stock and order invariants, O(state). Throws <see cref="InvariantViolationException"/>
    /// naming the first broken one:
    /// available ≥ 0 per SKU × warehouse; received = on_hand + sold; reserved = units of live (unpaid) orders;
    /// sold = units of paid, not cancelled orders (those retired included, kept per SKU and warehouse); buyer limits =
    /// units of their orders — per buyer for SKUs none of whose limited units were retired, per SKU otherwise.
    /// </summary>
    public void CheckInvariants()
    {
        var warehouseCount = _warehouses.Count;
        var reserved = new long[_skuCount * _stride];
        var sold = new long[_skuCount * _stride];
        var quota = new Dictionary<(long, int), long>();
        foreach (ref readonly var order in _orders.AsSpan(0, _orderCount))
        {
            var target = order.Status switch
            {
                OrderStatus.PendingPayment => reserved,
                OrderStatus.Cancelled => null,
                _ => sold,
            };
            Require(order.AllocationCount > 0, $"order {order.OrderId} has no allocation");
            foreach (ref readonly var a in _allocations.AsSpan(order.AllocationStart, order.AllocationCount))
            {
                Require(a.Quantity > 0, $"order {order.OrderId} has an allocation of {a.Quantity}");
                if (target is null)
                {
                    continue;
                }
                target[a.Sku * _stride + a.Warehouse] += a.Quantity;
                if (a.CountsAgainstLimit)
                {
                    quota[(order.BuyerId, a.Sku)] = quota.GetValueOrDefault((order.BuyerId, a.Sku)) + a.Quantity;
                }
            }
        }
        for (var sku = 0; sku < _skuCount; sku++)
        {
            for (var w = 0; w < warehouseCount; w++)
            {
                var i = sku * _stride + w;
                ref readonly var cell = ref _cells[i];
                Require(cell.OnHand >= 0 && cell.Reserved >= 0 && cell.Sold >= 0, $"negative stock at sku {sku} warehouse {w}");
                Require(cell.Available >= 0, $"available < 0 at sku {sku} warehouse {w}: on_hand {cell.OnHand}, reserved {cell.Reserved}");
                Require(cell.Received == cell.OnHand + cell.Sold, $"received {cell.Received} ≠ on_hand {cell.OnHand} + sold {cell.Sold} at sku {sku} warehouse {w}");
                Require(cell.Reserved == reserved[i], $"reserved {cell.Reserved} ≠ live reservations {reserved[i]} at sku {sku} warehouse {w}");
                var soldByOrders = sold[i] + RetiredSold(sku, w);
                Require(cell.Sold == soldByOrders, $"sold {cell.Sold} ≠ paid order units {soldByOrders} (retired ones included) at sku {sku} warehouse {w}");
            }
        }
        var heldPerSku = new Dictionary<int, long>();
        foreach (var slot in _quotas.Slots)
        {
            if (slot.SkuPlusOne == 0)
            {
                continue;
            }
            var sku = slot.SkuPlusOne - 1;
            heldPerSku[sku] = heldPerSku.GetValueOrDefault(sku) + slot.Units;
            if (!_retiredLimitUnits.ContainsKey(sku))
            {
                var expected = quota.GetValueOrDefault((slot.Buyer, sku));
                Require(slot.Units == expected, $"buyer {slot.Buyer} holds {slot.Units} of sku {sku} by the limit table but {expected} by orders");
            }
        }
        foreach (var (sku, retired) in _retiredLimitUnits)
        {
            var live = quota.Where(q => q.Key.Item2 == sku).Sum(q => q.Value);
            var held = heldPerSku.GetValueOrDefault(sku);
            Require(held == live + retired, $"buyers hold {held} limited units of sku {sku} by the limit table but {live} + {retired} retired by orders");
        }
        Require(_allocationGarbage >= 0 && _allocationGarbage <= _allocationCount, "allocation garbage out of range");
        Require(_orderIndex.Count == _orderCount, "order index and order table disagree");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvariantViolationException(message);
        }
    }
}
