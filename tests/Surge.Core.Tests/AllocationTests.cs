using Surge.Core;

namespace Surge.Core.Tests;

public class AllocationTests
{
    private readonly Harness _h = new();

    private Allocation[] Allocations(long order) => _h.Engine.GetOrder(order)!.Allocations.ToArray();

    [Fact]
    public void BuyersRegion_IsPreferredWhenItHasEnough()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.London, 10);
        _h.Receive(sku, _h.Seoul, 10);
        _h.Receive(sku, _h.Busan, 10);

        _h.PlaceFor(1, Harness.SellerA, 9, "kr-busan", "KR", new OrderLine(sku, 5));

        Assert.Equal([(short)_h.Busan], Allocations(1).Select(a => a.Warehouse));
    }

    [Fact]
    public void BuyersCountry_IsNextWhenTheRegionIsShort()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.London, 10);
        _h.Receive(sku, _h.Seoul, 10);
        _h.Receive(sku, _h.Busan, 2);

        _h.PlaceFor(1, Harness.SellerA, 9, "kr-busan", "KR", new OrderLine(sku, 5));

        Assert.Equal([(short)_h.Seoul], Allocations(1).Select(a => a.Warehouse));
    }

    [Fact]
    public void SingleWarehouseElsewhere_BeatsSplittingAtHome()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Busan, 3);
        _h.Receive(sku, _h.Seoul, 3);
        _h.Receive(sku, _h.London, 10);

        _h.PlaceFor(1, Harness.SellerA, 9, "kr-busan", "KR", new OrderLine(sku, 5));

        Assert.Equal([(short)_h.London], Allocations(1).Select(a => a.Warehouse));
    }

    [Fact]
    public void NoSingleWarehouseHasEnough_SplitsRegionFirst()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.London, 4);
        _h.Receive(sku, _h.Seoul, 3);
        _h.Receive(sku, _h.Busan, 2);

        Assert.True(_h.PlaceFor(1, Harness.SellerA, 9, "kr-busan", "KR", new OrderLine(sku, 7)).Accepted);

        var split = Allocations(1).Select(a => (a.Warehouse, a.Quantity)).ToArray();
        Assert.Equal([((short)_h.Busan, 2), ((short)_h.Seoul, 3), ((short)_h.London, 2)], split);
    }

    [Fact]
    public void UnknownRegion_FallsBackToLowestWarehouseThatFits()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.London, 10);
        _h.Receive(sku, _h.Busan, 10);

        _h.PlaceFor(1, Harness.SellerA, 9, "nowhere", "US", new OrderLine(sku, 5));

        Assert.Equal([(short)_h.Busan], Allocations(1).Select(a => a.Warehouse));
    }

    [Fact]
    public void AddingManyWarehouses_KeepsExistingStock()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.London, 7);
        for (var i = 0; i < 10; i++)
        {
            _h.Warehouse($"wh-extra-{i}", "extra", "DE");
        }

        Assert.Equal(7, _h.Engine.GetStock(sku, _h.London).OnHand);
        Assert.Equal(13, _h.Engine.Warehouses.Count);
    }
}
