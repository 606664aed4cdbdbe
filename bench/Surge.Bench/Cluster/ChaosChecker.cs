using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Surge.Bench;

/// <summary>What the checker found; every count but the totals must be 0. <see cref="Examples"/> names a few of
/// each finding so that a failure can be followed up.</summary>
internal sealed record ChaosCounts(long OrdersInStore, long AbortedPlacements, long Lost, long Duplicates, long Oversold, long StockMismatch, long PaidNotShipped,
    long ShipmentsChecked, long CarrierManifests, long CarrierDuplicateShipments, long TrackingOutOfOrder, long NotificationsChecked,
    long NotificationsLost, long NotificationsOutOfOrder, IReadOnlyList<string> Examples);

/// <summary>
/// Reads everything back once the cluster is quiet and compares it with the clients' own records (the ledger), the
/// carrier's capture and the subscriber's arrivals: every seller's order list, every order with its shipments and
/// tracking, every SKU's stock. Reads go through one serving silo (any silo answers for every partition).
/// </summary>
internal sealed class ChaosChecker(Func<SurgeClient> admin, ChaosSeller[] sellers, IReadOnlyDictionary<(string Seller, string Sku), int> received)
{
    /// <summary>Where a notification type sits in the lifecycle: first arrivals must not go down.</summary>
    private static readonly Dictionary<string, double> Rank = new(StringComparer.Ordinal)
    {
        ["order.placed"] = 0, ["order.paid"] = 1, ["order.cancelled"] = 1.5, ["order.allocated"] = 2, ["order.dispatched"] = 3,
        ["order.in_transit"] = 4, ["order.out_for_delivery"] = 5, ["order.delivered"] = 6,
    };

    /// <summary>A shipment's tracking statuses in the order the carrier-sim sends them.</summary>
    private static readonly Dictionary<string, int> TrackingRank = new(StringComparer.Ordinal)
    {
        ["in_transit"] = 1, ["out_for_delivery"] = 2, ["delivered"] = 3,
    };

    private readonly ConcurrentQueue<string> _examples = new();

    public sealed record SellerOrderRow(string Id, string Parent, string Seller, string Status, List<(string Sku, int Quantity)> Lines);

    /// <summary>Every seller order of every seller (all pages).</summary>
    public async Task<List<SellerOrderRow>> SellerOrdersAsync()
    {
        var rows = new List<SellerOrderRow>();
        foreach (var seller in sellers)
        {
            string? cursor = null;
            do
            {
                var page = await admin().ListSellerOrdersAsync(seller.Id, cursor, 500);
                foreach (var order in page.Orders)
                {
                    var child = long.Parse(order.Id.AsSpan(3), CultureInfo.InvariantCulture);
                    rows.Add(new SellerOrderRow(order.Id, Ids.Order(Ids.ParentOf(child)), order.SellerId, order.Status,
                        [.. order.Lines.Select(l => (l.Sku, l.Quantity))]));
                }
                cursor = page.NextCursor;
            }
            while (cursor is not null);
        }
        return rows;
    }

