using Surge.Cli.Load;

namespace Surge.Bench.Scenarios;

/// <summary>A named load: the catalog every system is loaded with, and how the orders come.</summary>
public sealed record Scenario(string Name, string Description, Catalog Catalog, LoadPlan Plan)
{
    public static readonly string[] Names = ["flash-sale", "marketplace-typical", "marketplace-wide", "burst"];

    /// <summary>Workers (connections), each with one request in flight.</summary>
    public const int WorkersDefault = 64;

    /// <summary>
    /// One SKU with <paramref name="units"/> units and a limit of one per buyer; every one of
    /// <paramref name="buyers"/> distinct buyers asks for one unit, as fast as answers come. Exactly
    /// <paramref name="units"/> orders may succeed; everyone else must get a sold-out answer.
    /// </summary>
    public static Scenario FlashSale(int buyers, int units, int workers, TimeSpan bound)
    {
        var catalog = new Catalog(1, [new CatalogSku(0, "flash-console", units, LimitedToOnePerBuyer: true)]);
        var orders = new ScenarioOrder[buyers];
        for (var i = 0; i < buyers; i++)
        {
            orders[i] = new ScenarioOrder($"buyer-{i}", [new ScenarioLine(0, "flash-console", 1)]);
        }
        return new Scenario("flash-sale", $"1 SKU × {units:N0} units, {buyers:N0} distinct buyers, limit 1 per buyer, closed loop",
            catalog, new LoadPlan(orders, Rate: null, workers, bound));
    }

    /// <summary>
    /// The Online Retail data's orders as a marketplace's carts (<see cref="MarketplaceShape"/>: <c>typical</c> or
    /// <c>wide</c>): the real baskets in time order, up to <paramref name="orders"/> carts, the real SKU popularity,
    /// <paramref name="sellers"/> sellers; stock is a third of what the year sold, so popular items sell out. Four in
    /// five accepted orders are then paid and one in ten cancelled (the stock returns), as fast as answers come.
    /// </summary>
    public static Scenario Marketplace(RetailData data, bool typical, int orders, int sellers, int workers, TimeSpan bound)
    {
        // Stock codes the API does not take as SKUs (e.g. "BANK CHARGES": no spaces) are left out for every system.
        static bool IsProduct(string code) => Server.Api.IsCode(code);
        var invoices = data.Invoices.Select(i => i with { Lines = i.Lines.Where(l => IsProduct(l.StockCode)).ToArray() })
            .Where(i => i.Lines.Length > 0).ToList();
        var products = data.Products.Where(p => IsProduct(p.StockCode)).ToList();
        var sellerOf = typical
            ? MarketplaceShape.SpecialisedSellers(products.Select(p => p.StockCode).ToList(),
                invoices.Select(i => (IReadOnlyList<string>)i.Lines.Select(l => l.StockCode).ToList()), sellers)
            : MarketplaceShape.HashedSellers(products.Select(p => p.StockCode), sellers);
        var skus = products.Select(p => new CatalogSku(sellerOf[p.StockCode], p.StockCode, Math.Max(10, p.UnitsSold / 3))).ToList();
        // A basket's lines, one per stock code (quantities summed), in the order the invoice lists them.
        var baskets = invoices.Select(i => i.Lines.GroupBy(l => l.StockCode, StringComparer.Ordinal)
            .Select(g => new ScenarioLine(sellerOf[g.Key], g.Key, (int)Math.Min(g.Sum(l => (long)l.Quantity), 10_000))).ToArray()).ToList();
        var carts = typical
            ? MarketplaceShape.ConsumerCarts(baskets).Select(c => (c.Basket, Lines: c.Lines.ToArray()))
            : baskets.Select((lines, b) => (Basket: b, Lines: lines));
        var plan = carts.Take(orders).Select((cart, i) => new ScenarioOrder($"customer-{invoices[cart.Basket].Customer}-{i}",
                cart.Lines.OrderBy(l => l.Sku, StringComparer.Ordinal).Take(MarketplaceLinesMax).ToArray(),
                (i % 10) switch { < 8 => FollowUp.Pay, 8 => FollowUp.Cancel, _ => FollowUp.None }))
            .ToArray();
        var shape = typical ? $"typical: specialised sellers, consumer-sized carts (mean {MarketplaceShape.TypicalCartLinesMean} lines)"
            : "wide: whole invoices, stock codes hashed over the sellers";
        return new Scenario(typical ? "marketplace-typical" : "marketplace-wide",
            $"{plan.Length:N0} Online Retail carts, {shape}; {plan.Average(o => o.Lines.Length):F1} lines on average, "
            + $"{MarketplaceShape.SellersPerCart(plan)}; {skus.Count:N0} SKUs, {sellers} sellers, 80 % paid, 10 % cancelled, closed loop",
            new Catalog(sellers, skus), new LoadPlan(plan, Rate: null, workers, bound));
    }

