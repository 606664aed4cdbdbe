namespace Surge.Flow;

/// <summary>The shipment tracking vocabulary (the common aggregator statuses of DESIGN.md) and how carriers'
/// raw codes map onto it.</summary>
public static class TrackingStatuses
{
    public const string InfoReceived = "info_received";
    public const string InTransit = "in_transit";
    public const string OutForDelivery = "out_for_delivery";
    public const string AttemptFail = "attempt_fail";
    public const string Delivered = "delivered";
    public const string AvailableForPickup = "available_for_pickup";
    public const string Exception = "exception";
    public const string Expired = "expired";
    public const string Pending = "pending";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        InfoReceived, InTransit, OutForDelivery, AttemptFail, Delivered, AvailableForPickup, Exception, Expired, Pending,
    };

    /// <summary>Raw codes understood for every carrier (a carrier's own <see cref="CarrierConfig.StatusCodes"/>
    /// come first). Upper-case; matching ignores case.</summary>
    public static readonly IReadOnlyDictionary<string, string> DefaultCodes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["INFO"] = InfoReceived,
        ["ACCEPTED"] = InfoReceived,
        ["PU"] = InTransit,
        ["PICKED_UP"] = InTransit,
        ["IT"] = InTransit,
        ["IN_TRANSIT"] = InTransit,
        ["ARRIVED_HUB"] = InTransit,
        ["OD"] = OutForDelivery,
        ["OUT_FOR_DELIVERY"] = OutForDelivery,
        ["AF"] = AttemptFail,
        ["DELIVERY_ATTEMPT_FAILED"] = AttemptFail,
        ["DL"] = Delivered,
        ["DELIVERED"] = Delivered,
        ["PICKUP_READY"] = AvailableForPickup,
        ["EX"] = Exception,
        ["EXCEPTION"] = Exception,
        ["DAMAGED"] = Exception,
        ["LOST"] = Exception,
        ["RETURNED_TO_SENDER"] = Exception,
        ["EXPIRED"] = Expired,
    };

    /// <summary>The normalized status of a raw code: the carrier's mapping, then the defaults, then a code that
    /// already is a status name; null when unknown.</summary>
    public static string? Normalize(CarrierConfig carrier, string rawCode)
    {
        if (carrier.StatusCodes.TryGetValue(rawCode, out var mapped) || DefaultCodes.TryGetValue(rawCode, out mapped))
        {
            return mapped;
        }
        var lower = rawCode.ToLowerInvariant();
        return All.Contains(lower) ? lower : null;
    }

    /// <summary>The seller-order status a shipment's tracking status moves the order to, if any.</summary>
    public static Core.OrderStatus? OrderStatusOf(string trackingStatus) => trackingStatus switch
    {
        InTransit or AttemptFail or AvailableForPickup => Core.OrderStatus.InTransit,
        OutForDelivery => Core.OrderStatus.OutForDelivery,
        Delivered => Core.OrderStatus.Delivered,
        Exception or Expired => Core.OrderStatus.Exception,
        _ => null,
    };
}

/// <summary>Where a seller order stands given its shipments (pure; used after every dispatch and tracking event).</summary>
public static class OrderProgress
{
    /// <summary>The status the order should have: exception if any shipment is in exception; else the least
    /// advanced of its shipments (a shipment not yet handed over counts as allocated, one handed over without
    /// a moving tracking status as dispatched). Null while nothing is past allocated.</summary>
    public static Core.OrderStatus? Target(IReadOnlyList<ShipmentState> shipments)
    {
        if (shipments.Count == 0)
        {
            return null;
        }
        var least = Core.OrderStatus.Delivered;
        var exception = false;
        foreach (var shipment in shipments)
        {
            var status = Of(shipment);
            exception |= status == Core.OrderStatus.Exception;
            if (Core.StatusTransitions.Rank(status) < Core.StatusTransitions.Rank(least))
            {
                least = status;
            }
        }
        if (exception)
        {
            return Core.OrderStatus.Exception;
        }
        return least == Core.OrderStatus.Allocated ? null : least;
    }

    private static Core.OrderStatus Of(ShipmentState shipment)
    {
        if (shipment.TrackingStatus is { } tracking && TrackingStatuses.OrderStatusOf(tracking) is { } moved)
        {
            return moved;
        }
        return shipment.Delivery == DeliveryState.Dispatched || shipment.Tracking.Count > 0 ? Core.OrderStatus.Dispatched : Core.OrderStatus.Allocated;
    }

    /// <summary>The status commands that bring an order at allocated or later to <paramref name="target"/>:
    /// dispatched first, then the target. Each is idempotent (the status it has is accepted, a step back is
    /// refused and changes nothing), so sending both is always safe.</summary>
    public static IEnumerable<Core.OrderStatus> Steps(Core.OrderStatus target) =>
        target == Core.OrderStatus.Dispatched ? [target] : [Core.OrderStatus.Dispatched, target];
}
