namespace Surge.Core;

public sealed partial class Engine
{
    /// <summary>
    /// Full check of the stock and order invariants, O(state). Throws <see cref="InvariantViolationException"/>
    /// naming the first broken one:
    /// available ≥ 0 per SKU × warehouse; received = on_hand + sold; reserved = units of live (unpaid) orders;
    /// sold = units of paid, not cancelled orders; buyer limits = units of their live orders.
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
                Require(cell.Sold == sold[i], $"sold {cell.Sold} ≠ paid order units {sold[i]} at sku {sku} warehouse {w}");
            }
        }
        foreach (var slot in _quotas.Slots)
        {
            if (slot.SkuPlusOne != 0)
            {
                var expected = quota.GetValueOrDefault((slot.Buyer, slot.SkuPlusOne - 1));
                Require(slot.Units == expected, $"buyer {slot.Buyer} holds {slot.Units} of sku {slot.SkuPlusOne - 1} by the limit table but {expected} by orders");
            }
        }
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
