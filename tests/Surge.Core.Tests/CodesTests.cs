using Surge.Core;

namespace Surge.Core.Tests;

/// <summary>These numbers are written into journals and snapshots; changing one corrupts every stored journal.</summary>
public class CodesTests
{
    [Fact]
    public void PersistedEnumValues_NeverChange()
    {
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], Values<OrderStatus>());
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], Values<RejectReason>());
        Assert.Equal([0, 1, 2, 3, 4, 5], Values<CancelReason>());
        Assert.Equal([0, 1, 2], Values<TemperatureClass>());
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], Values<CommandKind>());
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], Values<EventKind>());
        Assert.Equal(1, (int)OrderStatus.PendingPayment);
        Assert.Equal(8, (int)OrderStatus.Cancelled);
        Assert.Equal(2, (int)RejectReason.InsufficientStock);
        Assert.Equal(5, (int)CommandKind.PlaceOrder);
    }

    [Theory]
    [InlineData(RejectReason.UnknownSku, "unknown_sku")]
    [InlineData(RejectReason.InsufficientStock, "insufficient_stock")]
    [InlineData(RejectReason.LimitExceeded, "limit_exceeded")]
    [InlineData(RejectReason.SaleNotStarted, "sale_not_started")]
    [InlineData(RejectReason.DuplicateOrder, "duplicate_order")]
    [InlineData(RejectReason.InvalidQuantity, "invalid_quantity")]
    [InlineData(RejectReason.OrderNotFound, "order_not_found")]
    [InlineData(RejectReason.InvalidTransition, "invalid_transition")]
    [InlineData(RejectReason.IdempotencyKeyReused, "idempotency_key_reused")]
    [InlineData(RejectReason.OrderRetired, "order_retired")]
    public void ReasonCodes_AreTheStableApiNames(RejectReason reason, string code) => Assert.Equal(code, reason.ToCode());

    [Fact]
    public void StateStructs_HaveTheDocumentedSizes()
    {
        Assert.Equal(24, System.Runtime.CompilerServices.Unsafe.SizeOf<StockCell>());
        Assert.Equal(32, System.Runtime.CompilerServices.Unsafe.SizeOf<EngineEvent>());
        Assert.Equal(12, System.Runtime.CompilerServices.Unsafe.SizeOf<Allocation>());
        Assert.Equal(48, System.Runtime.CompilerServices.Unsafe.SizeOf<OrderRecord>());
        Assert.Equal(20, System.Runtime.CompilerServices.Unsafe.SizeOf<CommandOutcome>()); // packed raw into grain replies
    }

    private static int[] Values<T>() where T : struct, Enum =>
        Enum.GetValues<T>().Select(v => Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
}

public sealed class RepeatSafeBatchTests
{
    [Fact]
    public void OnlyPlacementsAndTicksAreSafeToSendTwice()
    {
        var places = new CommandWriter(256).Begin(1_000).PlaceOrder(7, 7, 1, 1, 9_000, -1, 0, [new OrderLine(0, 1)]).Tick().Written.ToArray();
        var receives = new CommandWriter(256).Begin(1_000).PlaceOrder(8, 8, 1, 1, 9_000, -1, 0, [new OrderLine(0, 1)]).ReceiveStock(0, 0, 5).Written.ToArray();
        var pays = new CommandWriter(256).Begin(1_000).ConfirmPayment(7).Written.ToArray();
        Assert.True(BatchFormat.IsRepeatSafe(places));
        Assert.False(BatchFormat.IsRepeatSafe(receives)); // a stock receipt applied twice would add stock twice
        Assert.False(BatchFormat.IsRepeatSafe(pays));
    }
}