    /// <summary>Lines per order kept from a basket (Surge's order limit; larger baskets are cut to it for every system).</summary>
    public const int MarketplaceLinesMax = Core.Limits.LinesPerOrderMax;

    /// <summary>
    /// The midnight opening: single-line orders over <paramref name="skus"/> well-stocked SKUs arrive at
    /// <paramref name="baseRate"/> a second, jump to 20× for <paramref name="burstSeconds"/> seconds, then fall
    /// back. Open loop: latency counts from when each order was due.
    /// </summary>
    public static Scenario Burst(double baseRate, int before, int burstSeconds, int after, int skus, int sellers, int workers)
    {
        var rate = new RateProfile([(TimeSpan.FromSeconds(before), baseRate), (TimeSpan.FromSeconds(burstSeconds), baseRate * BurstFactor),
            (TimeSpan.FromSeconds(after), baseRate)]);
        var catalog = new Catalog(sellers, Enumerable.Range(0, skus).Select(i => new CatalogSku(i % sellers, $"item-{i}", 1_000_000)).ToList());
        var random = new Random(20261126);
        var orders = new ScenarioOrder[rate.TotalOrders];
        for (var i = 0; i < orders.Length; i++)
        {
            var sku = random.Next(skus);
            orders[i] = new ScenarioOrder($"shopper-{i}", [new ScenarioLine(sku % sellers, $"item-{sku}", 1 + random.Next(3))]);
        }
        return new Scenario("burst", $"{baseRate:N0}/s for {before} s, {baseRate * BurstFactor:N0}/s for {burstSeconds} s, {baseRate:N0}/s for {after} s; "
            + $"{skus:N0} SKUs, open loop", catalog, new LoadPlan(orders, rate, workers, rate.Length + BurstDrainAllowance));
    }

    public const int BurstFactor = 20;

    /// <summary>The SKUs every system warms up on before it is measured (its JIT, plans, connections and caches), one per
    /// seller of the first few: orders from distinct buyers over one to <see cref="WarmupSellersMax"/> sellers, most of
    /// them paid and some cancelled, so that the paths the scenario takes (multi-seller carts, payment, cancellation)
    /// are warm before the clock starts. Counted nowhere.</summary>
    public const string WarmupSku = "warmup-item";

    /// <summary>Sellers a warm-up cart spans at most.</summary>
    public const int WarmupSellersMax = 3;

    /// <summary>Orders prepared for the warm-up; it ends at its time bound first.</summary>
    private const int WarmupOrders = 2_000_000;

    private static int WarmupSellers(Catalog catalog) => Math.Min(catalog.Sellers, WarmupSellersMax);

    public static Catalog WithWarmupSkus(Catalog catalog) => catalog with
    {
        Skus = [.. catalog.Skus, .. Enumerable.Range(0, WarmupSellers(catalog)).Select(s => new CatalogSku(s, $"{WarmupSku}-{s}", Core.Limits.StockMovementUnitsMax))],
    };

    /// <summary>The catalog of the warm-up alone (the SKUs <see cref="WithWarmupSkus"/> added).</summary>
    public static Catalog WarmupCatalog(Catalog loaded) => new(loaded.Sellers, loaded.Skus.Skip(loaded.Skus.Count - WarmupSellers(loaded)).ToArray());

    public static LoadPlan Warmup(Catalog catalog, int workers, TimeSpan length)
    {
        var sellers = WarmupSellers(catalog);
        var orders = new ScenarioOrder[WarmupOrders];
        for (var i = 0; i < orders.Length; i++)
        {
            var lines = Enumerable.Range(0, 1 + i % sellers).Select(k => (i + k) % sellers)
                .Select(s => new ScenarioLine(s, $"{WarmupSku}-{s}", 1)).OrderBy(l => l.Sku, StringComparer.Ordinal).ToArray();
            orders[i] = new ScenarioOrder($"warmup-{i}", lines, (i % 10) switch { < 8 => FollowUp.Pay, 8 => FollowUp.Cancel, _ => FollowUp.None });
        }
        return new LoadPlan(orders, Rate: null, workers, length);
    }

    /// <summary>How long after the last order is due a system may take to answer the backlog before the run ends.</summary>
    public static readonly TimeSpan BurstDrainAllowance = TimeSpan.FromSeconds(30);
}
