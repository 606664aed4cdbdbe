using Surge.Core;
using Surge.Runtime;

namespace Surge.Application;

/// <summary>The saga's settings: its clock and bounds, each with its unit.</summary>
public sealed record OrderSagaOptions
{
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How long an unpaid order holds its stock.</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Commands in one group submitted to a partition (the batch path), at most.</summary>
    public int GroupCommandsMax { get; init; } = 1_000;

    /// <summary>Multi-seller orders whose sellers this process remembers from placing them, in orders (about 100 bytes
    /// each): paying or cancelling one of them asks only its sellers' partitions instead of every partition.</summary>
    public int RecentCartsMax { get; init; } = 65_536;
}

/// <summary>
/// Orders across partitions. A buyer's order becomes a parent with one seller order per seller; each seller
/// order reserves in its seller's partition. Placement: all children are placed at once; if any is refused,
/// the accepted ones are cancelled (reason parent_aborted) and the order is refused as a whole. Payment
/// confirms every child; if any cannot be confirmed (its hold expired) every child is cancelled (refund).
/// Every step is a journaled engine command, and every hold carries its expiry, so a crash mid-way leaks
/// nothing past the expiry; <see cref="ReconcileAsync"/> (at start) finishes what a crash interrupted so the
/// parent ends in a definite state: all paid or all cancelled.
/// </summary>
public sealed partial class OrderSaga(IPartitions partitions, ISkuDirectory skus, OrderSagaOptions options)
{
    private SequenceBlock _block = new(0, SequenceBlock.Unbounded);
    private readonly RecentCarts _carts = new(options.RecentCartsMax);
    private readonly Lock _leaseGate = new();
    private long _floor;

    /// <summary>Where retired seller orders are read (null: orders never retire, or nothing answers for them).</summary>
    public IOrderArchive? Archive { get; init; }

    /// <summary>In a cluster: leases the next block of parent sequences above the given floor, cluster-wide (from the
    /// shared control log); null: this process is the only one placing orders.</summary>
    public Func<long, (long First, long Last)>? LeaseBlock { get; init; }

    /// <summary>Continues parent ids after the largest one in any partition (called once at start).</summary>
    public void ResumeSequence(long lastSequence)
    {
        _floor = Math.Max(_floor, lastSequence);
        _block = LeaseBlock is { } lease ? SequenceBlock.From(lease(_floor)) : new SequenceBlock(Math.Max(_block.Next, lastSequence), SequenceBlock.Unbounded);
    }

    /// <summary>The next parent sequence: unique in this process, and in a cluster unique across silos (each takes
    /// its own block).</summary>
    private long NextSequence()
    {
        while (true)
        {
            var block = _block;
            var sequence = Interlocked.Increment(ref block.Next);
            if (sequence <= block.Last)
            {
                return sequence;
            }
            lock (_leaseGate)
            {
                if (_block == block)
                {
                    _block = SequenceBlock.From(LeaseBlock!(_floor = Math.Max(_floor, block.Last)));
                }
            }
        }
    }

    private sealed class SequenceBlock(long next, long last)
    {
        public const long Unbounded = long.MaxValue;
        public long Next = next;
        public long Last { get; } = last;

        public static SequenceBlock From((long First, long Last) range) => new(range.First - 1, range.Last);
    }