    public async Task<ChaosCounts> CheckAsync(ChaosLedger ledger, string carrierCapture, IReadOnlyList<ChaosSubscriber.Arrival> arrivals)
    {
        var rows = await SellerOrdersAsync();
        var parents = rows.Select(r => r.Parent).ToHashSet(StringComparer.Ordinal);
        var acknowledged = ledger.Placements.SelectMany(p => p.Ids).ToHashSet(StringComparer.Ordinal);
        var orders = await ReadOrdersAsync(parents.Union(acknowledged));

        // Lost: an acknowledged order Surge does not have, or whose acknowledged payment or cancellation it does not show.
        long lost = 0;
        foreach (var id in acknowledged.Where(id => !orders.ContainsKey(id)))
        {
            lost++;
            Example($"lost: {id} was acknowledged and is not found");
        }
        foreach (var (id, outcome) in ledger.SettledOrders)
        {
            if (!orders.TryGetValue(id, out var order))
            {
                continue; // counted above
            }
            var statuses = order["seller_orders"]!.AsArray().Select(s => s!["status"]!.GetValue<string>()).ToList();
            var holds = outcome == "cancelled" ? statuses.All(s => s == "cancelled") : statuses.All(s => s is not ("pending_payment" or "cancelled"));
            if (!holds)
            {
                lost++;
                var children = order["seller_orders"]!.AsArray().Select(s => $"{s!["id"]} {s["status"]} {s["cancel_reason"]}");
                var key = ledger.Placements.First(p => p.Ids.Contains(id)).Key;
                Example($"lost: {id} was acknowledged {outcome} and shows [{string.Join(", ", children)}]; {ledger.Trail(key)}");
            }
        }

        // Duplicates: a key answered with two ids, or an order in Surge that no answer ever named (a retry placed it again).
        long duplicates = 0;
        foreach (var placement in ledger.Placements.Where(p => p.Ids.Count > 1))
        {
            duplicates += placement.Ids.Count - 1;
            Example($"duplicate: key {placement.Key} answered {string.Join(", ", placement.Ids)}");
        }
        // An order no answer named is harmless when it was released as a whole (a multi-seller placement that failed
        // part-way: every seller order cancelled parent_aborted — the retry placed the cart anew); any other is a
        // second order for a key whose client never learnt of it.
        long aborted = 0;
        foreach (var parent in parents.Where(p => !acknowledged.Contains(p)))
        {
            var children = orders.TryGetValue(parent, out var order) ? order["seller_orders"]!.AsArray() : [];
            if (children.Count > 0 && children.All(c => c!["status"]!.GetValue<string>() == "cancelled" && c["cancel_reason"]?.GetValue<string>() == "parent_aborted"))
            {
                aborted++;
                continue;
            }
            duplicates++;
            Example($"duplicate: {parent} is in Surge and no answer named it: [{string.Join(", ", children.Select(c => $"{c!["id"]} {c["status"]} {c["cancel_reason"]}"))}]");
        }

        var (oversold, mismatch) = await StockAsync(rows);
        var paidNotShipped = rows.Count(r => r.Status is "paid" or "allocated");
        foreach (var row in rows.Where(r => r.Status is "paid" or "allocated").Take(3))
        {
            Example($"paid, not shipped: {row.Id} is {row.Status}");
        }

        // Shipments: each id reached the carrier under one webhook id, each is one Surge planned, tracking in lifecycle order.
        var shipments = orders.Values.SelectMany(o => o["seller_orders"]!.AsArray()).SelectMany(s => s!["shipments"]?.AsArray() ?? [])
            .ToDictionary(s => s!["id"]!.GetValue<string>(), s => s!, StringComparer.Ordinal);
        var webhookIds = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var manifests = 0;
        if (File.Exists(carrierCapture))
        {
            foreach (var line in File.ReadLines(carrierCapture))
            {
                var captured = JsonNode.Parse(line)!;
                var webhookId = captured["webhook-id"]!.GetValue<string>();
                manifests++;
                foreach (var shipment in JsonNode.Parse(captured["body"]!.GetValue<string>())!["data"]!["shipments"]!.AsArray())
                {
                    var id = shipment!["id"]!.GetValue<string>();
                    if (!webhookIds.TryGetValue(id, out var set))
                    {
                        webhookIds[id] = set = new HashSet<string>(StringComparer.Ordinal);
                    }
                    set.Add(webhookId);
                }
            }
        }
        long carrierDuplicates = 0;
        foreach (var (id, set) in webhookIds.Where(w => w.Value.Count > 1 || !shipments.ContainsKey(w.Key)))
        {
            carrierDuplicates++;
            Example(set.Count > 1 ? $"carrier: shipment {id} came under {set.Count} webhook ids" : $"carrier: shipment {id} is not one Surge planned");
        }
        long trackingOutOfOrder = 0;
        foreach (var (id, shipment) in shipments)
        {
            var ranks = (shipment["tracking"]?.AsArray() ?? []).Select(t => TrackingRank.GetValueOrDefault(t!["status"]!.GetValue<string>())).ToList();
            if (ranks.Zip(ranks.Skip(1)).Any(p => p.Second <= p.First))
            {
                trackingOutOfOrder++;
                Example($"tracking: shipment {id} has {string.Join(",", shipment["tracking"]!.AsArray().Select(t => t!["status"]!.GetValue<string>()))}");
            }
        }

        var (checkedCount, notificationsLost, outOfOrder) = Notifications(rows, arrivals);
        return new ChaosCounts(parents.Count, aborted, lost, duplicates, oversold, mismatch, paidNotShipped, shipments.Count, manifests, carrierDuplicates,
            trackingOutOfOrder, checkedCount, notificationsLost, outOfOrder, [.. _examples]);
    }

