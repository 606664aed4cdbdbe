using System.Diagnostics;

namespace Surge.Core;

public sealed partial class Engine
{
    private RejectReason PlaceOrder(ref CommandReader reader, ref long reference)
    {
        var orderId = reader.I64();
        var parentId = reader.I64();
        var buyerId = reader.I64();
        var sellerId = reader.I64();
        var expiresAtMs = reader.I64();
        var shipRegion = reader.I32();
        var shipCountry = reader.U16();
        int lineCount = reader.U8();
        var lines = reader.Bytes(lineCount * CommandWriter.OrderLineBytes);
        reference = orderId;

        if (_orderIndex.Get(orderId) >= 0 || IsRetired(orderId))
        {
            return RejectReason.DuplicateOrder;
        }
        if (orderId == 0 || lineCount == 0 || lineCount > Limits.LinesPerOrderMax || expiresAtMs <= _nowMs)
        {
            return RejectReason.InvalidArgument;
        }
        if (_orderCount == Limits.OrdersMax)
        {
            return RejectReason.CapacityExceeded;
        }
        var allocationStart = _allocationCount;
        var reason = ReserveLines(lines, buyerId, sellerId, shipRegion, shipCountry);
        if (reason != RejectReason.None)
        {
            RollBack(allocationStart, buyerId);
            return reason;
        }
        RecordOrder(orderId, parentId, buyerId, expiresAtMs, allocationStart, shipRegion, shipCountry);
        return RejectReason.None;
    }

    /// <summary>Checks and reserves every line in one pass, appending allocations to the arena; on a rejection
    /// the caller rolls back what earlier lines reserved (rare, and cheaper than checking every line twice).</summary>
    private RejectReason ReserveLines(ReadOnlySpan<byte> lines, long buyerId, long sellerId, int shipRegion, ushort shipCountry)
    {
        var reader = new CommandReader(lines);
        while (!reader.AtEnd)
        {
            var sku = reader.I32();
            var quantity = reader.I32();
            if (!IsSku(sku) || _skus[sku].SellerId != sellerId)
            {
                return RejectReason.UnknownSku;
            }
            if (quantity <= 0 || quantity > Limits.QuantityPerLineMax)
            {
                return RejectReason.InvalidQuantity;
            }
            ref readonly var state = ref _skus[sku];
            if (state.IsFlashSale && _nowMs < state.FlashStartsAtMs)
            {
                return RejectReason.SaleNotStarted;
            }
            var limited = state.IsFlashSale && state.PerBuyerLimit > 0;
            if (limited && _quotas.Get(buyerId, sku) + quantity > state.PerBuyerLimit)
            {
                return RejectReason.LimitExceeded;
            }
            if (!Allocate(sku, quantity, shipRegion, shipCountry, limited ? Allocation.CountsAgainstLimitFlag : (byte)0))
            {
                return RejectReason.InsufficientStock;
            }
            if (limited)
            {
                _quotas.Add(buyerId, sku, quantity);
            }
        }
        return RejectReason.None;
    }

    private void RollBack(int allocationStart, long buyerId)
    {
        ReturnUnits(_allocations.AsSpan(allocationStart, _allocationCount - allocationStart), buyerId, wasPaid: false);
        _allocationCount = allocationStart;
    }

    private void RecordOrder(long orderId, long parentId, long buyerId, long expiresAtMs, int allocationStart, int shipRegion, ushort shipCountry)
    {
        if (_orderCount == _orders.Length)
        {
            LargeArray.Resize(ref _orders, LargeArray.Grown(_orders.Length));
        }
        var index = _orderCount++;
        _orders[index] = new OrderRecord
        {
            OrderId = orderId,
            ParentId = parentId,
            BuyerId = buyerId,
            ExpiresAtMs = expiresAtMs,
            PlacedAtMs = _nowMs,
            AllocationStart = allocationStart,
            AllocationCount = (ushort)(_allocationCount - allocationStart),
            Status = OrderStatus.PendingPayment,
        };
        _orderIndex.Add(orderId, index);
        _expiries.Push(expiresAtMs, _placements++, orderId);
        ref var placed = ref Emit(EventKind.OrderPlaced, orderId);
        placed.Status = OrderStatus.PendingPayment;
        placed.Value = expiresAtMs;
        placed.Warehouse = shipRegion;
        placed.Quantity = shipCountry;
        for (var i = allocationStart; i < _allocationCount; i++)
        {
            ref readonly var a = ref _allocations[i];
            ref var reserved = ref Emit(EventKind.ItemReserved, orderId);
            reserved.Sku = a.Sku;
            reserved.Warehouse = a.Warehouse;
            reserved.Quantity = a.Quantity;
        }
    }

    private RejectReason ConfirmPayment(ref CommandReader reader, ref long reference)
    {
        var orderId = reference = reader.I64();
        var index = _orderIndex.Get(orderId);
        if (index < 0)
        {
            return Missing(orderId);
        }
        ref var order = ref _orders[index];
        if (order.Status != OrderStatus.PendingPayment)
        {
            return IsPaidOrBeyond(order.Status) ? RejectReason.None : RejectReason.InvalidTransition;
        }
        foreach (ref readonly var a in _allocations.AsSpan(order.AllocationStart, order.AllocationCount))
        {
            ref var cell = ref Cell(a.Sku, a.Warehouse);
            cell.Reserved -= a.Quantity;
            cell.OnHand -= a.Quantity;
            cell.Sold += a.Quantity;
            Debug.Assert(cell.Reserved >= 0 && cell.OnHand >= cell.Reserved);
        }
        order.Status = OrderStatus.Paid;
        Emit(EventKind.PaymentConfirmed, orderId).Status = OrderStatus.Paid;
        return RejectReason.None;
    }

