using Surge.Core;

namespace Surge.Application;

public sealed record OrderLineRequest(long SellerId, string Sku, int Quantity);

public sealed record OrderRequest(string BuyerId, string Country, string Region, string PostalCode, OrderLineRequest[] Lines)
{
    /// <summary>The client's key for this one order of a batch (a single order's key comes with the request).</summary>
    public string? IdempotencyKey { get; init; }
}

public sealed record PlacedLine(string Sku, int Warehouse, int Quantity);

public sealed record ChildView(long Id, long SellerId, OrderStatus Status, CancelReason CancelReason, PlacedLine[] Lines);

/// <summary>An order as a buyer sees it: the parent and its seller orders. <see cref="Status"/> is derived:
/// cancelled if any seller order is, else the least advanced seller order's status.</summary>
public sealed record OrderView(long Id, OrderStatus Status, long PlacedAtMs, long ExpiresAtMs, ChildView[] SellerOrders)
{
    public static OrderStatus Derive(IEnumerable<OrderStatus> children)
    {
        var statuses = children.ToArray();
        if (statuses.Length == 0)
        {
            return OrderStatus.None;
        }
        if (statuses.Any(s => s == OrderStatus.Cancelled))
        {
            return OrderStatus.Cancelled;
        }
        return statuses.Min();
    }

    public static OrderView Of(long parent, SellerOrderState[] children) =>
        new(parent, Derive(children.Select(c => c.Status)), children.Min(c => c.PlacedAtMs), children.Max(c => c.ExpiresAtMs),
            children.Select(c => new ChildView(c.Id, c.SellerId, c.Status, c.CancelReason, c.Lines)).ToArray());
}

/// <summary>What a write on an order came to: the order, or the problem. <see cref="Replayed"/>: the answer to an
/// earlier request with the same idempotency key (the order as it is now, or that request's refusal).</summary>
public sealed record OrderResult(OrderView? Order, Problem? Problem = null, bool Replayed = false)
{
    public static OrderResult Refused(Refusal kind, string code, string detail) => new(null, new Problem(kind, code, detail));

    public static OrderResult Refused(Problem problem) => new(null, problem);
}

/// <summary>What one order of a batch came to: accepted with its id, or the problem; <see cref="Replayed"/> as in
/// <see cref="OrderResult"/>.</summary>
public readonly record struct BatchAnswer(long Id, Problem? Problem, bool Replayed = false)
{
    public bool Accepted => Problem is null;
}
