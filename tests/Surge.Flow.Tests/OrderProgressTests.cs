using Surge.Core;

namespace Surge.Flow.Tests;

public sealed class OrderProgressTests
{
    private static readonly CarrierConfig Carrier = new()
    {
        Id = "c", Countries = ["KR"], Classes = [ShippingClass.Parcel], Services = ["standard"],
        Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(1, 1) },
        StatusCodes = new Dictionary<string, string> { ["ZZ9"] = TrackingStatuses.Delivered },
    };

    private static ShipmentState Shipment(int index, DeliveryState delivery, params string[] tracking)
    {
        var state = new ShipmentState(new PlannedShipment(64, index, 1, ShippingClass.Parcel, TemperatureClass.Ambient, "standard", "wh",
            new Destination("KR", null), 100, [new ShipmentItem("x", 1)], "c", 1, "KRW", false, null, 0));
        state.Delivery = delivery;
        for (var i = 0; i < tracking.Length; i++)
        {
            state._tracking = [.. state._tracking, new TrackingUpdate(state.Id, tracking[i], tracking[i].ToUpperInvariant(), 1_000 + i, $"e{i}", null)];
        }
        return state;
    }

    [Fact]
    public void Target_IsTheLeastAdvancedShipment_AndNothingBeforeAnyHandover()
    {
        Assert.Null(OrderProgress.Target([Shipment(0, DeliveryState.Pending)]));
        Assert.Null(OrderProgress.Target([Shipment(0, DeliveryState.Dispatched), Shipment(1, DeliveryState.Pending)]));
        Assert.Equal(OrderStatus.Dispatched, OrderProgress.Target([Shipment(0, DeliveryState.Dispatched, "info_received")]));
        Assert.Equal(OrderStatus.InTransit, OrderProgress.Target([
            Shipment(0, DeliveryState.Dispatched, "in_transit", "delivered"), Shipment(1, DeliveryState.Dispatched, "in_transit")]));
        Assert.Equal(OrderStatus.Delivered, OrderProgress.Target([
            Shipment(0, DeliveryState.Dispatched, "in_transit", "delivered"), Shipment(1, DeliveryState.Dispatched, "delivered")]));
    }

    [Fact]
    public void Target_IsExceptionWhenAnyShipmentIsInException()
    {
        Assert.Equal(OrderStatus.Exception, OrderProgress.Target([
            Shipment(0, DeliveryState.Dispatched, "delivered"), Shipment(1, DeliveryState.Dispatched, "in_transit", "exception")]));
    }

    [Fact]
    public void Steps_GoThroughDispatched_SoAnAllocatedOrderCanJumpToTheTarget()
    {
        Assert.Equal([OrderStatus.Dispatched], OrderProgress.Steps(OrderStatus.Dispatched));
        Assert.Equal([OrderStatus.Dispatched, OrderStatus.Delivered], OrderProgress.Steps(OrderStatus.Delivered));
        Assert.All(OrderProgress.Steps(OrderStatus.Delivered).Zip(OrderProgress.Steps(OrderStatus.Delivered).Skip(1)),
            p => Assert.True(StatusTransitions.IsAllowedAdvance(p.First, p.Second)));
    }

    [Theory]
    [InlineData("ZZ9", "delivered")] // the carrier's own mapping first
    [InlineData("pu", "in_transit")] // defaults, any case
    [InlineData("DL", "delivered")]
    [InlineData("out_for_delivery", "out_for_delivery")] // already a status name
    [InlineData("WHAT", null)]
    public void RawCodes_AreNormalized_CarrierMappingFirst(string code, string? status)
    {
        Assert.Equal(status, TrackingStatuses.Normalize(Carrier, code));
    }
}
