using Microsoft.Extensions.Primitives;
using Surge.ReadModel;

namespace Surge.Server;

// /v1 endpoints answered by the read model (docs/ARCHITECTURE.md, "The read side"): a seller's orders with filters, a
// buyer's history, a seller's CSV export and units and revenue per SKU per day or week. None of them takes a turn of a
// partition; each says how far behind the journals its answer is (freshness).
public sealed partial class Api
{
    /// <summary>Longest range of a sales query, in days (three years of daily rows per SKU).</summary>
    public const int SalesDaysMax = 1_100;

    /// <summary>Days a sales query covers when it names no range: the last four weeks, today included.</summary>
    public const int SalesDaysDefault = 28;

    /// <summary>Orders read from the read model per query while a CSV export streams.</summary>
    private const int ExportPageOrders = 1_000;

    private const long DayMs = 24L * 3600 * 1000;

    /// <summary>The listing's filters (query parameters), which need the read model.</summary>
    private static readonly string[] ListingFilters = ["status", "from", "to", "buyer_id", "sku"];

    /// <summary>Every status a listing can be filtered by, as the API spells them.</summary>
    private static string StatusCodes => string.Join(", ", Enum.GetValues<OrderStatus>().Where(v => v != OrderStatus.None).Select(v => v.ToCode()));

    private void MapListings(RouteGroupBuilder v1)
    {
        v1.MapGet("/sellers/{id}/orders", Handler(ListSellerOrders)).WithName("listSellerOrders")
            .WithSummary("A seller's orders, oldest first, with a cursor; filters: status, from, to (placement time), buyer_id, sku")
            .WithTags("orders").Produces<SellerOrderPage>(200).Problems(401, 403, 404, 422)
            .Paged().Query("status", ParameterType.String, $"Only orders in this status: {StatusCodes}.")
            .Query("from", ParameterType.String, "Placed at or after this time (ISO 8601).").Query("to", ParameterType.String, "Placed before this time (ISO 8601).")
            .Query("buyer_id", ParameterType.String, "Only this buyer's orders.").Query("sku", ParameterType.String, "Only orders with a line of this SKU.");
        v1.MapGet("/sellers/{id}/orders/export", Handler(ExportSellerOrders)).WithName("exportSellerOrders")
            .WithSummary("A seller's orders as CSV, one row per line (same filters as the listing)")
            .WithTags("orders").Produces<string>(200, "text/csv").Problems(401, 403, 404, 422, 503)
            .Query("status", ParameterType.String, $"Only orders in this status: {StatusCodes}.").Query("from", ParameterType.String, "Placed at or after this time (ISO 8601).")
            .Query("to", ParameterType.String, "Placed before this time (ISO 8601).").Query("buyer_id", ParameterType.String, "Only this buyer's orders.")
            .Query("sku", ParameterType.String, "Only orders with a line of this SKU.")
            .ResponseHeader(200, "Read-Model-Lag-Records", ParameterType.Integer, "Journal records durable but not yet in the read model (not in this export).");
        v1.MapGet("/buyers/{buyer_id}/orders", Handler(ListBuyerOrders)).WithName("listBuyerOrders")
            .WithSummary("A buyer's seller orders across sellers, oldest first, with a cursor (admin, storefront)")
            .WithTags("orders").Produces<SellerOrderPage>(200).Problems(401, 403, 422, 503)
            .Paged();
        v1.MapGet("/sellers/{id}/sales", Handler(SellerSales)).WithName("sellerSales")
            .WithSummary("Units and revenue per SKU per day or ISO week of the seller's paid orders (by placement date)")
            .WithTags("forecasting").Produces<SellerSalesResponse>(200).Problems(401, 403, 404, 422, 503)
            .Query("from", ParameterType.String, $"First day, YYYY-MM-DD (UTC; default {SalesDaysDefault} days before to).")
            .Query("to", ParameterType.String, $"The day after the last, YYYY-MM-DD (UTC; default tomorrow; at most {SalesDaysMax} days after from).")
            .Query("granularity", ParameterType.String, "day (default) or week (ISO weeks).");
    }

    private ReadModelRouting ReadModel => state.ReadModelReads
        ?? throw new ApiProblemException(503, "read_model_unavailable", "this node keeps no read model (it is switched off, or the cluster has no shared one)");

    private async Task ListSellerOrders(HttpContext context)
    {
        var seller = RouteSeller(context, "orders");
        var query = context.Request.Query;
        var limit = query.TryGetValue("limit", out var l) ? ParseInt(l, "limit", 1, PageOrdersMax) : PageOrdersDefault;
        if (state.ReadModelReads is not { } readModel)
        {
            await ListFromPartitionAsync(context, seller, limit);
            return;
        }
        var filter = await ParseFilterAsync(query, seller);
        var after = ParseCursor(query);
        var page = readModel.Store.SellerOrders(seller, filter, after, limit);
        await WriteAsync(context, 200, new SellerOrderPage([.. page.Orders.Select(SellerOrder)], page.Next?.ToString(),
            await FreshnessAsync(readModel, [Gateway.PartitionOf(seller)])), ApiJson.Default.SellerOrderPage);
    }

