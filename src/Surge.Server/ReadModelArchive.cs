namespace Surge.Server;

/// <summary>The saga's archive of retired seller orders: the read model's rows, with warehouse codes turned back into
/// the engine's warehouse references (the same on every partition). A retired order is final, so its hold's expiry no
/// longer matters; its placement time stands in for it.</summary>
internal sealed class ReadModelArchive(ReadModel.ReadModelStore store, Catalog catalog) : IOrderArchive
{
    public Task<SellerOrderState[]> ChildrenAsync(long parent)
    {
        var warehouses = catalog.Warehouses;
        return Task.FromResult(store.OrdersOfParent(parent).Select(o => new SellerOrderState(o.OrderId, o.ParentId, o.SellerId, o.Status,
            o.CancelReason, o.PlacedAtMs, o.PlacedAtMs,
            [.. o.Lines.Select(l => new PlacedLine(l.Sku, Index(warehouses, l.Warehouse), l.Quantity))])).ToArray());
    }

    private static int Index(IReadOnlyList<string> warehouses, string code)
    {
        for (var i = 0; i < warehouses.Count; i++)
        {
            if (warehouses[i] == code)
            {
                return i;
            }
        }
        return warehouses.Count; // unknown here: written as an empty warehouse id
    }
}
