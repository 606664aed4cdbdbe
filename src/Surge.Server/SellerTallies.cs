using System.Collections.Concurrent;
using Surge.Application;

namespace Surge.Server;

/// <summary>
/// Seller orders each seller was sent on this node since it started: accepted, and refused by reason — the operator
/// dashboard's per-seller drill-down (rates are the page's differences between two reads). An order with lines of
/// three sellers counts once for each. Bounded: past <see cref="SellersMax"/> sellers, new ones are not followed.
/// </summary>
public sealed class SellerTallies
{
    /// <summary>Sellers followed at most on one node.</summary>
    public const int SellersMax = 10_000;

    /// <summary>Refusal reasons kept per seller at most (the engine's codes are fewer; a bound all the same).</summary>
    public const int ReasonsMax = 64;

    private sealed class Tally
    {
        public long Accepted;
        public readonly ConcurrentDictionary<string, long> Refused = new(StringComparer.Ordinal);
    }

    private readonly ConcurrentDictionary<long, Tally> _sellers = new();

    /// <summary>Counts one order's outcome for each seller in it (accepted when <paramref name="refusedCode"/> is null).</summary>
    public void Count(OrderRequest? order, string? refusedCode)
    {
        if (order is null)
        {
            return;
        }
        var lines = order.Lines;
        for (var i = 0; i < lines.Length; i++)
        {
            var seller = lines[i].SellerId;
            var repeated = false;
            for (var j = 0; j < i && !repeated; j++)
            {
                repeated = lines[j].SellerId == seller;
            }
            if (repeated || TallyOf(seller) is not { } tally)
            {
                continue;
            }
            if (refusedCode is null)
            {
                Interlocked.Increment(ref tally.Accepted);
            }
            else if (tally.Refused.Count < ReasonsMax || tally.Refused.ContainsKey(refusedCode))
            {
                tally.Refused.AddOrUpdate(refusedCode, 1, (_, n) => n + 1);
            }
        }
    }

    private Tally? TallyOf(long seller) =>
        _sellers.TryGetValue(seller, out var tally) ? tally : _sellers.Count >= SellersMax ? null : _sellers.GetOrAdd(seller, _ => new Tally());

    /// <summary>What <paramref name="seller"/> was sent: accepted, refused by reason (zeros when never seen).</summary>
    public (long Accepted, IReadOnlyDictionary<string, long> Refused) Of(long seller) =>
        _sellers.TryGetValue(seller, out var tally)
            ? (Interlocked.Read(ref tally.Accepted), tally.Refused.ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal))
            : (0, new Dictionary<string, long>());
}
