using Surge.Core;

namespace Surge.Flow.Tests;

/// <summary>One test per planning rule (see <see cref="FulfillmentPlanner"/>).</summary>
public sealed class FulfillmentPlannerTests
{
    private static readonly WarehouseInfo Seoul = new("wh-seoul", "kr-seoul", "KR");
    private static readonly WarehouseInfo Busan = new("wh-busan", "kr-busan", "KR");
    private static readonly Destination ToSeoul = new("KR", "kr-seoul");

    private static SkuDefinition Sku(string code, int grams = 500, int l = 300, int w = 200, int h = 100,
        TemperatureClass temperature = TemperatureClass.Ambient, bool hazmat = false) =>
        new(1, code, code, "test", grams, l, w, h, temperature, hazmat, 10_000, "KRW");

    private static CarrierConfig Carrier(string id, long parcelBase, string[]? regions = null, ShippingClass[]? classes = null,
        string country = "KR") => new()
    {
        Id = id,
        Countries = [country],
        Regions = regions ?? [],
        Classes = classes ?? [ShippingClass.Parcel, ShippingClass.Bulky, ShippingClass.ColdChain, ShippingClass.Hazmat],
        Services = ["standard", "freight", "express", "ground"],
        Prices = Enum.GetValues<ShippingClass>().ToDictionary(c => c, _ => new PriceRule(parcelBase, 100)),
    };

    private static FulfillmentPlanner Planner(params CarrierConfig[] carriers) => new(new FulfillmentRules { Carriers = carriers });

    private static PaidOrder Order(params PaidLine[] lines) => Order(ToSeoul, lines);

    private static PaidOrder Order(Destination destination, params PaidLine[] lines) =>
        new(64, 1, 1, 900, 1_767_225_600_000, destination, lines);

    private static bool AllHealthy(string _) => true;

    [Theory]
    [InlineData(500, 300, 200, 100, TemperatureClass.Ambient, false, ShippingClass.Parcel)]
    [InlineData(500, 300, 200, 100, TemperatureClass.Frozen, true, ShippingClass.Hazmat)] // hazmat wins over everything
    [InlineData(50_000, 300, 200, 100, TemperatureClass.Chilled, false, ShippingClass.ColdChain)] // cold chain over bulky
    [InlineData(30_001, 300, 200, 100, TemperatureClass.Ambient, false, ShippingClass.Bulky)] // heavy
    [InlineData(30_000, 300, 200, 100, TemperatureClass.Ambient, false, ShippingClass.Parcel)] // at the bound, not over it
    [InlineData(500, 1_201, 100, 100, TemperatureClass.Ambient, false, ShippingClass.Bulky)] // long
    [InlineData(500, 1_000, 600, 450, TemperatureClass.Ambient, false, ShippingClass.Bulky)] // length + girth 3,100
    [InlineData(500, 100, 1_000, 450, TemperatureClass.Ambient, false, ShippingClass.Parcel)] // sides in any order: 1,000 + 1,100
    public void ShippingClass_FirstMatchingRuleDecides(int grams, int l, int w, int h, TemperatureClass temperature, bool hazmat, ShippingClass expected)
    {
        Assert.Equal(expected, Planner().ClassOf(Sku("x", grams, l, w, h, temperature, hazmat)));
    }

    [Fact]
    public void ItemsTravelTogether_OnlyFromTheSameWarehouse_InTheSameClass_AtTheSameTemperature()
    {
        var plan = Planner(Carrier("c", 3_000)).Plan(Order(
            new PaidLine(Sku("mug"), Seoul, 1),
            new PaidLine(Sku("plate"), Seoul, 2),
            new PaidLine(Sku("cup"), Busan, 1),
            new PaidLine(Sku("ice", temperature: TemperatureClass.Frozen), Seoul, 1),
            new PaidLine(Sku("milk", temperature: TemperatureClass.Chilled), Seoul, 1),
            new PaidLine(Sku("lighter-gas", hazmat: true), Seoul, 1)), AllHealthy);

        var shipments = plan.Select(s => (s.WarehouseCode, s.Class, s.Temperature, Items: string.Join(",", s.Items.Select(i => $"{i.SkuCode}×{i.Quantity}"))));
        Assert.Equal(
            [
                ("wh-busan", ShippingClass.Parcel, TemperatureClass.Ambient, "cup×1"),
                ("wh-seoul", ShippingClass.Parcel, TemperatureClass.Ambient, "mug×1,plate×2"),
                ("wh-seoul", ShippingClass.ColdChain, TemperatureClass.Chilled, "milk×1"),
                ("wh-seoul", ShippingClass.ColdChain, TemperatureClass.Frozen, "ice×1"),
                ("wh-seoul", ShippingClass.Hazmat, TemperatureClass.Ambient, "lighter-gas×1"),
            ],
            shipments);
        Assert.Equal(Enumerable.Range(0, 5), plan.Select(s => s.Index));
    }

