using Surge.Core;

namespace Surge.Core.Tests;

public class FlashSaleTests
{
    private readonly Harness _h = new();
    private readonly int _sku;

    public FlashSaleTests()
    {
        _sku = _h.Sku(Harness.SellerA, "phone");
        _h.Receive(_sku, _h.Seoul, 3);
        Assert.True(_h.Run(w => w.ConfigureFlashSale(_sku, Harness.T0 + 1000, perBuyerLimit: 1))[0].Accepted);
    }

    private CommandOutcome Buy(long order, long buyer, int quantity = 1) =>
        _h.PlaceFor(order, Harness.SellerA, buyer, "kr-seoul", "KR", new OrderLine(_sku, quantity));

    [Fact]
    public void Configuration_IsReadBack()
    {
        Assert.Equal((Harness.T0 + 1000, 1), _h.Engine.GetFlashSale(_sku));
        Assert.Null(_h.Engine.GetFlashSale(_h.Sku(Harness.SellerA, "plain")));
    }

    [Fact]
    public void BeforeTheStart_IsSaleNotStarted()
    {
        Assert.Equal(RejectReason.SaleNotStarted, Buy(1, buyer: 1).Reason);
        _h.Now = Harness.T0 + 1000;
        Assert.True(Buy(2, buyer: 1).Accepted);
    }

    [Fact]
    public void SecondUnitForTheSameBuyer_IsLimitExceeded()
    {
        _h.Now = Harness.T0 + 1000;
        Assert.True(Buy(1, buyer: 1).Accepted);
        Assert.Equal(RejectReason.LimitExceeded, Buy(2, buyer: 1).Reason);
        Assert.Equal(RejectReason.LimitExceeded, Buy(3, buyer: 2, quantity: 2).Reason);
        Assert.True(Buy(4, buyer: 2).Accepted);
        Assert.Equal(1, _h.Engine.BuyerUnits(1, _sku));
    }

    [Fact]
    public void CancelledPurchase_GivesTheBuyerTheirLimitBack()
    {
        _h.Now = Harness.T0 + 1000;
        Buy(1, buyer: 1);
        _h.Cancel(1);

        Assert.Equal(0, _h.Engine.BuyerUnits(1, _sku));
        Assert.True(Buy(2, buyer: 1).Accepted);
    }

    [Fact]
    public void ManyBuyers_NeverOversell()
    {
        _h.Now = Harness.T0 + 1000;
        var accepted = Enumerable.Range(1, 50).Count(buyer => Buy(buyer, buyer).Accepted);

        Assert.Equal(3, accepted);
        Assert.Equal(0, _h.Engine.GetStockTotals(_sku).Available);
    }
}