    /// <summary>Without a read model: the partition's order table, scanned in its turn (no filters).</summary>
    private async Task ListFromPartitionAsync(HttpContext context, long seller, int limit)
    {
        var query = context.Request.Query;
        if (ListingFilters.FirstOrDefault(query.ContainsKey) is { } filter)
        {
            throw new ApiProblemException(503, "read_model_unavailable", $"{filter}: filters need the read model, which this node does not keep");
        }
        var from = query.TryGetValue("cursor", out var c) ? ParseInt(c, "cursor", 0, int.MaxValue) : 0;
        var page = await Gateway.Grain(Gateway.PartitionOf(seller)).ListOrders(seller, from, limit, PageScanMax);
        var warehouses = Catalog.Warehouses;
        var orders = page.Orders.Select(o => new SellerOrderBody(Ids.SellerOrder(o.Id), Ids.Seller(o.SellerId), o.Status.ToCode(),
            o.CancelReason == CancelReason.None ? null : OrderJson.CancelCode(o.CancelReason),
            o.Lines.Select(x => new PlacedLineBody(x.Sku, x.Quantity, x.Warehouse < warehouses.Count ? warehouses[x.Warehouse] : "")).ToArray())).ToArray();
        var next = page.More ? page.NextIndex.ToString(CultureInfo.InvariantCulture) : null;
        await WriteAsync(context, 200, new SellerOrderPage(orders, next), ApiJson.Default.SellerOrderPage);
    }

    private async Task ListBuyerOrders(HttpContext context)
    {
        Authorize(context, Role.Admin, Role.Storefront);
        var buyer = BuyerId((string)context.Request.RouteValues["buyer_id"]!);
        var query = context.Request.Query;
        var limit = query.TryGetValue("limit", out var l) ? ParseInt(l, "limit", 1, PageOrdersMax) : PageOrdersDefault;
        var readModel = ReadModel;
        var page = readModel.Store.BuyerOrders(buyer, ParseCursor(query), limit);
        await WriteAsync(context, 200, new SellerOrderPage([.. page.Orders.Select(SellerOrder)], page.Next?.ToString(),
            await FreshnessAsync(readModel, Enumerable.Range(0, Options.Partitions))), ApiJson.Default.SellerOrderPage);
    }

    private async Task ExportSellerOrders(HttpContext context)
    {
        var seller = RouteSeller(context, "orders");
        var readModel = ReadModel;
        var filter = await ParseFilterAsync(context.Request.Query, seller);
        var freshness = await FreshnessAsync(readModel, [Gateway.PartitionOf(seller)]);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{Ids.Seller(seller)}-orders.csv\"";
        // What the export does not hold yet: records durable in the journal, not yet in the read model.
        context.Response.Headers["Read-Model-Lag-Records"] = freshness.LagRecords.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder("order_id,seller_order_id,status,cancel_reason,placed_at,sku,warehouse_id,quantity,unit_price_minor,currency\n");
        OrderCursor? after = null;
        do
        {
            var page = readModel.Store.SellerOrders(seller, filter, after, ExportPageOrders);
            foreach (var order in page.Orders)
            {
                var placed = DateTimeOffset.FromUnixTimeMilliseconds(order.PlacedAtMs).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
                foreach (var line in order.Lines)
                {
                    text.Append(Ids.Order(order.ParentId)).Append(',').Append(Ids.SellerOrder(order.OrderId)).Append(',')
                        .Append(order.Status.ToCode()).Append(',')
                        .Append(order.CancelReason == CancelReason.None ? "" : OrderJson.CancelCode(order.CancelReason)).Append(',')
                        .Append(placed).Append(',').Append(Csv(line.Sku)).Append(',').Append(Csv(line.Warehouse)).Append(',')
                        .Append(line.Quantity.ToString(CultureInfo.InvariantCulture)).Append(',')
                        .Append(line.UnitPriceMinor.ToString(CultureInfo.InvariantCulture)).Append(',').Append(order.Currency).Append('\n');
                }
            }
            await context.Response.WriteAsync(text.ToString(), context.RequestAborted);
            text.Clear();
            after = page.Next;
        }
        while (after is not null);
    }