    /// <summary>Places an order: one seller order per seller, all or nothing. With <paramref name="key"/> the order is
    /// placed once per key: the key travels with the first seller order (alone first when there are several), and a
    /// repeat is answered from it — the order as it is now, or the first request's refusal — without placing anything.</summary>
    public async Task<OrderResult> PlaceAsync(OrderRequest request, IdempotencyKey? key = null)
    {
        using var span = ApplicationTelemetry.Start("order.place");
        // Group lines by seller, in order of first appearance; resolve SKUs through the catalog.
        var sellers = new List<long>(2);
        var lines = new List<List<OrderLine>>(2);
        var codes = new Dictionary<(long, int), string>();
        foreach (var line in request.Lines)
        {
            var found = await skus.FindSkuAsync(line.SellerId, line.Sku);
            if (found < 0)
            {
                return OrderResult.Refused(Problem.Of(RejectReason.UnknownSku, $"seller {Ids.Seller(line.SellerId)} has no SKU '{line.Sku}'"));
            }
            var group = sellers.IndexOf(line.SellerId);
            if (group < 0)
            {
                group = sellers.Count;
                sellers.Add(line.SellerId);
                lines.Add([]);
            }
            lines[group].Add(new OrderLine(found, line.Quantity));
            codes[(line.SellerId, found)] = line.Sku;
        }
        if (sellers.Count > Ids.SellersPerOrderMax)
        {
            return OrderResult.Refused(Refusal.Invalid, "too_many_sellers", $"an order may span at most {Ids.SellersPerOrderMax} sellers");
        }
        var buyer = Ids.Buyer(request.BuyerId);
        var region = skus.RegionIndex(request.Region);
        var country = CountryCode.Pack(request.Country);
        var now = options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.ReservationTtl.TotalMilliseconds;
        var sequence = NextSequence();
        var parent = Ids.Parent(sequence, sellers.Count, partitions.PartitionOf(sellers[0]));
        if (sellers.Count > 1)
        {
            _carts.Remember(parent, [.. sellers]);
        }

        var placements = new Task<CommandResult>[sellers.Count];
        var first = 0;
        if (key is { } keyed)
        {
            var childLines = lines[0].ToArray();
            CommandResult firstResult;
            try
            {
                firstResult = await partitions.Submit(partitions.PartitionOf(sellers[0]),
                    w => w.Keyed(keyed).PlaceOrder(Ids.Child(parent, 0), parent, buyer, sellers[0], expires, region, country, childLines));
            }
            catch (AdmissionException e)
            {
                return OrderResult.Refused(e.Problem);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return Unavailable(e);
            }
            if (firstResult.Outcome.Replayed || firstResult.Outcome.Reason == RejectReason.IdempotencyKeyReused)
            {
                return await ReplayAsync(firstResult.Outcome);
            }
            placements[0] = Task.FromResult(firstResult);
            first = 1;
        }
        AdmissionException? refused = null;
        for (var i = first; i < sellers.Count; i++)
        {
            var (child, seller, childLines) = (Ids.Child(parent, i), sellers[i], lines[i].ToArray());
            try
            {
                placements[i] = partitions.Submit(partitions.PartitionOf(seller),
                    w => w.PlaceOrder(child, parent, buyer, seller, expires, region, country, childLines));
            }
            catch (AdmissionException e)
            {
                refused = e;
                Array.Resize(ref placements, i);
                break;
            }
        }
        var (results, failure) = await AwaitAllAsync(placements);
        var rejected = Array.FindIndex(results, r => r is { } result && !Placed(result.Outcome));
        if (refused is null && failure is null && rejected < 0)
        {
            var children = new ChildView[sellers.Count];
            for (var i = 0; i < children.Length; i++)
            {
                var placed = results[i]!.Value.Outcome.Accepted ? Reserved(results[i]!.Value, sellers[i], codes)
                    : (await partitions.GetOrders(partitions.PartitionOf(sellers[i]), [Ids.Child(parent, i)])).SelectMany(c => c.Lines).ToArray();
                children[i] = new ChildView(Ids.Child(parent, i), sellers[i], OrderStatus.PendingPayment, CancelReason.None, placed);
            }
            return new OrderResult(new OrderView(parent, OrderStatus.PendingPayment, now, expires, children));
        }

        // Release what was reserved; the order is refused as a whole.
        var accepted = Enumerable.Range(0, results.Length).Where(i => results[i] is { } r && Placed(r.Outcome)).ToArray();
        await CancelChildrenAsync(accepted.Select(i => (Ids.Child(parent, i), sellers[i])), CancelReason.ParentAborted);
        if (refused is not null || failure is AdmissionException)
        {
            return OrderResult.Refused((refused ?? (AdmissionException)failure!).Problem);
        }
        if (failure is not null)
        {
            return Unavailable(failure);
        }
        var reason = results[rejected]!.Value.Outcome.Reason;
        return OrderResult.Refused(Problem.Of(reason, $"seller order for {Ids.Seller(sellers[rejected])}: {Problem.Describe(reason)}"));
    }

