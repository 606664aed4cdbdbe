using Surge.Core;

namespace Surge.Core.Tests;

public class StockAndCatalogTests
{
    private readonly Harness _h = new();

    [Fact]
    public void Receive_UnknownSkuOrWarehouse_IsRejected()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        Assert.Equal(RejectReason.UnknownSku, _h.Receive(99, _h.Seoul, 1).Reason);
        Assert.Equal(RejectReason.UnknownWarehouse, _h.Receive(sku, 40, 1).Reason);
        Assert.Equal(RejectReason.InvalidQuantity, _h.Receive(sku, _h.Seoul, 0).Reason);
    }

    [Fact]
    public void Adjust_CannotTakeAwayReservedUnits()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        _h.Place(1, Harness.SellerA, new OrderLine(sku, 8));

        Assert.Equal(RejectReason.InsufficientStock, _h.Run(w => w.AdjustStock(sku, _h.Seoul, -3))[0].Reason);
        Assert.True(_h.Run(w => w.AdjustStock(sku, _h.Seoul, -2))[0].Accepted);
        var totals = _h.Engine.GetStockTotals(sku);
        Assert.Equal(8, totals.OnHand);
        Assert.Equal(0, totals.Available);
        Assert.Equal(8, totals.Received);
    }

    [Fact]
    public void Receive_BeyondTheOnHandBound_IsCapacityExceeded()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        for (var i = 0; i < Limits.OnHandUnitsMax / Limits.StockMovementUnitsMax; i++)
        {
            Assert.True(_h.Receive(sku, _h.Seoul, Limits.StockMovementUnitsMax).Accepted);
        }
        Assert.Equal(RejectReason.CapacityExceeded, _h.Receive(sku, _h.Seoul, 1).Reason);
    }

    [Fact]
    public void UpsertSku_SameSellerAndCode_UpdatesInPlace()
    {
        var first = _h.Sku(Harness.SellerA, "mug");
        var again = _h.Run(w => w.UpsertSku(new SkuDefinition(Harness.SellerA, "mug", "Better mug", "Kitchen", 400, 90, 90, 110,
            TemperatureClass.Ambient, false, 2500, "KRW")))[0];

        Assert.Equal(first, (int)again.Ref);
        Assert.Equal("Better mug", _h.Engine.GetSku(first).Title);
        Assert.NotEqual(first, _h.Sku(Harness.SellerB, "mug"));
    }

    [Fact]
    public void UpsertSku_InvalidFields_AreRejected()
    {
        var bad = _h.Run(w => w
            .UpsertSku(new SkuDefinition(Harness.SellerA, "", "t", "c", 1, 1, 1, 1, TemperatureClass.Ambient, false, 1, "KRW"))
            .UpsertSku(new SkuDefinition(Harness.SellerA, "a", "", "c", 1, 1, 1, 1, TemperatureClass.Ambient, false, 1, "KRW"))
            .UpsertSku(new SkuDefinition(Harness.SellerA, "b", "t", "c", -1, 1, 1, 1, TemperatureClass.Ambient, false, 1, "KRW"))
            .UpsertSku(new SkuDefinition(Harness.SellerA, "c", "t", "c", 1, 1, 1, 1, TemperatureClass.Ambient, false, -5, "KRW")));

        Assert.All(bad, o => Assert.Equal(RejectReason.InvalidArgument, o.Reason));
        Assert.Equal(0, _h.Engine.SkuCount);
        Assert.Throws<ArgumentException>(() => new CommandWriter().Begin(0).UpsertSku(
            new SkuDefinition(1, "x", "t", "c", 1, 1, 1, 1, TemperatureClass.Ambient, false, 1, "krw")));
    }

    [Fact]
    public void Warehouses_BeyondTheBound_AreCapacityExceeded()
    {
        for (var i = _h.Engine.Warehouses.Count; i < Limits.WarehousesMax; i++)
        {
            _h.Warehouse($"wh-{i}", "r", "DE");
        }
        Assert.Equal(RejectReason.CapacityExceeded, _h.Run(w => w.UpsertWarehouse("one-too-many", "r", "DE"))[0].Reason);
    }

    [Fact]
    public void MalformedBatch_IsRefusedWholeAndChangesNothing()
    {
        var sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(sku, _h.Seoul, 10);
        var before = _h.Engine.StateHash();
        var writer = new CommandWriter().Begin(_h.Now).ReceiveStock(sku, _h.Seoul, 5).PlaceOrder(1, 1, 1, Harness.SellerA,
            _h.Now + 1000, -1, 0, [new OrderLine(sku, 1)]);
        var truncated = writer.Written[..^3].ToArray();
        var unknownKind = writer.Written.ToArray();
        unknownKind[CommandWriter.BatchHeaderBytes] = 200;

        Assert.Throws<MalformedBatchException>(() => _h.Engine.Apply(truncated));
        Assert.Throws<MalformedBatchException>(() => _h.Engine.Apply(unknownKind));
        Assert.Throws<MalformedBatchException>(() => _h.Engine.Apply(new byte[5]));
        Assert.Equal(before, _h.Engine.StateHash());
    }
}