    /// <summary>A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180), quotes doubled.</summary>
    private static string Csv(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private async Task SellerSales(HttpContext context)
    {
        var seller = RouteSeller(context, "sales");
        var readModel = ReadModel;
        var query = context.Request.Query;
        var today = (int)(Options.Clock.GetUtcNow().ToUnixTimeMilliseconds() / DayMs);
        var to = query.TryGetValue("to", out var t) ? Day(t, "to") : today + 1;
        var from = query.TryGetValue("from", out var f) ? Day(f, "from") : to - SalesDaysDefault;
        if (to <= from || to - from > SalesDaysMax)
        {
            throw new RequestShapeException($"from, to: a range of 1 to {SalesDaysMax} days, from before to (dates, YYYY-MM-DD; to is exclusive)");
        }
        var granularity = query.TryGetValue("granularity", out var g) ? g.ToString() : "day";
        if (granularity is not ("day" or "week"))
        {
            throw new RequestShapeException("granularity: day or week");
        }
        var days = readModel.Store.SkuDays(seller, from, to);
        var rows = granularity == "day"
            ? days.Select(d => new SkuSalesBody(d.Sku, DateText(d.Day), d.Units, d.RevenueMinor))
            : days.GroupBy(d => (d.Sku, Week: WeekStart(d.Day)))
                .Select(w => new SkuSalesBody(w.Key.Sku, DateText(w.Key.Week), w.Sum(d => d.Units), w.Sum(d => d.RevenueMinor)));
        await WriteAsync(context, 200, new SellerSalesResponse(Ids.Seller(seller), granularity, DateText(from), DateText(to),
            [.. rows.Where(r => r.Units != 0 || r.RevenueMinor != 0)], await FreshnessAsync(readModel, [Gateway.PartitionOf(seller)])), ApiJson.Default.SellerSalesResponse);
    }

    /// <summary>The Monday (ISO week start) of a day number; 1970-01-01 (day 0) was a Thursday.</summary>
    private static int WeekStart(int day) => day - (int)(((day + 3) % 7 + 7) % 7);

    private static string DateText(int day) => DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + day).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static int Day(StringValues text, string name) =>
        DateOnly.TryParseExact(text.ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber
            : throw new RequestShapeException($"{name}: a date, YYYY-MM-DD");

    private async Task<OrderFilter> ParseFilterAsync(IQueryCollection query, long seller)
    {
        OrderStatus? status = null;
        if (query.TryGetValue("status", out var s))
        {
            status = Enum.GetValues<OrderStatus>().Where(v => v != OrderStatus.None).Cast<OrderStatus?>().FirstOrDefault(v => v!.Value.ToCode() == s.ToString())
                ?? throw new RequestShapeException("status: one of " + string.Join(", ", Enum.GetValues<OrderStatus>().Where(v => v != OrderStatus.None).Select(v => v.ToCode())));
        }
        long? from = query.TryGetValue("from", out var f) ? Instant(f, "from") : null;
        long? to = query.TryGetValue("to", out var t) ? Instant(t, "to") : null;
        if (from >= to)
        {
            throw new RequestShapeException("from, to: from must be before to");
        }
        long? buyer = query.TryGetValue("buyer_id", out var b) ? BuyerId(b.ToString()) : null;
        string? sku = null;
        if (query.TryGetValue("sku", out var k))
        {
            sku = Code(k.ToString(), "sku");
            await SellerSkuAsync(seller, sku); // 404 unknown_sku for a SKU the seller does not have
        }
        return new OrderFilter(status, from, to, buyer, sku);
    }

    /// <summary>A point in time: an ISO 8601 date (midnight UTC) or date and time with an offset.</summary>
    private static long Instant(StringValues text, string name)
    {
        var value = text.ToString();
        if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeMilliseconds();
        }
        return value.Length > 10 && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at.ToUnixTimeMilliseconds()
            : throw new RequestShapeException($"{name}: an ISO 8601 date (2026-12-01) or date and time (2026-12-01T09:30:00Z)");
    }

    /// <summary>A buyer id as orders carry it (the rule of an order's <c>buyer_id</c>), as the engine's buyer number.</summary>
    private static long BuyerId(string text) =>
        text.Length is > 0 and <= OrderJson.BuyerIdCharsMax && !text.Any(char.IsControl) ? Ids.Buyer(text)
            : throw new RequestShapeException($"buyer_id: 1 to {OrderJson.BuyerIdCharsMax} printable characters");

    private static OrderCursor? ParseCursor(IQueryCollection query) =>
        !query.TryGetValue("cursor", out var c) ? null
            : OrderCursor.TryParse(c.ToString(), out var cursor) ? cursor
            : throw new RequestShapeException("cursor: the next_cursor of an earlier page of this listing");

    private static SellerOrderBody SellerOrder(OrderRow o) =>
        new(Ids.SellerOrder(o.OrderId), Ids.Seller(o.SellerId), o.Status.ToCode(), o.CancelReason == CancelReason.None ? null : OrderJson.CancelCode(o.CancelReason),
            [.. o.Lines.Select(l => new PlacedLineBody(l.Sku, l.Quantity, l.Warehouse))], null, Ids.Order(o.ParentId),
            DateTimeOffset.FromUnixTimeMilliseconds(o.PlacedAtMs), o.AmountMinor, o.Currency);

    /// <summary>How far the read model is behind these partitions: records summed, the oldest age.</summary>
    private static async Task<ListingFreshness> FreshnessAsync(ReadModelRouting readModel, IEnumerable<int> partitions)
    {
        var statuses = await readModel.StatusAsync(partitions);
        return new ListingFreshness(statuses.Sum(s => s.LagRecords), statuses.Count == 0 ? 0 : Math.Round(statuses.Max(s => s.LagSeconds), 3));
    }
}