    /// <summary>The answer to a repeat of a keyed placement, from what its first attempt came to: the key used with
    /// another request (422), that attempt's refusal, or the order as it is now — unless every seller order of it
    /// was released because another was refused (then the order was never placed, and the answer says so).</summary>
    private async Task<OrderResult> ReplayAsync(CommandOutcome outcome)
    {
        if (outcome.Reason == RejectReason.IdempotencyKeyReused)
        {
            return OrderResult.Refused(Refusal.Invalid, outcome.Reason.ToCode(), "this Idempotency-Key was used with a different request");
        }
        if (!Placed(outcome))
        {
            return new OrderResult(null, Problem.Of(outcome.Reason), Replayed: true);
        }
        var parent = Ids.ParentOf(outcome.Ref);
        OrderView? view;
        try
        {
            view = await GetAsync(parent);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Unavailable(e);
        }
        if (view is null || view.SellerOrders.All(c => c.Status == OrderStatus.Cancelled && c.CancelReason == CancelReason.ParentAborted))
        {
            return new OrderResult(null, new Problem(Refusal.Conflict, "order_not_placed",
                $"the order {Ids.Order(parent)} this Idempotency-Key placed was not completed: another of its seller orders was refused"), Replayed: true);
        }
        if (view.SellerOrders.Length < Ids.Sellers(parent))
        {
            // The first attempt placed some seller orders and not (yet) the others: it is still at work on another silo,
            // or it died and reconciliation will release what it placed. Not an order to answer as placed — a client
            // told so would pay for part of its cart. Asked again later, the key answers either way.
            return new OrderResult(null, new Problem(Refusal.Conflict, "idempotency_key_in_use",
                $"the order {Ids.Order(parent)} this Idempotency-Key placed is not complete yet ({view.SellerOrders.Length} of {Ids.Sellers(parent)} seller orders); retry"),
                Replayed: true);
        }
        return new OrderResult(view, Replayed: true);
    }

    private static PlacedLine[] Reserved(CommandResult result, long seller, Dictionary<(long, int), string> codes)
    {
        var placed = new List<PlacedLine>(result.Events.Length);
        foreach (var e in result.Events.Span)
        {
            if (e.Kind == EventKind.ItemReserved)
            {
                placed.Add(new PlacedLine(codes[(seller, e.Sku)], e.Warehouse, e.Quantity));
            }
        }
        return placed.ToArray();
    }

    /// <summary>Whether a placement's outcome means the order exists: accepted, or refused as a duplicate — which for
    /// an id this service just generated can only be the same placement, made by an earlier send of a batch that
    /// was re-sent after a rejection (the host may repeat a batch a partition's activation rejected).</summary>
    private static bool Placed(CommandOutcome outcome) => outcome.Accepted || outcome.Reason == RejectReason.DuplicateOrder;

    public async Task<OrderView?> GetAsync(long parent)
    {
        var children = await FindChildrenAsync(parent);
        return children.Length == 0 ? null : OrderView.Of(parent, children);
    }

    /// <summary>Confirms payment of every seller order. Already paid → the order as it is.</summary>
    public async Task<OrderResult> PayAsync(long parent)
    {
        using var span = ApplicationTelemetry.Start("order.pay", parent);
        if (span is not null)
        {
            Flow.FlowTelemetry.RememberPayment(parent, span.Context); // its fulfillment is planned in this trace
        }
        var children = await FindChildrenAsync(parent);
        if (children.Length == 0)
        {
            return OrderResult.Refused(Refusal.NotFound, RejectReason.OrderNotFound.ToCode(), $"no order {Ids.Order(parent)}");
        }
        if (children.Any(c => c.Status == OrderStatus.Cancelled))
        {
            return OrderResult.Refused(Refusal.Conflict, RejectReason.InvalidTransition.ToCode(), $"order {Ids.Order(parent)} is cancelled");
        }
        if (children.Length < Ids.Sellers(parent))
        {
            // A placement that did not reach every seller (interrupted): never paid in part; reconciliation releases it.
            return OrderResult.Refused(Refusal.Conflict, "order_incomplete",
                $"order {Ids.Order(parent)} was not placed with every seller ({children.Length} of {Ids.Sellers(parent)}); it will be released");
        }
        var pending = children.Where(c => c.Status == OrderStatus.PendingPayment).ToArray();
        var (results, failure) = await SubmitEachAsync(pending, c => w => w.ConfirmPayment(c.Id));
        if (failure is AdmissionException admission)
        {
            return OrderResult.Refused(admission.Kind, admission.Code, admission.Message + " (retry the payment)");
        }
        if (failure is not null)
        {
            return Unavailable(failure);
        }
        // A refusal because someone else confirmed that seller order meanwhile (a retry, another silo reconciling) is
        // no failure; one because a hold expired before payment is: the parent cannot be paid as a whole, so nothing of it is.
        if (results.Any(r => r is { Outcome.Accepted: false })
            && (await FindChildrenAsync(parent)).Any(c => c.Status is OrderStatus.PendingPayment or OrderStatus.Cancelled))
        {
            await CancelChildrenAsync(children.Select(c => (c.Id, c.SellerId)), CancelReason.ParentAborted);
            return OrderResult.Refused(Refusal.Conflict, "reservation_expired", $"order {Ids.Order(parent)} was not paid before its hold expired; it is cancelled");
        }
        return new OrderResult(await AfterAsync(parent, children, pending, results, EventKind.PaymentConfirmed, OrderStatus.Paid, CancelReason.None));
    }

