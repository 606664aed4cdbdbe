using Surge.Core;

namespace Surge.Core.Tests;

/// <summary>Commands with an idempotency key: applied once per key, a repeat answered from the key, kept through a
/// snapshot, forgotten after their retention.</summary>
public class KeyedCommandTests
{
    private readonly Harness _h = new();
    private readonly int _sku;

    public KeyedCommandTests()
    {
        _sku = _h.Sku(Harness.SellerA, "mug");
        _h.Receive(_sku, _h.Seoul, 10);
    }

    private IdempotencyKey Key(ulong key, ulong request = 1, long retainMs = 60_000) => new(key, request, _h.Now + retainMs);

    private CommandOutcome PlaceKeyed(IdempotencyKey key, long orderId, int quantity) =>
        _h.Run(w => w.Keyed(key).PlaceOrder(orderId, orderId, 9, Harness.SellerA, _h.Now + Harness.Hold, _h.Engine.FindRegion("kr-seoul"),
            CountryCode.Pack("KR"), [new OrderLine(_sku, quantity)]))[0];

    [Fact]
    public void ARepeatedKey_IsAnsweredWithTheFirstOrder_AndReservesNothingMore()
    {
        var first = PlaceKeyed(Key(7), orderId: 1, quantity: 3);
        Assert.True(first.Accepted);
        Assert.False(first.Replayed);
        var before = _h.Engine.StateHash();

        // The retry comes from another process: it chose another order id for the same request.
        var again = PlaceKeyed(Key(7), orderId: 2, quantity: 3);

        Assert.True(again.Accepted);
        Assert.True(again.Replayed);
        Assert.Equal(1, again.Ref);
        Assert.Equal(CommandKind.PlaceOrder, again.Kind);
        Assert.Empty(_h.LastEvents());
        Assert.Equal(before, _h.Engine.StateHash());
        Assert.Equal(3, _h.Engine.GetStockTotals(_sku).Reserved);
        Assert.Equal(OrderStatus.None, _h.Engine.GetOrderStatus(2));
    }

    [Fact]
    public void AKeyUsedWithAnotherRequest_IsRefused_AndNothingIsApplied()
    {
        PlaceKeyed(Key(7, request: 1), orderId: 1, quantity: 3);
        var before = _h.Engine.StateHash();

        var other = PlaceKeyed(Key(7, request: 2), orderId: 2, quantity: 5);

        Assert.Equal(RejectReason.IdempotencyKeyReused, other.Reason);
        Assert.False(other.Replayed);
        Assert.Equal(before, _h.Engine.StateHash());
    }

    [Fact]
    public void ARefusal_IsTheAnswerToo_EvenOnceTheStockWouldAllowIt()
    {
        var refused = PlaceKeyed(Key(7), orderId: 1, quantity: 11);
        Assert.Equal(RejectReason.InsufficientStock, refused.Reason);
        _h.Receive(_sku, _h.Seoul, 10);

        var again = PlaceKeyed(Key(7), orderId: 2, quantity: 11);

        Assert.Equal(RejectReason.InsufficientStock, again.Reason);
        Assert.True(again.Replayed);
        Assert.Equal(0, _h.Engine.GetStockTotals(_sku).Reserved);
    }

    [Fact]
    public void AKeyedReceipt_AddsItsUnitsOnce()
    {
        var key = Key(9);
        Assert.False(_h.Run(w => w.Keyed(key).ReceiveStock(_sku, _h.Seoul, 5))[0].Replayed);
        Assert.True(_h.Run(w => w.Keyed(key).ReceiveStock(_sku, _h.Seoul, 5))[0].Replayed);
        Assert.Equal(15, _h.Engine.GetStockTotals(_sku).OnHand);
    }

    [Fact]
    public void AfterItsRetention_AKeyIsForgotten_AndTheCommandRunsAgain()
    {
        PlaceKeyed(Key(7, retainMs: 1_000), orderId: 1, quantity: 1);
        _h.Now += 1_000;

        var later = PlaceKeyed(Key(7, retainMs: 1_000), orderId: 2, quantity: 1);

        Assert.True(later.Accepted);
        Assert.False(later.Replayed);
        Assert.Equal(2, _h.Engine.GetStockTotals(_sku).Reserved);
    }

    [Fact]
    public void KeysSurviveASnapshot()
    {
        PlaceKeyed(Key(7), orderId: 1, quantity: 3);
        using var stream = new MemoryStream();
        _h.Engine.WriteSnapshot(stream);
        stream.Position = 0;
        var restored = Engine.ReadSnapshot(stream);
        Assert.Equal(_h.Engine.StateHash(), restored.StateHash());

        var batch = new CommandWriter().Begin(_h.Now).Keyed(Key(7)).PlaceOrder(2, 2, 9, Harness.SellerA, _h.Now + Harness.Hold, 0, 0,
            [new OrderLine(_sku, 3)]);
        restored.Apply(batch.Written);

        Assert.True(restored.Outcomes[0].Replayed);
        Assert.Equal(1, restored.Outcomes[0].Ref);
        Assert.Equal(3, restored.GetStockTotals(_sku).Reserved);
    }

    [Fact]
    public void AKeyPrefixesOneCommand_NeitherATickNorAnotherKey()
    {
        var tick = new CommandWriter().Begin(_h.Now).Keyed(Key(1)).Tick();
        Assert.Throws<MalformedBatchException>(() => _h.Engine.Apply(tick.Written));
        var twice = new CommandWriter().Begin(_h.Now).Keyed(Key(1)).Keyed(Key(2)).ConfirmPayment(1);
        Assert.Throws<MalformedBatchException>(() => _h.Engine.Apply(twice.Written));
        var dangling = new CommandWriter().Begin(_h.Now).Tick().Keyed(Key(1));
        Assert.Throws<MalformedBatchException>(() => _h.Engine.Apply(dangling.Written));
    }
}
