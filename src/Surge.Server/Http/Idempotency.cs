using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Surge.Server;

/// <summary>A stored answer to a request made with an Idempotency-Key.</summary>
public sealed record StoredResponse(int Status, ReadOnlyMemory<byte> Body, string? Location);

/// <summary>
/// Idempotency-Key handling: the first request with a key runs and its answer is kept for
/// <see cref="ServerOptions.IdempotencyRetention"/>; the same key with the same body gets that answer again
/// (<c>Idempotent-Replayed: true</c>); with a different body → 422; while the first is still running → 409.
/// Keys are scoped to the caller's API key. Only final answers are kept (2xx, 404, 409, 422); overload and
/// unavailability answers are not, so a retry runs again. Held in this silo's memory, bounded by
/// <see cref="OrderOptions.IdempotencyEntriesMax"/> (oldest dropped first): the fast path for a retry to the same
/// silo. What must survive a crash or reach another silo — order placements and stock receipts — also carries its
/// key into the partition with the command (<see cref="IdempotencyKey"/>), where a retry is answered from it.
/// </summary>
public sealed class IdempotencyStore(ServerOptions options)
{
    private sealed class Entry(byte[] bodyHash, long expiresAtMs)
    {
        public byte[] BodyHash { get; } = bodyHash;
        public long ExpiresAtMs { get; } = expiresAtMs;
        public StoredResponse? Response { get; set; }
    }

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Key, long ExpiresAtMs)> _order = new();

    public int Count => _entries.Count;

    public enum Verdict
    {
        Run,
        Replay,
        InFlight,
        Mismatch,
    }

    public Verdict Begin(string scopedKey, ReadOnlySpan<byte> body, out StoredResponse? stored)
    {
        stored = null;
        var now = options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        Evict(now);
        var hash = SHA256.HashData(body);
        var fresh = new Entry(hash, now + (long)options.Orders.IdempotencyRetention.TotalMilliseconds);
        while (true)
        {
            var entry = _entries.GetOrAdd(scopedKey, fresh);
            if (ReferenceEquals(entry, fresh))
            {
                _order.Enqueue((scopedKey, fresh.ExpiresAtMs));
                return Verdict.Run;
            }
            if (entry.ExpiresAtMs <= now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(scopedKey, entry));
                continue;
            }
            if (!CryptographicOperations.FixedTimeEquals(entry.BodyHash, hash))
            {
                return Verdict.Mismatch;
            }
            stored = entry.Response;
            return stored is null ? Verdict.InFlight : Verdict.Replay;
        }
    }

    /// <summary>Keeps a final answer, or forgets the key when the answer says "try again".</summary>
    public void Complete(string scopedKey, StoredResponse response)
    {
        if (response.Status is 429 or >= 500)
        {
            _entries.TryRemove(scopedKey, out _);
        }
        else if (_entries.TryGetValue(scopedKey, out var entry))
        {
            entry.Response = response;
        }
    }

    public void Abandon(string scopedKey) => _entries.TryRemove(scopedKey, out _);

    private void Evict(long now)
    {
        while (_order.TryPeek(out var oldest) && (oldest.ExpiresAtMs <= now || _entries.Count > options.Orders.IdempotencyEntriesMax))
        {
            if (_order.TryDequeue(out oldest) && _entries.TryGetValue(oldest.Key, out var entry) && entry.ExpiresAtMs == oldest.ExpiresAtMs)
            {
                _entries.TryRemove(oldest.Key, out _);
            }
        }
    }
}