    [Fact]
    public void PlanningTheSameOrderAgain_GivesTheSameShipments()
    {
        var planner = Planner(Carrier("a", 3_000), Carrier("b", 2_000));
        var order = Order(new PaidLine(Sku("mug"), Seoul, 3), new PaidLine(Sku("ice", temperature: TemperatureClass.Frozen), Busan, 1));

        var first = planner.Plan(order, AllHealthy);
        var again = planner.Plan(order with { Lines = order.Lines.Reverse().ToList() }, AllHealthy);

        Assert.Equal(first.Select(s => (s.Index, s.WarehouseCode, s.Class, s.CarrierId, s.WeightGrams)),
            again.Select(s => (s.Index, s.WarehouseCode, s.Class, s.CarrierId, s.WeightGrams)));
    }

    [Fact]
    public void ParcelShipments_AreSplitByUnitsAtTheWeightBound_AndAHeavierUnitTravelsAlone()
    {
        var rules = new FulfillmentRules { ParcelShipmentGramsMax = 10_000, Bulky = new BulkyRule { WeightGramsOver = 100_000 } };
        var plan = new FulfillmentPlanner(rules).Plan(Order(
            new PaidLine(Sku("rice-4kg", grams: 4_000), Seoul, 5),
            new PaidLine(Sku("anvil-12kg", grams: 12_000), Seoul, 1)), AllHealthy);

        Assert.Equal(
            [("anvil-12kg×1", 12_000), ("rice-4kg×2", 8_000), ("rice-4kg×2", 8_000), ("rice-4kg×1", 4_000)],
            plan.Select(s => (string.Join(",", s.Items.Select(i => $"{i.SkuCode}×{i.Quantity}")), s.WeightGrams)));
        Assert.All(plan, s => Assert.True(s.Items.Sum(i => i.Quantity) > 0));
    }

    [Fact]
    public void BulkyShipments_AreNotSplitByTheParcelBound()
    {
        var plan = Planner().Plan(Order(new PaidLine(Sku("sofa", grams: 40_000, l: 2_000), Seoul, 2)), AllHealthy);
        Assert.Equal(80_000, Assert.Single(plan).WeightGrams);
    }

    [Fact]
    public void ServiceLevel_ComesFromTheRulesForTheClass()
    {
        var rules = new FulfillmentRules
        {
            ServiceLevels = new Dictionary<ShippingClass, string>
            {
                [ShippingClass.Parcel] = "economy", [ShippingClass.Bulky] = "freight", [ShippingClass.ColdChain] = "same_day", [ShippingClass.Hazmat] = "ground",
            },
        };
        var plan = new FulfillmentPlanner(rules).Plan(Order(
            new PaidLine(Sku("mug"), Seoul, 1), new PaidLine(Sku("ice", temperature: TemperatureClass.Frozen), Seoul, 1)), AllHealthy);
        Assert.Equal(["economy", "same_day"], plan.Select(s => s.ServiceLevel));
    }

    [Fact]
    public void Carrier_IsTheCheapestHealthyOneCoveringTheDestinationAndClass_TiesById()
    {
        var planner = Planner(
            Carrier("cheap-but-japan", 100, country: "JP"),
            Carrier("cheap-but-busan-only", 200, regions: ["kr-busan"]),
            Carrier("cheap-but-no-cold", 300, classes: [ShippingClass.Parcel]),
            Carrier("zeta", 1_000),
            Carrier("alpha", 1_000));
        var order = Order(new PaidLine(Sku("ice", grams: 1_500, temperature: TemperatureClass.Frozen), Seoul, 1));

        var shipment = Assert.Single(planner.Plan(order, AllHealthy));

        Assert.Equal("alpha", shipment.CarrierId);
        Assert.Equal(1_000 + 2 * 100, shipment.PriceMinor); // 1.5 kg is two started kilograms
        Assert.False(shipment.CarrierDegraded);
        Assert.Equal("cheap-but-busan-only", Assert.Single(planner.Plan(Order(new Destination("KR", "kr-busan"),
            new PaidLine(Sku("mug"), Busan, 1)), AllHealthy)).CarrierId);
    }

    [Fact]
    public void Carrier_SkipsUnhealthyOnes_AndWhenAllAreUnhealthy_TakesTheCheapestMarkedDegraded()
    {
        var planner = Planner(Carrier("a", 1_000), Carrier("b", 2_000));
        var order = Order(new PaidLine(Sku("mug"), Seoul, 1));

        Assert.Equal("b", Assert.Single(planner.Plan(order, id => id != "a")).CarrierId);
        var degraded = Assert.Single(planner.Plan(order, _ => false));
        Assert.Equal(("a", true), (degraded.CarrierId, degraded.CarrierDegraded));
    }

    [Fact]
    public void NoCarrierCoveringTheDestination_LeavesTheShipmentUnassignedWithAReason()
    {
        var shipment = Assert.Single(Planner(Carrier("kr", 1_000)).Plan(Order(new Destination("US", null), new PaidLine(Sku("mug"), Seoul, 1)), AllHealthy));
        Assert.Null(shipment.CarrierId);
        Assert.Equal("no_carrier_covers", shipment.Problem);
    }
}
