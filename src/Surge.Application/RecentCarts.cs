using System.Collections.Concurrent;

namespace Surge.Application;

/// <summary>
/// The sellers of the last <c>capacity</c> multi-seller orders this process placed, by parent id: a hint that lets a
/// payment or cancellation ask only those sellers' partitions. A parent id is placed by one process only, and a
/// seller's partition never changes, so a remembered entry is never wrong; a forgotten one only costs asking every
/// partition. The oldest entry makes room for the newest.
/// </summary>
public sealed class RecentCarts
{
    private readonly ConcurrentDictionary<long, long[]> _sellers = new();
    private readonly long[] _ring;
    private readonly Lock _gate = new();
    private int _next;

    public RecentCarts(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 0);
        _ring = new long[capacity];
    }

    public int Count => _sellers.Count;

    public void Remember(long parent, long[] sellers)
    {
        if (_ring.Length == 0)
        {
            return;
        }
        lock (_gate)
        {
            if (_ring[_next] != 0)
            {
                _sellers.TryRemove(_ring[_next], out _);
            }
            _ring[_next] = parent;
            _next = (_next + 1) % _ring.Length;
            _sellers[parent] = sellers;
        }
    }

    /// <summary>The sellers of <paramref name="parent"/> in seller-order index order, or null when not remembered.</summary>
    public long[]? Sellers(long parent) => _sellers.TryGetValue(parent, out var sellers) ? sellers : null;
}
