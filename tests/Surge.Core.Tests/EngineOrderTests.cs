using Surge.Core;

namespace Surge.Core.Tests;

public class EngineOrderTests
{
    private readonly Harness _h = new();

    [Fact]
    public void Place_WithinStock_ReservesAndAvailableDrops()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);

        var outcome = _h.Place(1, Harness.SellerA, new OrderLine(sku, 3));

        Assert.True(outcome.Accepted);
        var totals = _h.Engine.GetStockTotals(sku);
        Assert.Equal(10, totals.OnHand);
        Assert.Equal(3, totals.Reserved);
        Assert.Equal(7, totals.Available);
        Assert.Equal(OrderStatus.PendingPayment, _h.Engine.GetOrderStatus(1));
        var events = _h.LastEvents();
        Assert.Equal([EventKind.OrderPlaced, EventKind.ItemReserved], events.Select(e => e.Kind));
        Assert.Equal(3, events[1].Quantity);
    }

    [Fact]
    public void Reserve_MoreThanAvailable_IsRejectedAndStockUnchanged()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 2);
        var before = _h.Engine.StateHash();

        var outcome = _h.Place(1, Harness.SellerA, new OrderLine(sku, 3));

        Assert.Equal(RejectReason.InsufficientStock, outcome.Reason);
        Assert.Equal(before, _h.Engine.StateHash());
        Assert.Equal(OrderStatus.None, _h.Engine.GetOrderStatus(1));
    }

    [Fact]
    public void Place_SecondLineShort_RollsBackTheFirstLine()
    {
        var plenty = _h.Sku(Harness.SellerA, "plenty");
        var scarce = _h.Sku(Harness.SellerA, "scarce");
        _h.Receive(plenty, _h.Seoul, 100);
        _h.Receive(scarce, _h.Seoul, 1);

        var outcome = _h.Place(1, Harness.SellerA, new OrderLine(plenty, 5), new OrderLine(scarce, 2));

        Assert.Equal(RejectReason.InsufficientStock, outcome.Reason);
        Assert.Equal(0, _h.Engine.GetStockTotals(plenty).Reserved);
        Assert.Equal(0, _h.Engine.GetStockTotals(scarce).Reserved);
    }

    [Fact]
    public void Place_SameSkuOnTwoLines_CountsBothAgainstStock()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 5);

        Assert.Equal(RejectReason.InsufficientStock, _h.Place(1, Harness.SellerA, new OrderLine(sku, 3), new OrderLine(sku, 3)).Reason);
        Assert.True(_h.Place(2, Harness.SellerA, new OrderLine(sku, 3), new OrderLine(sku, 2)).Accepted);
        Assert.Equal(0, _h.Engine.GetStockTotals(sku).Available);
    }

    [Fact]
    public void Place_SkuOfAnotherSeller_IsUnknownSku()
    {
        var skuOfB = _h.Sku(Harness.SellerB, "lamp");
        _h.Receive(skuOfB, _h.Seoul, 5);

        Assert.Equal(RejectReason.UnknownSku, _h.Place(1, Harness.SellerA, new OrderLine(skuOfB, 1)).Reason);
        Assert.Equal(RejectReason.UnknownSku, _h.Place(2, Harness.SellerA, new OrderLine(999, 1)).Reason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(Limits.QuantityPerLineMax + 1)]
    public void Place_QuantityOutOfRange_IsInvalidQuantity(int quantity)
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);

        Assert.Equal(RejectReason.InvalidQuantity, _h.Place(1, Harness.SellerA, new OrderLine(sku, quantity)).Reason);
    }

    [Fact]
    public void Place_NoLinesOrTooMany_IsInvalidArgument()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 1000);

        Assert.Equal(RejectReason.InvalidArgument, _h.Place(1, Harness.SellerA).Reason);
        var tooMany = Enumerable.Repeat(new OrderLine(sku, 1), Limits.LinesPerOrderMax + 1).ToArray();
        Assert.Equal(RejectReason.InvalidArgument, _h.Place(2, Harness.SellerA, tooMany).Reason);
    }

    [Fact]
    public void Place_DuplicateOrderId_IsAnsweredWithTheOriginalAndNotAppliedTwice()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        Assert.True(_h.Place(7, Harness.SellerA, new OrderLine(sku, 2)).Accepted);
        var before = _h.Engine.StateHash();

        var again = _h.Place(7, Harness.SellerA, new OrderLine(sku, 2));

        Assert.Equal(RejectReason.DuplicateOrder, again.Reason);
        Assert.Equal(7, again.Ref);
        Assert.Equal(before, _h.Engine.StateHash());
        var original = _h.Engine.GetOrder(7)!;
        Assert.Equal(OrderStatus.PendingPayment, original.Status);
        Assert.Equal(2, original.Allocations.Sum(a => a.Quantity));
    }

    [Fact]
    public void ConfirmPayment_MovesReservationToSold()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 4));

        Assert.True(_h.Pay(1).Accepted);

        var totals = _h.Engine.GetStockTotals(sku);
        Assert.Equal(6, totals.OnHand);
        Assert.Equal(0, totals.Reserved);
        Assert.Equal(4, totals.Sold);
        Assert.Equal(10, totals.Received);
        Assert.Equal(OrderStatus.Paid, _h.Engine.GetOrderStatus(1));
        Assert.True(_h.Pay(1).Accepted); // idempotent
        Assert.Equal(4, _h.Engine.GetStockTotals(sku).Sold);
    }

    [Fact]
    public void Cancel_Pending_ReturnsReservedStock()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 4));

        Assert.True(_h.Cancel(1).Accepted);

        Assert.Equal(10, _h.Engine.GetStockTotals(sku).Available);
        Assert.Equal(OrderStatus.Cancelled, _h.Engine.GetOrderStatus(1));
        Assert.Equal(RejectReason.InvalidTransition, _h.Pay(1).Reason);
    }

    [Fact]
    public void Cancel_Paid_PutsSoldUnitsBackOnHand()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 4));
        _h.Pay(1);

        Assert.True(_h.Cancel(1).Accepted);

        var totals = _h.Engine.GetStockTotals(sku);
        Assert.Equal(10, totals.OnHand);
        Assert.Equal(0, totals.Sold);
    }

    [Fact]
    public void Cancel_AfterDispatch_IsInvalidTransition()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 1));
        _h.Pay(1);
        Assert.True(_h.Advance(1, OrderStatus.Allocated).Accepted);
        Assert.True(_h.Advance(1, OrderStatus.Dispatched).Accepted);

        Assert.Equal(RejectReason.InvalidTransition, _h.Cancel(1).Reason);
        Assert.Equal(OrderStatus.Dispatched, _h.Engine.GetOrderStatus(1));
    }

    [Fact]
    public void UnknownOrder_IsOrderNotFound()
    {
        Assert.Equal(RejectReason.OrderNotFound, _h.Pay(42).Reason);
        Assert.Equal(RejectReason.OrderNotFound, _h.Cancel(42).Reason);
        Assert.Equal(RejectReason.OrderNotFound, _h.Advance(42, OrderStatus.Allocated).Reason);
    }

    [Fact]
    public void Advance_FollowsTheForwardPathAndRefusesToGoBack()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 1));

        Assert.Equal(RejectReason.InvalidTransition, _h.Advance(1, OrderStatus.Allocated).Reason); // unpaid
        _h.Pay(1);
        foreach (var status in new[] { OrderStatus.Allocated, OrderStatus.Dispatched, OrderStatus.InTransit, OrderStatus.OutForDelivery, OrderStatus.Delivered })
        {
            Assert.True(_h.Advance(1, status).Accepted, status.ToCode());
        }
        Assert.Equal(RejectReason.InvalidTransition, _h.Advance(1, OrderStatus.InTransit).Reason);
        Assert.Equal(RejectReason.InvalidTransition, _h.Advance(1, OrderStatus.Paid).Reason);
        Assert.Equal(OrderStatus.Delivered, _h.Engine.GetOrderStatus(1));
    }

    [Fact]
    public void EveryAllowedAdvance_RaisesTheStatusRank()
    {
        var statuses = Enum.GetValues<OrderStatus>();
        foreach (var from in statuses)
        {
            foreach (var to in statuses.Where(to => StatusTransitions.IsAllowedAdvance(from, to)))
            {
                Assert.True(StatusTransitions.Rank(to) > StatusTransitions.Rank(from), $"{from} → {to}");
            }
        }
    }
}
