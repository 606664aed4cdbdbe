using System.Diagnostics;

namespace Surge.Flow;

/// <summary>
/// The downstream's spans (ActivitySource <see cref="SourceName"/>): a fulfillment step over journal records, a
/// manifest sent to a carrier, a notification delivered. They run on the stages' own loops, after the orders' requests
/// have been answered, so each is a trace of its own, tagged with what it carried; the HTTP calls they make are their
/// children. To follow one order on: the node remembers which trace paid it (<see cref="RememberPayment"/>, bounded),
/// and the fulfillment stage plans that order in a span of the payment's trace (<c>fulfillment.plan</c>) — best
/// effort: on the node that took the payment, while it remembers it.
/// </summary>
public static class FlowTelemetry
{
    public const string SourceName = "Surge.Flow";

    /// <summary>Payments remembered at most; the oldest are forgotten first.</summary>
    public const int PaymentsRememberedMax = 100_000;

    internal static readonly ActivitySource Source = new(SourceName);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<long, ActivityContext> Payments = new();
    private static readonly System.Collections.Concurrent.ConcurrentQueue<long> PaymentOrder = new();

    /// <summary>The trace that paid order <paramref name="parent"/> (called by the payment saga while tracing).</summary>
    public static void RememberPayment(long parent, ActivityContext trace)
    {
        if (Payments.TryAdd(parent, trace))
        {
            PaymentOrder.Enqueue(parent);
            while (PaymentOrder.Count > PaymentsRememberedMax && PaymentOrder.TryDequeue(out var oldest))
            {
                Payments.TryRemove(oldest, out _);
            }
        }
    }

    /// <summary>A span for planning one paid order, in the trace that paid it (null: not traced, or not remembered).</summary>
    internal static Activity? StartPlan(PaidOrder order) =>
        Source.HasListeners() && Payments.TryRemove(order.ParentId, out var payment)
            ? Source.StartActivity("fulfillment.plan", ActivityKind.Internal, payment)?.SetTag("surge.seller_order", order.OrderId)
            : null;
}
