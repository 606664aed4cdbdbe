using CsCheck;
using Surge.Core;

namespace Surge.Core.Tests;

/// <summary>Final seller orders leave the engine once their retention passed; what must outlive them — their ids,
/// the units they sold, the limit units they hold — stays in aggregate. Every batch of the harness checks the
/// invariants.</summary>
public class RetirementTests
{
    private const long Hour = 3_600_000;
    private const int BlockBits = 20;
    private readonly Harness _h = new();
    private readonly int _mug;

    public RetirementTests()
    {
        _mug = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(_mug, _h.Seoul, 100);
    }

    private void Retain(long ms) => Assert.True(_h.Run(w => w.ConfigureRetention(ms, BlockBits))[0].Accepted);

    private void Deliver(long order)
    {
        Assert.True(_h.Pay(order).Accepted);
        foreach (var status in new[] { OrderStatus.Allocated, OrderStatus.Dispatched, OrderStatus.Delivered })
        {
            Assert.True(_h.Advance(order, status).Accepted);
        }
    }

    [Fact]
    public void FinalOrders_LeaveOnceTheRetentionPassed_AndTheOthersStay()
    {
        Retain(Hour);
        Assert.True(_h.Place(1, Harness.SellerA, new OrderLine(_mug, 2)).Accepted);
        Assert.True(_h.Place(2, Harness.SellerA, new OrderLine(_mug, 1)).Accepted);
        Assert.True(_h.Place(3, Harness.SellerA, new OrderLine(_mug, 4)).Accepted);
        Deliver(1);
        Assert.True(_h.Cancel(2).Accepted);
        Assert.True(_h.Pay(3).Accepted); // paid, not final: stays however long

        _h.Now += Hour - 1;
        _h.Tick();
        Assert.Equal(3, _h.Engine.OrderCount);

        _h.Now += 1;
        _h.Tick();
        Assert.Equal([1L, 2], _h.LastEvents().Where(e => e.Kind == EventKind.OrderRetired).Select(e => e.OrderId).Order());
        Assert.Null(_h.Engine.GetOrder(1));
        Assert.Null(_h.Engine.GetOrder(2));
        Assert.Equal(OrderStatus.Paid, _h.Engine.GetOrderStatus(3));
        Assert.Equal((1, 2L), (_h.Engine.OrderCount, _h.Engine.RetiredOrders));
        Assert.Equal(6, _h.Engine.GetStockTotals(_mug).Sold); // 2 delivered and retired + 4 paid
    }

    [Fact]
    public void ARetiredId_IsStillADuplicate_AndCommandsOnItSayRetired()
    {
        Retain(0);
        Assert.True(_h.Place(5, Harness.SellerA, new OrderLine(_mug, 1)).Accepted);
        Assert.True(_h.Cancel(5).Accepted);
        _h.Tick(); // retention 0: retired at the next batch

        Assert.Equal(RejectReason.DuplicateOrder, _h.Place(5, Harness.SellerA, new OrderLine(_mug, 1)).Reason);
        Assert.Equal(RejectReason.OrderRetired, _h.Pay(5).Reason);
        Assert.Equal(RejectReason.OrderRetired, _h.Cancel(5).Reason);
        Assert.Equal(RejectReason.OrderRetired, _h.Advance(5, OrderStatus.Returned).Reason);
        Assert.Equal(RejectReason.OrderRetired, _h.Pay(4).Reason); // below the floor of its block: never placeable here again
        Assert.Equal(RejectReason.OrderNotFound, _h.Pay(6).Reason); // above it
        Assert.Equal(RejectReason.OrderNotFound, _h.Pay(5 + (1L << BlockBits)).Reason); // another block
        Assert.True(_h.Place(6, Harness.SellerA, new OrderLine(_mug, 1)).Accepted);
        Assert.Equal(5, _h.Engine.HighestRetiredId);
    }

    [Fact]
    public void ABuyersFlashSaleLimit_HoldsAfterTheirOrderRetired()
    {
        var phone = _h.Sku(Harness.SellerA, "phone");
        _h.Receive(phone, _h.Seoul, 10);
        Assert.True(_h.Run(w => w.ConfigureFlashSale(phone, Harness.T0, perBuyerLimit: 2))[0].Accepted);
        Retain(0);
        Assert.True(_h.PlaceFor(1, Harness.SellerA, buyer: 7, "kr-seoul", "KR", new OrderLine(phone, 2)).Accepted);
        Deliver(1);
        _h.Tick();
        Assert.Null(_h.Engine.GetOrder(1));

        Assert.Equal(RejectReason.LimitExceeded, _h.PlaceFor(2, Harness.SellerA, buyer: 7, "kr-seoul", "KR", new OrderLine(phone, 1)).Reason);
        Assert.True(_h.PlaceFor(3, Harness.SellerA, buyer: 8, "kr-seoul", "KR", new OrderLine(phone, 2)).Accepted);
        Assert.Equal((2L, 6L), (_h.Engine.GetStockTotals(phone).Sold, _h.Engine.GetStockTotals(phone).Available));
    }