    private static bool IsPaidOrBeyond(OrderStatus status) =>
        status is >= OrderStatus.Paid and <= OrderStatus.Delivered or OrderStatus.Exception or OrderStatus.Returned;

    private RejectReason CancelOrder(ref CommandReader reader, ref long reference)
    {
        var orderId = reference = reader.I64();
        var reason = (CancelReason)reader.U8();
        if (reason is CancelReason.None or > CancelReason.ParentAborted)
        {
            return RejectReason.InvalidArgument;
        }
        var index = _orderIndex.Get(orderId);
        if (index < 0)
        {
            return Missing(orderId);
        }
        ref var order = ref _orders[index];
        switch (order.Status)
        {
            case OrderStatus.Cancelled:
                return RejectReason.None;
            case OrderStatus.PendingPayment:
            case OrderStatus.Paid:
            case OrderStatus.Allocated:
                Release(ref order, reason, EventKind.OrderCancelled);
                return RejectReason.None;
            default:
                return RejectReason.InvalidTransition;
        }
    }

    /// <summary>Gives allocated units back: held reservations go back to available, sold units back on hand,
    /// and the buyer's flash-sale limit is freed.</summary>
    private void ReturnUnits(ReadOnlySpan<Allocation> allocations, long buyerId, bool wasPaid)
    {
        foreach (ref readonly var a in allocations)
        {
            ref var cell = ref Cell(a.Sku, a.Warehouse);
            if (wasPaid)
            {
                cell.Sold -= a.Quantity;
                cell.OnHand += a.Quantity;
            }
            else
            {
                cell.Reserved -= a.Quantity;
            }
            if (a.CountsAgainstLimit)
            {
                _quotas.Add(buyerId, a.Sku, -a.Quantity);
            }
            Debug.Assert(cell.Reserved >= 0 && cell.Sold >= 0);
        }
    }

    /// <summary>Cancels an order, returning its units.</summary>
    private void Release(ref OrderRecord order, CancelReason reason, EventKind kind)
    {
        ReturnUnits(_allocations.AsSpan(order.AllocationStart, order.AllocationCount), order.BuyerId,
            wasPaid: order.Status != OrderStatus.PendingPayment);
        order.Status = OrderStatus.Cancelled;
        order.CancelReason = reason;
        ref var e = ref Emit(kind, order.OrderId);
        e.Status = OrderStatus.Cancelled;
        e.CancelReason = reason;
        e.Value = _nowMs;
        BecameFinal(order.OrderId);
    }

    /// <summary>Cancels every unpaid order whose reservation deadline is at or before the engine's clock,
    /// in (deadline, placement) order.</summary>
    private void ExpireDue()
    {
        while (_expiries.TryPeek(out var top) && top.DeadlineMs <= _nowMs)
        {
            _expiries.Pop();
            var index = _orderIndex.Get(top.OrderId);
            if (index < 0)
            {
                continue;
            }
            ref var order = ref _orders[index];
            if (order.Status == OrderStatus.PendingPayment)
            {
                Release(ref order, CancelReason.PaymentTimeout, EventKind.ReservationExpired);
            }
        }
    }

    private RejectReason AdvanceStatus(ref CommandReader reader, ref long reference)
    {
        var orderId = reference = reader.I64();
        var target = (OrderStatus)reader.U8();
        var index = _orderIndex.Get(orderId);
        if (index < 0)
        {
            return Missing(orderId);
        }
        ref var order = ref _orders[index];
        if (order.Status == target)
        {
            return RejectReason.None;
        }
        if (!StatusTransitions.IsAllowedAdvance(order.Status, target))
        {
            return RejectReason.InvalidTransition;
        }
        var wasFinal = IsFinal(order.Status);
        order.Status = target;
        Emit(EventKind.StatusAdvanced, orderId).Status = target;
        if (!wasFinal && IsFinal(target))
        {
            BecameFinal(orderId);
        }
        return RejectReason.None;
    }
}

/// <summary>The forward-only status graph that <see cref="CommandKind.AdvanceStatus"/> follows. Payment and
/// cancellation have their own commands because they move stock.</summary>
public static class StatusTransitions
{
    public static bool IsAllowedAdvance(OrderStatus from, OrderStatus to) => (from, to) switch
    {
        (OrderStatus.Paid, OrderStatus.Allocated) => true,
        (OrderStatus.Allocated, OrderStatus.Dispatched) => true,
        (OrderStatus.Dispatched, OrderStatus.InTransit or OrderStatus.OutForDelivery or OrderStatus.Delivered or OrderStatus.Exception) => true,
        (OrderStatus.InTransit, OrderStatus.OutForDelivery or OrderStatus.Delivered or OrderStatus.Exception) => true,
        (OrderStatus.OutForDelivery, OrderStatus.Delivered or OrderStatus.Exception) => true,
        (OrderStatus.Exception, OrderStatus.Delivered or OrderStatus.Returned) => true,
        (OrderStatus.Delivered, OrderStatus.Returned) => true,
        _ => false,
    };

    /// <summary>Position on the forward path; every allowed transition strictly increases it.</summary>
    public static int Rank(OrderStatus status) => status switch
    {
        OrderStatus.PendingPayment => 1,
        OrderStatus.Paid => 2,
        OrderStatus.Allocated => 3,
        OrderStatus.Dispatched => 4,
        OrderStatus.InTransit => 5,
        OrderStatus.OutForDelivery => 6,
        OrderStatus.Exception => 7,
        OrderStatus.Delivered => 8,
        OrderStatus.Returned => 9,
        OrderStatus.Cancelled => 10,
        _ => 0,
    };
}
