using Surge.Core;

namespace Surge.Core.Tests;

public class EngineTimeTests
{
    private readonly Harness _h = new();

    [Fact]
    public void UnpaidReservation_ExpiresAtItsDeadline_NotBefore()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 4));

        _h.Now += Harness.Hold - 1;
        _h.Tick();
        Assert.Equal(OrderStatus.PendingPayment, _h.Engine.GetOrderStatus(1));

        _h.Now += 1;
        _h.Tick();
        Assert.Equal(OrderStatus.Cancelled, _h.Engine.GetOrderStatus(1));
        Assert.Equal(CancelReason.PaymentTimeout, _h.Engine.GetOrder(1)!.CancelReason);
        Assert.Equal(10, _h.Engine.GetStockTotals(sku).Available);
        Assert.Equal(EventKind.ReservationExpired, _h.LastEvents().Single().Kind);
        Assert.Equal(1, _h.Engine.PreludeEventCount);
    }

    [Fact]
    public void PaymentAfterTheDeadline_IsRefusedBecauseTheBatchExpiresFirst()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 4));

        _h.Now += Harness.Hold;
        Assert.Equal(RejectReason.InvalidTransition, _h.Pay(1).Reason);
        Assert.Equal(0, _h.Engine.GetStockTotals(sku).Sold);
    }

    [Fact]
    public void PaidOrder_NeverExpires()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 4));
        _h.Pay(1);

        _h.Now += 10 * Harness.Hold;
        _h.Tick();

        Assert.Equal(OrderStatus.Paid, _h.Engine.GetOrderStatus(1));
        Assert.Equal(4, _h.Engine.GetStockTotals(sku).Sold);
    }

    [Fact]
    public void ClockJumpingBack_DoesNotRewindTheEngine()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Now += 1000;
        _h.Tick();
        var clock = _h.Engine.NowMs;

        _h.Now -= 60_000;
        _h.Tick();

        Assert.Equal(clock, _h.Engine.NowMs);
    }

    [Fact]
    public void Expiries_HappenInDeadlineThenPlacementOrder()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Run(w => w
            .PlaceOrder(3, 3, 9, Harness.SellerA, _h.Now + 500, -1, 0, [new OrderLine(sku, 1)])
            .PlaceOrder(1, 1, 9, Harness.SellerA, _h.Now + 700, -1, 0, [new OrderLine(sku, 1)])
            .PlaceOrder(2, 2, 9, Harness.SellerA, _h.Now + 500, -1, 0, [new OrderLine(sku, 1)]));

        _h.Now += 1000;
        _h.Tick();

        Assert.Equal([3L, 2L, 1L], _h.LastEvents().Select(e => e.OrderId));
    }

    [Fact]
    public void Place_WithDeadlineNotInTheFuture_IsInvalidArgument()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);

        var outcome = _h.Run(w => w.PlaceOrder(1, 1, 9, Harness.SellerA, _h.Now, -1, 0, [new OrderLine(sku, 1)]))[0];

        Assert.Equal(RejectReason.InvalidArgument, outcome.Reason);
    }
}
