namespace Surge.Server;

/// <summary>
/// A seller's weekly demand from the read model (units per SKU per day of paid seller orders, by placement date) and
/// what is available now from the seller's partition (its SKUs only, no scan of its orders). Before it reads, it waits
/// (at most <see cref="CatchUpMax"/>) until the read model holds what the partition had made durable, so a forecast asked
/// right after orders were paid counts them.
/// </summary>
internal sealed class ReadModelDemand(ReadModelRouting readModel, Gateway gateway) : IDemandSource
{
    /// <summary>Longest a forecast waits for the read model to catch up with the seller's partition.</summary>
    public static readonly TimeSpan CatchUpMax = TimeSpan.FromSeconds(2);

    private const long DayMs = 24L * 3600 * 1000;

    public async Task<WeeklySkuDemand[]> SellerDemand(long sellerId, long fromMs, int weeks)
    {
        await readModel.CatchUpAsync(gateway.PartitionOf(sellerId), CatchUpMax);
        var skus = await gateway.SellerDemand(sellerId, fromMs, 0);
        var fromDay = (int)Math.Floor(fromMs / (double)DayMs);
        var units = skus.ToDictionary(s => s.Sku, _ => new double[weeks], StringComparer.Ordinal);
        foreach (var day in readModel.Store.SkuDays(sellerId, fromDay, fromDay + 7 * weeks))
        {
            if (units.TryGetValue(day.Sku, out var weekly))
            {
                weekly[(day.Day - fromDay) / 7] += day.Units;
            }
        }
        return [.. skus.Select(s => s with { WeeklyUnits = units[s.Sku] })];
    }
}