    [Fact]
    public void OrdersFinalBeforeRetentionWasConfigured_RetireFromThen()
    {
        Assert.True(_h.Place(1, Harness.SellerA, new OrderLine(_mug, 1)).Accepted);
        Assert.True(_h.Cancel(1).Accepted);
        _h.Now += 10 * Hour;
        Retain(Hour);
        _h.Now += Hour - 1;
        _h.Tick();
        Assert.NotNull(_h.Engine.GetOrder(1));
        _h.Now += 1;
        _h.Tick();
        Assert.Null(_h.Engine.GetOrder(1));
    }

    [Fact]
    public void TheIdBlocks_CannotBeCutDifferentlyOnceAnOrderRetired()
    {
        Retain(0);
        Assert.True(_h.Place(1, Harness.SellerA, new OrderLine(_mug, 1)).Accepted);
        Assert.True(_h.Cancel(1).Accepted);
        _h.Tick();
        Assert.Equal(RejectReason.InvalidArgument, _h.Run(w => w.ConfigureRetention(Hour, BlockBits + 1))[0].Reason);
        Assert.Equal(RejectReason.InvalidArgument, _h.Run(w => w.ConfigureRetention(-1, BlockBits))[0].Reason);
        Assert.True(_h.Run(w => w.ConfigureRetention(Engine.RetainForever, BlockBits))[0].Accepted);
    }

    [Fact]
    public void WithOrdersRetiringAsFastAsTheyArePlaced_TheStateStopsGrowing()
    {
        _h.Receive(_mug, _h.Seoul, 1_000); // every round's 500 placements are taken
        Retain(0);
        long next = 1;
        long BytesAfterRounds(int rounds)
        {
            for (var round = 0; round < rounds; round++)
            {
                _h.Now += 60_000; // a minute a round: the holds' deadlines (15 min) pass, and their heap entries with them
                var first = next;
                _h.Run(w =>
                {
                    for (var i = 0; i < 500; i++, next++)
                    {
                        w.PlaceOrder(next, next, 9, Harness.SellerA, _h.Now + Harness.Hold, 0, CountryCode.Pack("KR"), [new OrderLine(_mug, 1)]);
                    }
                });
                _h.Run(w =>
                {
                    for (var id = first; id < next; id++)
                    {
                        w.CancelOrder(id, CancelReason.Buyer);
                    }
                });
            }
            return _h.Engine.Stats().StateBytes;
        }

        var early = BytesAfterRounds(20);
        var late = BytesAfterRounds(80);

        Assert.True(late <= early, $"the state grew from {early:N0} to {late:N0} bytes while every order retired"); // the arena may shrink when compacted
        Assert.Equal(100 * 500L - 500, _h.Engine.RetiredOrders); // the last round's cancellations retire at the next batch
    }

    [Fact]
    public void TheOrderIndex_FindsEveryKeyLeft_AfterAnyRemovals() =>
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[1, 400]).Sample((seed, count) =>
        {
            var random = new Random(seed);
            var map = new LongIntMap(8);
            var expected = new Dictionary<long, int>();
            for (var step = 0; step < count * 4; step++)
            {
                // Keys from a narrow range, often adjacent, so runs form and removals shift entries across them.
                var key = random.Next(1, count + 1) * (random.Next(3) == 0 ? 8L : 1L);
                if (expected.ContainsKey(key))
                {
                    map.Remove(key);
                    expected.Remove(key);
                }
                else
                {
                    map.Add(key, step);
                    expected[key] = step;
                }
            }
            Assert.Equal(expected.Count, map.Count);
            foreach (var (key, value) in expected)
            {
                Assert.Equal(value, map.Get(key));
            }
            for (long key = 1; key <= count * 8L; key++)
            {
                if (!expected.ContainsKey(key))
                {
                    Assert.Equal(-1, map.Get(key));
                }
            }
        }, iter: 200);
}
