using System.Collections.Concurrent;
using Surge.Client;
using Surge.Core;

namespace Surge.Cli.Load;

/// <summary>A marketplace built through the API from the Online Retail data: sellers owning the shop's stock
/// codes, warehouses in the data's main countries, SKUs and stock receipts.</summary>
public sealed class Marketplace
{
    public static readonly (string Id, string Region, string Country)[] Warehouses =
    [
        ("wh-london", "london", "GB"),
        ("wh-manchester", "north-west", "GB"),
        ("wh-paris", "ile-de-france", "FR"),
        ("wh-berlin", "berlin", "DE"),
    ];

    public required string[] SellerIds { get; init; }
    public required string[] SellerKeys { get; init; }

    /// <summary>Stock code → (seller id, index of the seller).</summary>
    public required IReadOnlyDictionary<string, (string Seller, int Index)> Owners { get; init; }

    /// <summary>Stock codes the API refused as SKUs (not products, e.g. "BANK CHARGES"); they have no owner.</summary>
    public IReadOnlyList<string> Refused { get; init; } = [];

    /// <summary>Units received per stock code.</summary>
    public required IReadOnlyDictionary<string, long> Received { get; init; }

    public static string Region(string country) => country switch
    {
        "FR" => "ile-de-france",
        "DE" => "berlin",
        _ => "london",
    };

    public static async Task<Marketplace> CreateAsync(SurgeClient admin, IReadOnlyList<RetailProduct> products, int sellers, Action<string, double> progress)
    {
        foreach (var (id, region, country) in Warehouses)
        {
            await admin.CreateWarehouseAsync(new WarehouseBody(id, region, country));
        }
        var ids = new string[sellers];
        var keys = new string[sellers];
        for (var s = 0; s < sellers; s++)
        {
            var created = await admin.CreateSellerAsync($"Retail seller {s + 1:D2}");
            (ids[s], keys[s]) = (created.Id, created.ApiKey);
            progress("sellers", (s + 1.0) / sellers);
        }
        var owners = new Dictionary<string, (string, int)>(StringComparer.Ordinal);
        var refused = new List<string>();
        var bySeller = products.GroupBy(p => (int)((uint)StableHash(p.StockCode) % (uint)sellers)).ToArray();
        var done = 0;
        foreach (var group in bySeller)
        {
            foreach (var chunk in group.Chunk(1000))
            {
                var skus = chunk.Select(p => new SkuBody(
                    Sku: p.StockCode,
                    Title: p.Description.Length > 200 ? p.Description[..200] : p.Description,
                    PriceMinor: p.PriceMinor,
                    Currency: "GBP",
                    WeightG: 100 + (int)((uint)StableHash(p.Description) % 2000),
                    Temperature: "ambient")).ToArray();
                var results = (await admin.WithKey(keys[group.Key]).UpsertSkusAsync(skus)).Results;
                for (var i = 0; i < chunk.Length; i++)
                {
                    if (results[i].Status is 200 or 201)
                    {
                        owners[chunk[i].StockCode] = (ids[group.Key], group.Key);
                    }
                    else
                    {
                        refused.Add(chunk[i].StockCode); // e.g. "BANK CHARGES": SKU codes have no spaces
                    }
                }
            }
            progress("catalog", ++done / (double)bySeller.Length);
        }
        var received = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var receipts = 0;
        var stocked = products.Where(p => owners.ContainsKey(p.StockCode)).ToList();
        await Parallel.ForEachAsync(stocked, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (p, token) =>
        {
            var (_, index) = owners[p.StockCode];
            var units = (int)Math.Clamp(p.UnitsSold * 3, 100, Limits.StockMovementUnitsMax);
            var warehouse = Warehouses[(uint)StableHash(p.StockCode) % (uint)Warehouses.Length].Id;
            await admin.WithKey(keys[index]).ReceiveStockAsync(p.StockCode, warehouse, units, cancellationToken: token);
            received[p.StockCode] = units;
            progress("stock", Interlocked.Increment(ref receipts) / (double)stocked.Count);
        });
        return new Marketplace { SellerIds = ids, SellerKeys = keys, Owners = owners, Received = received, Refused = refused };
    }

    /// <summary>A hash that is the same in every run (string.GetHashCode is randomised per process).</summary>
    public static int StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var ch in text)
        {
            hash = (hash ^ ch) * 16777619u;
        }
        return (int)hash;
    }
}
