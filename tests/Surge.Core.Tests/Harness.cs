using Surge.Core;

namespace Surge.Core.Tests;

/// <summary>An engine with a small catalog: warehouses in three regions of two countries and SKUs of two sellers.</summary>
internal sealed class Harness
{
    public const long SellerA = 101;
    public const long SellerB = 202;
    public const long T0 = 1_700_000_000_000;
    public const long Hold = 15 * 60 * 1000;

    private readonly CommandWriter _writer = new();
    private long _nextOrder = 1;

    public Engine Engine { get; } = new();
    public long Now { get; set; } = T0;
    public int Seoul { get; }
    public int Busan { get; }
    public int London { get; }

    public Harness()
    {
        Seoul = Warehouse("wh-seoul", "kr-seoul", "KR");
        Busan = Warehouse("wh-busan", "kr-busan", "KR");
        London = Warehouse("wh-london", "gb-london", "GB");
    }

    public int Warehouse(string code, string region, string country)
    {
        var outcome = Run(w => w.UpsertWarehouse(code, region, country))[0];
        Assert.True(outcome.Accepted);
        return (int)outcome.Ref;
    }

    public int Sku(long seller, string code, TemperatureClass temperature = TemperatureClass.Ambient)
    {
        var outcome = Run(w => w.UpsertSku(new SkuDefinition(seller, code, "Title " + code, "Misc", 500, 100, 100, 100,
            temperature, false, 1999, "KRW")))[0];
        Assert.True(outcome.Accepted, outcome.Reason.ToCode());
        return (int)outcome.Ref;
    }

    public CommandOutcome Receive(int sku, int warehouse, int quantity) => Run(w => w.ReceiveStock(sku, warehouse, quantity))[0];

    public long NewOrderId() => _nextOrder++;

    public CommandOutcome Place(long orderId, long seller, params OrderLine[] lines) =>
        PlaceFor(orderId, seller, buyer: 9, region: "kr-seoul", country: "KR", lines);

    public CommandOutcome PlaceFor(long orderId, long seller, long buyer, string region, string country, params OrderLine[] lines) =>
        Run(w => w.PlaceOrder(orderId, parentId: orderId, buyer, seller, Now + Hold, Engine.FindRegion(region),
            CountryCode.Pack(country), lines))[0];

    public CommandOutcome Pay(long orderId) => Run(w => w.ConfirmPayment(orderId))[0];

    public CommandOutcome Cancel(long orderId) => Run(w => w.CancelOrder(orderId, CancelReason.Buyer))[0];

    public CommandOutcome Advance(long orderId, OrderStatus status) => Run(w => w.AdvanceStatus(orderId, status))[0];

    public CommandOutcome Tick() => Run(w => w.Tick())[0];

    /// <summary>Applies one batch stamped with <see cref="Now"/> and returns copies of its outcomes.</summary>
    public CommandOutcome[] Run(Action<CommandWriter> build)
    {
        _writer.Begin(Now);
        build(_writer);
        Engine.Apply(_writer.Written);
        Engine.CheckInvariants();
        return Engine.Outcomes.ToArray();
    }

    public EngineEvent[] LastEvents() => Engine.Events.ToArray();
}
