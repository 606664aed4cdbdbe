using System.Collections.Concurrent;

namespace Surge.Bench;

/// <summary>What the chaos clients were told, kept independently of Surge: for each idempotency key the request and
/// every order id an answer named; for each order the payment or cancellation that was acknowledged. The checker
/// compares what Surge holds at the end with this. Thread-safe.</summary>
internal sealed class ChaosLedger
{
    /// <summary>One placement key: its body (to ask again at the end if no answer came), the ids answers named, and
    /// a definitive refusal if one came.</summary>
    public sealed class Placement(string key, byte[] body, bool batch)
    {
        public string Key { get; } = key;
        public byte[] Body { get; } = body;

        /// <summary>Placed as one order of a batch (the body is then the batch's, the key that order's).</summary>
        public bool Batch { get; } = batch;
        public HashSet<string> Ids { get; } = new(StringComparer.Ordinal);
        public string? Refused { get; set; }
        public bool Answered => Ids.Count > 0 || Refused is not null;
    }

    private readonly ConcurrentDictionary<string, Placement> _placements = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _settled = new(StringComparer.Ordinal); // order id → "paid" | "cancelled"
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _trails = new(StringComparer.Ordinal);
    private long _retries, _replays, _timeouts, _serverErrors, _inFlightAnswers;

    public Placement Begin(string key, byte[] body, bool batch = false) => _placements.GetOrAdd(key, k => new Placement(k, body, batch));

    public void Acknowledged(Placement placement, string id)
    {
        lock (placement)
        {
            placement.Ids.Add(id);
        }
    }

    public void Refused(Placement placement, string code)
    {
        lock (placement)
        {
            placement.Refused ??= code;
        }
    }

    public void Settled(string orderId, string outcome) => _settled[orderId] = outcome;

    /// <summary>Notes what one attempt under <paramref name="key"/> got (which silo, the status or the failure), to follow a finding up.</summary>
    public void Note(string key, string attempt) => _trails.GetOrAdd(key, _ => new ConcurrentQueue<string>()).Enqueue(attempt);

    /// <summary>Every attempt under the keys that start with <paramref name="prefix"/>.</summary>
    public string Trail(string prefix) => string.Join("; ", _trails.Where(t => t.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(t => t.Key, StringComparer.Ordinal)
        .Select(t => $"{t.Key}: {string.Join(" → ", t.Value)}"));

    public void Retry() => Interlocked.Increment(ref _retries);
    public void Replay() => Interlocked.Increment(ref _replays);
    public void Timeout() => Interlocked.Increment(ref _timeouts);
    public void ServerError() => Interlocked.Increment(ref _serverErrors);
    public void InFlight() => Interlocked.Increment(ref _inFlightAnswers);

    public IReadOnlyCollection<Placement> Placements => [.. _placements.Values];
    public IReadOnlyDictionary<string, string> SettledOrders => new Dictionary<string, string>(_settled, StringComparer.Ordinal);
    public long Retries => Interlocked.Read(ref _retries);
    public long Replays => Interlocked.Read(ref _replays);
    public long Timeouts => Interlocked.Read(ref _timeouts);
    public long ServerErrors => Interlocked.Read(ref _serverErrors);
    public long InFlightAnswers => Interlocked.Read(ref _inFlightAnswers);
}
