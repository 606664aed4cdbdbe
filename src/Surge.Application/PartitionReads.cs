using Surge.Core;

namespace Surge.Application;

/// <summary>The reads <see cref="IPartitions"/> answers, written once against an engine: a host runs them inside the
/// partition's turn (a grain), a test or the simulator directly.</summary>
public static class PartitionReads
{
    public static SellerOrderState State(Engine engine, OrderSnapshot order) =>
        new(order.OrderId, order.ParentId, order.SellerId, order.Status, order.CancelReason, order.PlacedAtMs, order.ExpiresAtMs,
            [.. order.Allocations.Select(a => new PlacedLine(engine.GetSku(a.Sku).Code, a.Warehouse, a.Quantity))]);

    /// <summary>The seller orders among <paramref name="ids"/> that the engine holds.</summary>
    public static SellerOrderState[] Orders(Engine engine, long[] ids)
    {
        var found = new List<SellerOrderState>(ids.Length);
        foreach (var id in ids)
        {
            if (engine.GetOrder(id) is { } order)
            {
                found.Add(State(engine, order));
            }
        }
        return [.. found];
    }

    /// <summary>The largest parent-order sequence among the engine's seller orders, retired ones included (walks the
    /// order table: for start-up, so that new parent ids continue after it).</summary>
    public static long LastParentSequence(Engine engine)
    {
        var last = engine.HighestRetiredId == 0 ? 0 : Ids.Sequence(Ids.ParentOf(engine.HighestRetiredId));
        for (var i = 0; i < engine.OrderCount; i++)
        {
            last = Math.Max(last, Ids.Sequence(engine.GetOrderAt(i).ParentId));
        }
        return last;
    }

    /// <summary>Whether reconciliation must look at this seller order: part of a multi-seller order, and not final.</summary>
    public static bool IsOpenMultiSellerChild(OrderSnapshot order) =>
        Ids.IsMulti(order.ParentId) && order.Status is OrderStatus.PendingPayment or OrderStatus.Paid;

    /// <summary>Seller orders of multi-seller orders that are not final yet (scans the order table).</summary>
    public static SellerOrderState[] OpenMultiSellerChildren(Engine engine)
    {
        var open = new List<SellerOrderState>();
        for (var i = 0; i < engine.OrderCount; i++)
        {
            var order = engine.GetOrderAt(i);
            if (IsOpenMultiSellerChild(order))
            {
                open.Add(State(engine, order));
            }
        }
        return [.. open];
    }

    /// <summary>Weekly demand of every SKU of a seller over <paramref name="weeks"/> weeks from <paramref name="fromMs"/>:
    /// units of its seller orders that were paid (or went further, not cancelled), by the week in which they were placed,
    /// and the units available now. Scans the order table once — unless <paramref name="weeks"/> is 0: then only the
    /// seller's SKUs and what is available (the read model has the weeks).</summary>
    public static WeeklySkuDemand[] SellerDemand(Engine engine, long sellerId, long fromMs, int weeks)
    {
        const long WeekMs = 7L * 24 * 3600 * 1000;
        var bySku = new Dictionary<int, double[]>();
        for (var sku = 0; sku < engine.SkuCount; sku++)
        {
            if (engine.GetSku(sku).SellerId == sellerId)
            {
                bySku[sku] = new double[weeks];
            }
        }
        for (var index = 0; weeks > 0 && index < engine.OrderCount && bySku.Count > 0; index++)
        {
            if (engine.SellerAt(index) != sellerId)
            {
                continue;
            }
            var order = engine.GetOrderAt(index);
            var week = (order.PlacedAtMs - fromMs) / WeekMs;
            if (week < 0 || week >= weeks || StatusTransitions.Rank(order.Status) < StatusTransitions.Rank(OrderStatus.Paid)
                || order.Status == OrderStatus.Cancelled)
            {
                continue;
            }
            foreach (var allocation in order.Allocations)
            {
                bySku[allocation.Sku][week] += allocation.Quantity;
            }
        }
        return [.. bySku.Select(p => new WeeklySkuDemand(engine.GetSku(p.Key).Code, p.Value, engine.GetStockTotals(p.Key).Available))];
    }
}