    /// <summary>The order after a payment or cancellation of <paramref name="changed"/>: when each of them answered with
    /// the change itself (<paramref name="kind"/>), the children as read before with those statuses set — what they are
    /// now, without reading every partition again; otherwise (a change someone else made meanwhile) read afresh.</summary>
    private async Task<OrderView?> AfterAsync(long parent, SellerOrderState[] children, SellerOrderState[] changed, CommandResult?[] results,
        EventKind kind, OrderStatus status, CancelReason reason)
    {
        for (var i = 0; i < changed.Length; i++)
        {
            if (results[i] is not { } result || !HasEvent(result.Events.Span, kind))
            {
                return await GetAsync(parent);
            }
        }
        var updated = changed.Select(c => c.Id).ToHashSet();
        return OrderView.Of(parent, [.. children.Select(c => updated.Contains(c.Id) ? c with { Status = status, CancelReason = reason } : c)]);
    }

    public async Task<OrderResult> CancelAsync(long parent, CancelReason reason)
    {
        using var span = ApplicationTelemetry.Start("order.cancel", parent);
        var children = await FindChildrenAsync(parent);
        if (children.Length == 0)
        {
            return OrderResult.Refused(Refusal.NotFound, RejectReason.OrderNotFound.ToCode(), $"no order {Ids.Order(parent)}");
        }
        var open = children.Where(c => c.Status != OrderStatus.Cancelled).ToArray();
        if (open.Any(c => c.Status > OrderStatus.Paid))
        {
            return OrderResult.Refused(Refusal.Conflict, RejectReason.InvalidTransition.ToCode(), $"order {Ids.Order(parent)} is already on its way");
        }
        var (results, failure) = await SubmitEachAsync(open, c => w => w.CancelOrder(c.Id, reason));
        if (failure is AdmissionException admission)
        {
            return OrderResult.Refused(admission.Kind, admission.Code, admission.Message + " (retry the cancellation)");
        }
        if (failure is not null)
        {
            return Unavailable(failure);
        }
        var rejected = results.FirstOrDefault(r => r is { Outcome.Accepted: false });
        return rejected is { } r
            ? OrderResult.Refused(Problem.Of(r.Outcome.Reason))
            : new OrderResult(await AfterAsync(parent, children, open, results, EventKind.OrderCancelled, OrderStatus.Cancelled, reason));
    }

    /// <summary>
    /// Finishes multi-seller orders that a crash left half done (run at start, before serving): a placement that
    /// did not reach every seller (fewer seller orders than the id says) is cancelled — its client never got a
    /// 2xx; if any seller order is cancelled, the others are cancelled too; if some are paid and others still
    /// pending, the pending ones are confirmed (or, when that fails, all are cancelled). Orders whose seller
    /// orders all exist and are all pending are left to be paid or expire. Orders placed less than
    /// <paramref name="olderThan"/> ago are left alone (in a cluster another silo may still be placing or paying
    /// them). Returns the number of orders changed.
    /// </summary>
    public async Task<int> ReconcileAsync(TimeSpan olderThan)
    {
        var placedBefore = options.Clock.GetUtcNow().ToUnixTimeMilliseconds() - (long)olderThan.TotalMilliseconds;
        var open = new HashSet<long>();
        for (var p = 0; p < partitions.Count; p++)
        {
            foreach (var child in await partitions.OpenMultiSellerChildren(p))
            {
                if (child.PlacedAtMs <= placedBefore)
                {
                    open.Add(child.ParentId);
                }
            }
        }
        var changed = 0;
        foreach (var parent in open)
        {
            var children = await FindChildrenAsync(parent);
            var statuses = children.Select(c => c.Status).ToHashSet();
            var openChildren = children.Where(c => c.Status != OrderStatus.Cancelled).Select(c => (c.Id, c.SellerId));
            if (children.Length < Ids.Sellers(parent) || (statuses.Contains(OrderStatus.Cancelled) && statuses.Count > 1))
            {
                await CancelChildrenAsync(openChildren, CancelReason.ParentAborted);
                changed++;
            }
            else if (statuses.Contains(OrderStatus.PendingPayment) && statuses.Count > 1)
            {
                await PayAsync(parent);
                changed++;
            }
        }
        return changed;
    }

