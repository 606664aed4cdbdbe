using System.Runtime.InteropServices;

namespace Surge.Core;

/// <summary>
/// What a command sent with an idempotency key carries: the key (128 bits of a hash of the caller's scope and key),
/// a hash of the request, and until when the answer is kept (Unix ms, chosen by the caller, so a replay of the journal
/// decides exactly as the first run did).
/// </summary>
public readonly record struct IdempotencyKey(UInt128 Key, ulong RequestHash, long RetainUntilMs);

/// <summary>
/// The answers of keyed commands (<see cref="CommandKind.Keyed"/>), part of the partition's state: journaled with
/// the command itself (one record) and written in snapshots, so a retry after a crash or on another node gets the
/// answer the first attempt got. Kept until each key's retention passes, and at most
/// <see cref="Limits.IdempotencyKeysMax"/> keys (the oldest go first). Entries leave in the order they came
/// (a queue of (key, sequence)), so what is kept depends only on the commands applied.
/// </summary>
internal sealed class IdempotencyTable
{
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct Entry
    {
        public UInt128 Key;
        public ulong RequestHash;
        public long RetainUntilMs;
        public long Ref;
        public long Sequence;
        public RejectReason Reason;
        public byte Reserved0;
        public short Reserved1;
    }

    private readonly Dictionary<UInt128, Entry> _byKey = [];
    private readonly Queue<(UInt128 Key, long Sequence)> _arrival = new();
    private long _sequence;

    public int Count => _byKey.Count;

    /// <summary>Keys forgotten before their retention passed because the table was full.</summary>
    public long EvictedEarly { get; private set; }

    /// <summary>The kept answer for <paramref name="key"/>, unless it is unknown or its retention has passed.</summary>
    public bool TryGet(UInt128 key, long nowMs, out Entry entry) =>
        _byKey.TryGetValue(key, out entry) && entry.RetainUntilMs > nowMs;

    /// <summary>Keeps the answer of a keyed command, after letting go of what has expired (and, when full, the oldest).</summary>
    public void Add(in IdempotencyKey key, RejectReason reason, long reference, long nowMs)
    {
        while (_arrival.TryPeek(out var oldest))
        {
            var current = _byKey.TryGetValue(oldest.Key, out var e) && e.Sequence == oldest.Sequence;
            if (current && e.RetainUntilMs > nowMs && _byKey.Count < Limits.IdempotencyKeysMax)
            {
                break;
            }
            _arrival.Dequeue();
            if (current)
            {
                EvictedEarly += e.RetainUntilMs > nowMs ? 1 : 0;
                _byKey.Remove(oldest.Key);
            }
        }
        var entry = new Entry
        {
            Key = key.Key, RequestHash = key.RequestHash, RetainUntilMs = key.RetainUntilMs, Ref = reference, Reason = reason, Sequence = ++_sequence,
        };
        _byKey[key.Key] = entry;
        _arrival.Enqueue((key.Key, entry.Sequence));
    }

    /// <summary>The kept entries in arrival order (snapshots and the state hash).</summary>
    public IEnumerable<Entry> InArrivalOrder()
    {
        foreach (var (key, sequence) in _arrival)
        {
            if (_byKey.TryGetValue(key, out var e) && e.Sequence == sequence)
            {
                yield return e;
            }
        }
    }

    /// <summary>Rebuilds the table from entries in arrival order.</summary>
    internal void Restore(IEnumerable<Entry> entries, long evictedEarly)
    {
        foreach (var e in entries)
        {
            _byKey[e.Key] = e;
            _arrival.Enqueue((e.Key, e.Sequence));
            _sequence = Math.Max(_sequence, e.Sequence);
        }
        EvictedEarly = evictedEarly;
    }
}
