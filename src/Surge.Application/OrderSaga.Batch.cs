using Surge.Core;
using Surge.Runtime;

namespace Surge.Application;

// The batch endpoint's placement: single-seller orders grouped per partition.
public sealed partial class OrderSaga
{
    /// <summary>
    /// The batch endpoint's path: single-seller orders are encoded straight into one command group per
    /// partition (one task per partition instead of one per order); multi-seller orders take the general
    /// path. Answers in request order; a null request is answered by <paramref name="invalid"/>.
    /// </summary>
    public async Task<BatchAnswer[]> PlaceManyAsync(IReadOnlyList<OrderRequest?> requests, Func<int, BatchAnswer> invalid,
        IReadOnlyList<IdempotencyKey?>? keys = null)
    {
        using var span = ApplicationTelemetry.Start("order.place_batch");
        span?.SetTag("surge.orders", requests.Count);
        var answers = new BatchAnswer[requests.Count];
        var groups = new Dictionary<int, List<(int Index, long Child, long Seller, long Buyer, int Region, ushort Country, OrderLine[] Lines)>>();
        var multi = new List<(int Index, Task<OrderResult> Result)>();
        var now = options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.ReservationTtl.TotalMilliseconds;
        for (var i = 0; i < requests.Count; i++)
        {
            if (requests[i] is not { } request)
            {
                answers[i] = invalid(i);
                continue;
            }
            var seller = request.Lines[0].SellerId;
            if (request.Lines.Any(l => l.SellerId != seller))
            {
                multi.Add((i, PlaceAsync(request, keys?[i])));
                continue;
            }
            var lines = new OrderLine[request.Lines.Length];
            var known = true;
            for (var l = 0; l < lines.Length && known; l++)
            {
                var sku = await skus.FindSkuAsync(seller, request.Lines[l].Sku);
                known = sku >= 0;
                lines[l] = new OrderLine(sku, request.Lines[l].Quantity);
            }
            if (!known)
            {
                answers[i] = new BatchAnswer(0, Problem.Of(RejectReason.UnknownSku, $"seller {Ids.Seller(seller)} has no such SKU"));
                continue;
            }
            var partition = partitions.PartitionOf(seller);
            var parent = Ids.Parent(NextSequence(), 1, partition);
            if (!groups.TryGetValue(partition, out var group))
            {
                groups[partition] = group = [];
            }
            group.Add((i, Ids.Child(parent, 0), seller, Ids.Buyer(request.BuyerId), skus.RegionIndex(request.Region), CountryCode.Pack(request.Country), lines));
        }
        var pending = new List<(List<(int Index, long Child, long Seller, long Buyer, int Region, ushort Country, OrderLine[] Lines)> Orders, Task<CommandGroup> Result)>();
        foreach (var (partition, group) in groups)
        {
            foreach (var chunk in group.Chunk(options.GroupCommandsMax))
            {
                try
                {
                    pending.Add((chunk.ToList(), partitions.SubmitGroup(partition, chunk.Length, w =>
                    {
                        foreach (var o in chunk)
                        {
                            if (keys?[o.Index] is { } key)
                            {
                                w.Keyed(key);
                            }
                            w.PlaceOrder(o.Child, Ids.ParentOf(o.Child), o.Buyer, o.Seller, expires, o.Region, o.Country, o.Lines);
                        }
                    })));
                }
                catch (AdmissionException e)
                {
                    foreach (var o in chunk)
                    {
                        answers[o.Index] = new BatchAnswer(0, e.Problem);
                    }
                }
            }
        }
        foreach (var (orders, result) in pending)
        {
            try
            {
                var group = await result.ConfigureAwait(false);
                for (var k = 0; k < orders.Count; k++)
                {
                    var outcome = group.Outcome(k);
                    answers[orders[k].Index] = outcome.Reason == RejectReason.IdempotencyKeyReused
                        ? new BatchAnswer(0, new Problem(Refusal.Invalid, outcome.Reason.ToCode(), "this idempotency_key was used with a different order"))
                        : Placed(outcome)
                        ? new BatchAnswer(Ids.ParentOf(outcome.Ref), null, outcome.Replayed)
                        : new BatchAnswer(0, Problem.Of(outcome.Reason), outcome.Replayed);
                }
            }
            catch (Exception e)
            {
                var problem = Unavailable(e).Problem;
                foreach (var o in orders)
                {
                    answers[o.Index] = new BatchAnswer(0, problem);
                }
            }
        }
        foreach (var (index, result) in multi)
        {
            var placed = await result.ConfigureAwait(false);
            answers[index] = new BatchAnswer(placed.Order?.Id ?? 0, placed.Problem, placed.Replayed);
        }
        return answers;
    }
}
