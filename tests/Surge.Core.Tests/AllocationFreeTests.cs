using Surge.Core;

namespace Surge.Core.Tests;

/// <summary>The hot path allocates nothing once the engine is sized: a regression here shows up as GC
/// pauses at the peak. (Bytes, not time: tests never assert speed.)</summary>
public class AllocationFreeTests
{
    [Fact]
    public void PlacingPayingAndCancellingOrders_AllocatesNothingInSteadyState()
    {
        const int Orders = 20_000;
        var engine = new Engine(new EngineOptions(ExpectedSkus: 64, ExpectedOrders: 2 * Orders, ExpectedBuyerLimits: 2 * Orders));
        var writer = new CommandWriter(1 << 20).Begin(1_000).UpsertWarehouse("wh", "r", "KR");
        for (var s = 0; s < 50; s++)
        {
            writer.UpsertSku(new SkuDefinition(1, $"s{s}", "t", "c", 1, 1, 1, 1, TemperatureClass.Ambient, false, 1, "KRW")).ReceiveStock(s, 0, 1_000_000);
        }
        writer.ConfigureFlashSale(49, 0, perBuyerLimit: 1);
        engine.Apply(writer.Written);
        var batches = new List<byte[]>();
        var random = new Random(5);
        for (var id = 1; id <= Orders;)
        {
            writer.Begin(2_000);
            for (var i = 0; i < 500; i++, id++)
            {
                writer.PlaceOrder(id, id, id, 1, 1_000_000, 0, 0, [new OrderLine(random.Next(50), 1), new OrderLine(random.Next(49), 2)]);
                if (id > 10)
                {
                    writer.ConfirmPayment(id - 10);
                }
                if (id % 7 == 0)
                {
                    writer.CancelOrder(id - 3, CancelReason.Buyer);
                }
            }
            batches.Add(writer.Written.ToArray());
        }
        foreach (var batch in batches.Take(10))
        {
            engine.Apply(batch);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 10; i < batches.Count; i++)
        {
            engine.Apply(batches[i]);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        engine.CheckInvariants();
        Assert.True(engine.OrderCount > Orders / 2);
    }
}
