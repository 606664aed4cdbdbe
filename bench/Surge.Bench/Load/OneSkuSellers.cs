using Surge.Client;

namespace Surge.Bench.Load;

/// <summary>The catalog most benches use: one warehouse (wh-1, Seoul) and sellers that each own one SKU <c>item</c>
/// with <paramref name="units"/> units in stock. Returns each seller's id and key.</summary>
internal static class OneSkuSellers
{
    public const string Sku = "item";
    public const string Warehouse = "wh-1";

    public static async Task<(string Id, string Key)[]> CreateAsync(SurgeClient admin, int sellers, int units, int weightGrams = 100, string name = "bench seller")
    {
        await admin.CreateWarehouseAsync(new WarehouseBody(Warehouse, "seoul", "KR"));
        var created = new (string Id, string Key)[sellers];
        for (var s = 0; s < sellers; s++)
        {
            var seller = await admin.CreateSellerAsync($"{name} {s}");
            var owner = admin.WithKey(seller.ApiKey);
            await owner.UpsertSkuAsync(new SkuBody(Sku, "Bench item", 1000, "KRW", weightGrams, "ambient"));
            await owner.ReceiveStockAsync(Sku, Warehouse, units);
            created[s] = (seller.Id, seller.ApiKey);
        }
        return created;
    }
}
