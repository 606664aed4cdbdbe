using Surge.Core;

namespace Surge.Benchmarks;

/// <summary>
/// The benchmark marketplace: <see cref="Sellers"/> sellers with <see cref="SkusPerSeller"/> SKUs each
/// (100,000 SKUs), four warehouses in four regions of two countries, every SKU stocked everywhere.
/// Orders are seller orders of 1–5 lines with a skewed SKU popularity (a few bestsellers, a long tail).
/// </summary>
public sealed class MarketplaceCatalog
{
    public const int Sellers = 100;
    public const int SkusPerSeller = 1000;
    public const int Skus = Sellers * SkusPerSeller;
    public const int Warehouses = 4;
    public const int UnitsPerCell = 10_000_000;
    public const long StartMs = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    public const long HoldMs = 15 * 60 * 1000;

    public static long SellerId(int seller) => 1000 + seller;

    /// <summary>Batches that create the catalog and receive stock.</summary>
    public static IEnumerable<byte[]> Setup()
    {
        var w = new CommandWriter(1 << 20).Begin(StartMs);
        string[] regions = ["kr-seoul", "kr-busan", "gb-london", "gb-leeds"];
        for (var i = 0; i < Warehouses; i++)
        {
            w.UpsertWarehouse($"wh-{i}", regions[i], regions[i][..2].ToUpperInvariant());
        }
        yield return w.Written.ToArray();
        for (var seller = 0; seller < Sellers; seller++)
        {
            w.Begin(StartMs);
            for (var i = 0; i < SkusPerSeller; i++)
            {
                w.UpsertSku(new SkuDefinition(SellerId(seller), $"S{seller}-{i}", $"Product {i} of seller {seller}", "general",
                    200 + i % 5000, 100, 80, 60, (TemperatureClass)(i % 3), i % 97 == 0, 990 + i, "KRW"));
            }
            yield return w.Written.ToArray();
            w.Begin(StartMs);
            for (var i = 0; i < SkusPerSeller; i++)
            {
                for (var wh = 0; wh < Warehouses; wh++)
                {
                    w.ReceiveStock(seller * SkusPerSeller + i, wh, UnitsPerCell);
                }
            }
            yield return w.Written.ToArray();
        }
    }

    /// <summary>Encoded batches of <paramref name="ordersPerBatch"/> new orders each, deterministic per seed.</summary>
    public static List<byte[]> OrderBatches(int orders, int ordersPerBatch, int seed, long firstOrderId = 1)
    {
        var random = new Random(seed);
        var w = new CommandWriter(ordersPerBatch * 96 + 64);
        var batches = new List<byte[]>(orders / ordersPerBatch + 1);
        Span<OrderLine> lines = stackalloc OrderLine[5];
        var now = StartMs + 1000;
        var orderId = firstOrderId;
        for (var done = 0; done < orders;)
        {
            w.Begin(now);
            var n = Math.Min(ordersPerBatch, orders - done);
            for (var i = 0; i < n; i++)
            {
                var seller = Skewed(random, Sellers);
                var count = random.Next(1, 6);
                for (var l = 0; l < count; l++)
                {
                    lines[l] = new OrderLine(seller * SkusPerSeller + Skewed(random, SkusPerSeller), random.Next(1, 4));
                }
                w.PlaceOrder(orderId, orderId, random.Next(1, 5_000_000), SellerId(seller), now + HoldMs,
                    random.Next(-1, Warehouses), (ushort)(random.Next(2) == 0 ? 0x4B52 : 0x4742), lines[..count]);
                orderId++;
            }
            done += n;
            batches.Add(w.Written.ToArray());
            now += 1;
        }
        return batches;
    }

    /// <summary>Index in [0, n) with popularity falling off like a power law.</summary>
    private static int Skewed(Random random, int n)
    {
        var u = random.NextDouble();
        return (int)(n * u * u * u);
    }
}
