using Surge.Cli.Load;

namespace Surge.Bench.Scenarios;

/// <summary>
/// How the marketplace scenarios turn the Online Retail invoices (one wholesaler's, 25 lines on average) into a
/// multi-seller marketplace's carts.
/// <list type="bullet">
/// <item><b>wide</b>: every invoice is one cart, and each stock code belongs to a seller picked by a hash of the code —
/// sellers with no assortment of their own, so a cart spans ~15 sellers: wider than marketplaces see, kept as the
/// stress case.</item>
/// <item><b>typical</b>: sellers specialise — products bought together belong to the same seller (label propagation
/// over the data's co-purchases: neighbouring lines of an invoice, balanced so every seller keeps between
/// <see cref="AssortmentShareMin"/> and <see cref="AssortmentShareMax"/> of the mean assortment), and carts are
/// consumer-sized: each invoice is cut into consecutive carts of a geometric number of lines with mean
/// <see cref="TypicalCartLinesMean"/>. Most carts then span 1–3 sellers (the share is measured and reported with the
/// scenario, not assumed).</item>
/// </list>
/// Both are deterministic for a given data file.
/// </summary>
public static class MarketplaceShape
{
    /// <summary>Lines of a typical cart, on average (geometric, at least one).</summary>
    public const double TypicalCartLinesMean = 2.5;

    /// <summary>Invoice lines apart that still count as bought together (the clerk entered related items in a row).</summary>
    public const int CoPurchaseWindowLines = 5;

    /// <summary>Passes of label propagation (it settles in fewer on the Online Retail data).</summary>
    public const int PropagationPassesMax = 20;

    /// <summary>Bounds of a seller's assortment, as shares of the mean (products ÷ sellers).</summary>
    public const double AssortmentShareMin = 0.5, AssortmentShareMax = 1.5;

    private const int CartSeed = 20261205;

    /// <summary>The seller index of every product of the wide shape: a stable hash of the stock code.</summary>
    public static Dictionary<string, int> HashedSellers(IEnumerable<string> products, int sellers) =>
        products.Distinct(StringComparer.Ordinal)
            .ToDictionary(p => p, p => (int)((uint)Marketplace.StableHash(p) % (uint)sellers), StringComparer.Ordinal);

    /// <summary>The seller index of every product of the typical shape: start from the hashed assignment, then move
    /// each product (in stock-code order) to the seller its co-purchases weigh most towards, while both sellers stay
    /// within the assortment bounds, until a pass moves nothing.</summary>
    public static Dictionary<string, int> SpecialisedSellers(IReadOnlyList<string> products, IEnumerable<IReadOnlyList<string>> baskets, int sellers)
    {
        var seller = HashedSellers(products, sellers);
        var neighbours = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        void Link(string a, string b)
        {
            if (!neighbours.TryGetValue(a, out var weights))
            {
                neighbours[a] = weights = new Dictionary<string, int>(StringComparer.Ordinal);
            }
            weights[b] = weights.GetValueOrDefault(b) + 1;
        }
        foreach (var basket in baskets)
        {
            for (var i = 0; i < basket.Count; i++)
            {
                for (var j = i + 1; j < basket.Count && j <= i + CoPurchaseWindowLines; j++)
                {
                    if (seller.ContainsKey(basket[i]) && seller.ContainsKey(basket[j]) && basket[i] != basket[j])
                    {
                        Link(basket[i], basket[j]);
                        Link(basket[j], basket[i]);
                    }
                }
            }
        }
        var mean = seller.Count / (double)sellers;
        var (floor, ceiling) = (mean * AssortmentShareMin, mean * AssortmentShareMax);
        var size = new int[sellers];
        foreach (var s in seller.Values)
        {
            size[s]++;
        }
        var ordered = seller.Keys.Order(StringComparer.Ordinal).ToArray();
        var pull = new long[sellers];
        for (var pass = 0; pass < PropagationPassesMax; pass++)
        {
            var moved = 0;
            foreach (var product in ordered)
            {
                if (!neighbours.TryGetValue(product, out var weights) || size[seller[product]] <= floor)
                {
                    continue;
                }
                Array.Clear(pull);
                foreach (var (other, weight) in weights)
                {
                    pull[seller[other]] += weight;
                }
                var (from, best) = (seller[product], seller[product]);
                for (var s = 0; s < sellers; s++)
                {
                    if (pull[s] > pull[best] && size[s] + 1 <= ceiling)
                    {
                        best = s;
                    }
                }
                if (best != from)
                {
                    (seller[product], size[from], size[best], moved) = (best, size[from] - 1, size[best] + 1, moved + 1);
                }
            }
            if (moved == 0)
            {
                break;
            }
        }
        return seller;
    }

    /// <summary>Cuts each basket into consecutive carts with a geometric number of lines (mean
    /// <see cref="TypicalCartLinesMean"/>); the same cuts on every run.</summary>
    public static IEnumerable<(int Basket, ArraySegment<T> Lines)> ConsumerCarts<T>(IReadOnlyList<T[]> baskets)
    {
        var random = new Random(CartSeed);
        var stop = 1 / TypicalCartLinesMean;
        for (var b = 0; b < baskets.Count; b++)
        {
            var lines = baskets[b];
            for (var at = 0; at < lines.Length;)
            {
                var take = 1;
                while (random.NextDouble() >= stop)
                {
                    take++;
                }
                take = Math.Min(take, lines.Length - at);
                yield return (b, new ArraySegment<T>(lines, at, take));
                at += take;
            }
        }
    }

    /// <summary>Shares of orders by how many sellers they span: 1, 2, 3, 4 and more.</summary>
    public static double[] SellersPerCartShares(IReadOnlyCollection<ScenarioOrder> orders)
    {
        var counts = new double[4];
        foreach (var order in orders)
        {
            counts[Math.Min(3, order.Lines.Select(l => l.Seller).Distinct().Count() - 1)]++;
        }
        return [.. counts.Select(c => orders.Count == 0 ? 0 : c / orders.Count)];
    }

    /// <summary><see cref="SellersPerCartShares"/> in words, for the scenario's description.</summary>
    public static string SellersPerCart(IReadOnlyCollection<ScenarioOrder> orders) =>
        "sellers per cart 1 / 2 / 3 / 4+: " + string.Join(" / ", SellersPerCartShares(orders).Select(s => $"{s * 100:F0}")) + " %";
}