    /// <summary>Every order by id (in parallel); a 404 is left out.</summary>
    private async Task<Dictionary<string, JsonNode>> ReadOrdersAsync(IEnumerable<string> ids)
    {
        var found = new ConcurrentDictionary<string, JsonNode>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, token) =>
        {
            for (var attempt = 0; ; attempt++)
            {
                var answer = await admin().SendAsync(HttpMethod.Get, $"/v1/orders/{id}", cancellationToken: token);
                if (answer.IsSuccess)
                {
                    found[id] = answer.Json!;
                    return;
                }
                if (answer.Status == 404 || attempt >= 5)
                {
                    if (answer.Status != 404)
                    {
                        Example($"read: GET /v1/orders/{id} answered {answer.Status}");
                    }
                    return;
                }
                await Task.Delay(200, token);
            }
        });
        return new Dictionary<string, JsonNode>(found, StringComparer.Ordinal);
    }

    /// <summary>Oversold: units held (reserved + sold) beyond those received. Mismatch: units held that the live
    /// (not cancelled) seller orders do not account for, or the other way round.</summary>
    private async Task<(long Oversold, long Mismatch)> StockAsync(List<SellerOrderRow> rows)
    {
        long oversold = 0, mismatch = 0;
        foreach (var ((seller, sku), units) in received)
        {
            var stock = (await admin().SendAsync(HttpMethod.Get, $"/v1/skus/{sku}/stock?seller_id={seller}")).Json!;
            var held = stock["reserved"]!.GetValue<long>() + stock["sold"]!.GetValue<long>();
            var live = rows.Where(r => r.Seller == seller && r.Status != "cancelled").SelectMany(r => r.Lines).Where(l => l.Sku == sku).Sum(l => (long)l.Quantity);
            if (held > units)
            {
                oversold += held - units;
                Example($"oversold: {seller}/{sku} holds {held} of {units} received");
            }
            if (held != live)
            {
                mismatch += Math.Abs(held - live);
                Example($"stock: {seller}/{sku} holds {held}, live orders have {live}");
            }
        }
        return (oversold, mismatch);
    }

    /// <summary>Per subscription (the seller's) and seller order: the lifecycle steps every order passes through (placed;
    /// paid, allocated, dispatched once paid; its final status) must each have arrived, and first arrivals must follow
    /// the lifecycle. Tracking steps in between are not required: a seller order may go from dispatched straight to
    /// delivered when the carrier's events come faster than the status moves.</summary>
    private (long Checked, long Lost, long OutOfOrder) Notifications(List<SellerOrderRow> rows, IReadOnlyList<ChaosSubscriber.Arrival> arrivals)
    {
        var bySellerOrder = arrivals.GroupBy(a => (a.Seller, a.SellerOrder)).ToDictionary(g => g.Key, g => g.OrderBy(a => a.Sequence).ToList());
        long lost = 0, outOfOrder = 0;
        foreach (var row in rows)
        {
            var expected = new List<string> { "order.placed" };
            var status = "order." + row.Status;
            if (row.Status is not ("pending_payment" or "cancelled"))
            {
                expected.Add("order.paid");
                if (Rank.GetValueOrDefault(status) >= Rank["order.allocated"])
                {
                    expected.Add("order.allocated");
                }
                if (Rank.GetValueOrDefault(status) >= Rank["order.dispatched"])
                {
                    expected.Add("order.dispatched");
                }
            }
            if (row.Status != "pending_payment" && !expected.Contains(status))
            {
                expected.Add(status);
            }
            var got = bySellerOrder.GetValueOrDefault((row.Seller, row.Id)) ?? [];
            var missing = expected.Where(e => got.All(a => a.Type != e)).ToList();
            if (missing.Count > 0)
            {
                lost += missing.Count;
                Example($"notification lost: {row.Id} ({row.Status}) is missing {string.Join(",", missing)}");
            }
            var firsts = got.GroupBy(a => a.WebhookId).Select(g => g.First()).OrderBy(a => a.Sequence).Select(a => Rank.GetValueOrDefault(a.Type, -1)).ToList();
            if (firsts.Zip(firsts.Skip(1)).Any(p => p.Second < p.First))
            {
                outOfOrder++;
                Example($"notifications out of order: {row.Id}: {string.Join(",", got.Select(a => a.Type))}");
            }
        }
        return (rows.Count, lost, outOfOrder);
    }

    /// <summary>Keeps a finding as an example, at most <see cref="ExamplesPerKind"/> of each kind (the text before its colon).</summary>
    private void Example(string finding)
    {
        var kind = finding[..Math.Max(0, finding.IndexOf(':', StringComparison.Ordinal))];
        if (_examplesPerKind.AddOrUpdate(kind, 1, (_, n) => n + 1) <= ExamplesPerKind)
        {
            _examples.Enqueue(finding);
        }
    }

    private const int ExamplesPerKind = 6;
    private readonly ConcurrentDictionary<string, int> _examplesPerKind = new(StringComparer.Ordinal);
}