    private async Task CancelChildrenAsync(IEnumerable<(long Id, long SellerId)> children, CancelReason reason)
    {
        var cancels = new List<Task<CommandResult>>();
        foreach (var (id, seller) in children)
        {
            try
            {
                cancels.Add(partitions.Submit(partitions.PartitionOf(seller), w => w.CancelOrder(id, reason)));
            }
            catch (AdmissionException)
            {
                // Queue full: the hold still expires on its own at its deadline, and reconciliation finishes it.
            }
        }
        await AwaitAllAsync(cancels.ToArray());
    }

    private async Task<(CommandResult?[] Results, Exception? Failure)> SubmitEachAsync(SellerOrderState[] children, Func<SellerOrderState, Action<CommandWriter>> encode)
    {
        var tasks = new List<Task<CommandResult>>(children.Length);
        foreach (var child in children)
        {
            try
            {
                tasks.Add(partitions.Submit(partitions.PartitionOf(child.SellerId), encode(child)));
            }
            catch (AdmissionException e)
            {
                await AwaitAllAsync(tasks.ToArray());
                return ([], e);
            }
        }
        return await AwaitAllAsync(tasks.ToArray());
    }

    /// <summary>Waits for every task; a faulted one leaves a null result and the first failure is returned.</summary>
    private static async Task<(CommandResult?[] Results, Exception? Failure)> AwaitAllAsync(Task<CommandResult>[] tasks)
    {
        var results = new CommandResult?[tasks.Length];
        Exception? failure = null;
        for (var i = 0; i < tasks.Length; i++)
        {
            try
            {
                results[i] = await tasks[i].ConfigureAwait(false);
            }
            catch (Exception e)
            {
                failure ??= e;
            }
        }
        return (results, failure);
    }

    private static bool HasEvent(ReadOnlySpan<EngineEvent> events, EventKind kind)
    {
        foreach (ref readonly var e in events)
        {
            if (e.Kind == kind)
            {
                return true;
            }
        }
        return false;
    }

    private static OrderResult Unavailable(Exception failure) =>
        OrderResult.Refused(Refusal.Unavailable, "partition_unavailable", $"a partition could not journal the command: {failure.Message}");

    /// <summary>The seller orders of a parent: one lookup in the home partition for a single-seller order; a
    /// multi-seller order this process placed asks its sellers' partitions (seller order i can only be in seller i's
    /// partition); any other multi-seller order asks every partition for its possible child ids. Seller orders the
    /// partitions no longer hold (retired) come from the <see cref="Archive"/>.</summary>
    public async Task<SellerOrderState[]> FindChildrenAsync(long parent)
    {
        SellerOrderState[] live;
        if (!Ids.IsMulti(parent))
        {
            var home = Ids.Home(parent);
            live = home < partitions.Count ? await partitions.GetOrders(home, [Ids.Child(parent, 0)]) : [];
        }
        else
        {
            var ids = Enumerable.Range(0, Ids.Sellers(parent)).Select(i => Ids.Child(parent, i)).ToArray();
            var asks = _carts.Sellers(parent) is { } sellers
                ? sellers.Select((seller, i) => (Partition: partitions.PartitionOf(seller), Id: ids[i])).GroupBy(a => a.Partition)
                    .Select(g => partitions.GetOrders(g.Key, [.. g.Select(a => a.Id)]))
                : Enumerable.Range(0, partitions.Count).Select(p => partitions.GetOrders(p, ids));
            live = [.. (await Task.WhenAll(asks)).SelectMany(f => f)];
        }
        if (live.Length < Ids.Sellers(parent) && Archive is { } archive)
        {
            var held = live.Select(c => c.Id).ToHashSet();
            live = [.. live, .. (await archive.ChildrenAsync(parent)).Where(c => held.Add(c.Id))];
        }
        return [.. live.OrderBy(c => c.Id)];
    }
}
