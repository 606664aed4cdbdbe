using Surge.Core;

namespace Surge.Flow;

/// <summary>Units of one SKU in a shipment.</summary>
public sealed record ShipmentItem(string SkuCode, int Quantity);

/// <summary>
/// One planned shipment of a paid seller order. <see cref="Index"/> numbers the shipments of an order from 0 in
/// a deterministic order, so (order, index) is a stable id: planning the same order again yields the same ids.
/// <see cref="CarrierId"/> is null when no configured carrier covers the destination and class
/// (<see cref="Problem"/> says why); <see cref="CarrierDegraded"/> is true when every carrier that could take it
/// was unhealthy at planning time, so the cheapest of them was chosen and delivery waits for it to recover.
/// </summary>
public sealed record PlannedShipment(
    long OrderId,
    int Index,
    long SellerId,
    ShippingClass Class,
    TemperatureClass Temperature,
    string ServiceLevel,
    string WarehouseCode,
    Destination Destination,
    int WeightGrams,
    IReadOnlyList<ShipmentItem> Items,
    string? CarrierId,
    long PriceMinor,
    string? Currency,
    bool CarrierDegraded,
    string? Problem,
    long PlannedAtMs)
{
    /// <summary>The shipment's stable id: the same for every plan of the same order.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Id => Ids(OrderId, Index);

    public static string Ids(long orderId, int index) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"shp_{orderId}_{index}");
}

/// <summary>
/// Plans the shipments of a paid seller order from <see cref="FulfillmentRules"/>: pure and deterministic given
/// the carriers' health, which is passed in. Rules, each tested:
/// <list type="number">
/// <item>Shipping class of an item: hazmat if flagged; else cold chain if chilled or frozen; else bulky if over
/// any bulky bound; else parcel.</item>
/// <item>Items travel together only from the same warehouse, in the same class and at the same temperature
/// (frozen never with chilled or ambient; hazmat never with anything else).</item>
/// <item>A parcel shipment is split (by units) once it would exceed the parcel weight bound; a single unit
/// heavier than the bound travels alone.</item>
/// <item>Service level by class, from the rules.</item>
/// <item>Carrier: among those covering the destination country (and region, if the carrier lists regions) that
/// carry the class and offer the service level, the cheapest healthy one (price = base + per started kg; ties
/// by id); if all of them are unhealthy, the cheapest of them (degraded); if none, no carrier.</item>
/// </list>
/// </summary>
public sealed class FulfillmentPlanner(FulfillmentRules rules)
{
    public FulfillmentRules Rules { get; } = rules;

    public ShippingClass ClassOf(SkuDefinition sku)
    {
        if (sku.Hazmat)
        {
            return ShippingClass.Hazmat;
        }
        if (sku.Temperature != TemperatureClass.Ambient)
        {
            return ShippingClass.ColdChain;
        }
        var sides = new[] { sku.LengthMm, sku.WidthMm, sku.HeightMm };
        Array.Sort(sides);
        var lengthPlusGirth = (long)sides[2] + 2L * (sides[0] + sides[1]);
        var bulky = Rules.Bulky;
        return sku.WeightGrams > bulky.WeightGramsOver || sides[2] > bulky.LongestSideMmOver || lengthPlusGirth > bulky.LengthPlusGirthMmOver
            ? ShippingClass.Bulky
            : ShippingClass.Parcel;
    }

    /// <summary>Plans every shipment of <paramref name="order"/>. <paramref name="isHealthy"/> tells whether a
    /// carrier (by id) can take shipments now.</summary>
    public IReadOnlyList<PlannedShipment> Plan(PaidOrder order, Func<string, bool> isHealthy)
    {
        var groups = order.Lines
            .GroupBy(l => (Warehouse: l.Warehouse.Code, Class: ClassOf(l.Sku), l.Sku.Temperature))
            .OrderBy(g => g.Key.Warehouse, StringComparer.Ordinal).ThenBy(g => g.Key.Class).ThenBy(g => g.Key.Temperature);
        var shipments = new List<PlannedShipment>();
        foreach (var group in groups)
        {
            var lines = group.OrderBy(l => l.Sku.Code, StringComparer.Ordinal).ToList();
            foreach (var (items, weight) in Pack(group.Key.Class, lines))
            {
                var service = Rules.ServiceLevels[group.Key.Class];
                var (carrier, price, degraded, problem) = ChooseCarrier(order.Destination, group.Key.Class, service, weight, isHealthy);
                shipments.Add(new PlannedShipment(order.OrderId, shipments.Count, order.SellerId, group.Key.Class, group.Key.Temperature,
                    service, group.Key.Warehouse, order.Destination, weight, items, carrier?.Id, price, carrier?.Currency, degraded,
                    problem, order.PaidAtMs));
            }
        }
        return shipments;
    }

    /// <summary>Splits a group into shipments: parcels by the weight bound, everything else as one shipment.</summary>
    private IEnumerable<(IReadOnlyList<ShipmentItem> Items, int WeightGrams)> Pack(ShippingClass shippingClass, List<PaidLine> lines)
    {
        var limit = shippingClass == ShippingClass.Parcel ? Rules.ParcelShipmentGramsMax : int.MaxValue;
        var items = new List<ShipmentItem>();
        long weight = 0;
        foreach (var line in lines)
        {
            var unit = Math.Max(0, line.Sku.WeightGrams);
            var left = line.Quantity;
            while (left > 0)
            {
                var room = unit == 0 ? left : (int)Math.Clamp((limit - weight) / unit, 0, left);
                if (room == 0 && items.Count == 0)
                {
                    room = 1; // a unit heavier than the bound travels alone
                }
                if (room == 0)
                {
                    yield return (items, (int)weight);
                    items = [];
                    weight = 0;
                    continue;
                }
                items.Add(new ShipmentItem(line.Sku.Code, room));
                weight += (long)room * unit;
                left -= room;
            }
        }
        if (items.Count > 0)
        {
            yield return (items, (int)Math.Min(weight, int.MaxValue));
        }
    }

    private (CarrierConfig? Carrier, long Price, bool Degraded, string? Problem) ChooseCarrier(
        Destination destination, ShippingClass shippingClass, string service, int weightGrams, Func<string, bool> isHealthy)
    {
        var candidates = Rules.Carriers
            .Where(c => c.Countries.Contains(destination.Country)
                && (c.Regions.Count == 0 || (destination.Region is not null && c.Regions.Contains(destination.Region)))
                && c.Classes.Contains(shippingClass)
                && c.Services.Contains(service))
            .Select(c => (Carrier: c, Price: PriceOf(c.Prices[shippingClass], weightGrams)))
            .OrderBy(x => x.Price).ThenBy(x => x.Carrier.Id, StringComparer.Ordinal)
            .ToList();
        if (candidates.Count == 0)
        {
            return (null, 0, false, "no_carrier_covers");
        }
        foreach (var (carrier, price) in candidates)
        {
            if (isHealthy(carrier.Id))
            {
                return (carrier, price, false, null);
            }
        }
        return (candidates[0].Carrier, candidates[0].Price, true, null);
    }

    /// <summary>Base price plus the per-kilogram price for every started kilogram.</summary>
    public static long PriceOf(PriceRule price, int weightGrams) => price.BaseMinor + price.PerKgMinor * ((weightGrams + 999L) / 1000);
}
