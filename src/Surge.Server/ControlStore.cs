using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Surge.Journal;

namespace Surge.Server;

/// <summary>
/// The control data — sellers, warehouses, API keys (as SHA-256 hashes only), webhook subscriptions (with their
/// signing secrets, which must be readable to sign), the tracking-token key and the parent-id blocks leased to
/// nodes — as an append-only log of JSON lines (<see cref="IControlLog"/>): a file in the data directory, fsync'd
/// before a change is acknowledged, or a table in PostgreSQL shared by every silo of a cluster. Rare writes: each is
/// decided (by <see cref="ControlView"/>, the fold of the records and the rules) under the log's exclusive section
/// with every earlier line applied. This type is the persistence and the locking only. A shared log is re-read when a
/// lookup misses and by <see cref="Refresh"/> (the server calls it every second), so what one silo created is
/// known to the others.
/// </summary>
public sealed class ControlStore : ISubscriberDirectory, IDisposable
{
    public const string FileName = "control.jsonl";
    public const int NameBytesMax = 200;

    /// <summary>Parent-order sequences in one block leased to a node of a cluster.</summary>
    public const long SequenceBlockSize = 1L << Ids.SequenceBlockBits;


    /// <summary>Guards the in-memory view (every lookup takes it, briefly).</summary>
    private readonly Lock _gate = new();

    /// <summary>Orders reads and writes of the log (taken before <see cref="_gate"/>), so lines are applied in log order.</summary>
    private readonly Lock _logGate = new();

    private readonly IControlLog _log;
    private readonly bool _shared;
    private readonly ControlView _view = new();
    /// <summary>One re-read of a shared log at a time for lookups that missed; those waiting share the next one.</summary>
    private readonly Lock _missGate = new();

    /// <summary>When the last re-read for a miss began (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    private long _missRefreshStarted;

    private ControlStore(IControlLog log, bool shared)
    {
        _log = log;
        _shared = shared;
        ApplyLines(log.ReadNew());
    }

    /// <summary>The node's own control log, a file in its data directory.</summary>
    public static ControlStore Open(string dataDirectory) => new(new FileControlLog(Path.Combine(dataDirectory, FileName)), shared: false);

    /// <summary>A control log other nodes write too (a cluster's, in PostgreSQL).</summary>
    public static ControlStore OpenShared(IControlLog log) => new(log, shared: true);

    /// <summary>True when other nodes write this log too (a cluster's).</summary>
    public bool Shared => _shared;

    /// <summary>Warehouses in the log so far; grows when a refresh sees new ones.</summary>
    public int WarehouseCount
    {
        get
        {
            lock (_gate)
            {
                return _view.Warehouses.Count;
            }
        }
    }

    /// <summary>Applies what other nodes appended since the last read (no-op for a node's own file).</summary>
    public void Refresh()
    {
        if (!_shared)
        {
            return;
        }
        // The read goes to the database outside _gate: requests authenticating meanwhile are not held up by it.
        lock (_logGate)
        {
            var started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var lines = _log.ReadNew();
            lock (_gate)
            {
                ApplyLines(lines);
            }
            if (started > Interlocked.Read(ref _refreshStartedMs))
            {
                Interlocked.Exchange(ref _refreshStartedMs, started);
            }
        }
    }

    /// <summary>A lookup missed: re-reads a shared log before the lookup is answered "unknown", so a key or seller
    /// another silo created a moment ago is found. Misses coalesce: one re-read at a time, and a miss that waited
    /// for a re-read begun after it uses that one's result instead of querying again.</summary>
    private void RefreshOnMiss()
    {
        if (!_shared)
        {
            return;
        }
        var missedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_missGate)
        {
            if (_missRefreshStarted > missedAt)
            {
                return;
            }
            _missRefreshStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            Refresh();
        }
    }

    public IReadOnlyList<Warehouse> Warehouses
    {
        get
        {
            lock (_gate)
            {
                return [.. _view.Warehouses];
            }
        }
    }

    public Seller? FindSeller(long id)
    {
        for (var attempt = 0; ; attempt++)
        {
            lock (_gate)
            {
                if (_view.FindSeller(id) is { } seller)
                {
                    return seller;
                }
                if (attempt == 1 || !_shared)
                {
                    return null;
                }
            }
            RefreshOnMiss();
        }
    }

    /// <summary>Whose key this is at <paramref name="nowMs"/> (a rotated key stops at the end of its grace period).</summary>
    public Principal? Authenticate(string key, long nowMs)
    {
        var hash = Hash(key);
        for (var attempt = 0; ; attempt++)
        {
            lock (_gate)
            {
                if (_view.FindKey(hash, nowMs) is { } principal)
                {
                    return principal;
                }
                if (attempt == 1 || !_shared)
                {
                    return null;
                }
            }
            RefreshOnMiss();
        }
    }

    /// <summary>Creates a seller and its key; returns the key (shown once, stored only as a hash).</summary>
    public (Seller Seller, string ApiKey) CreateSeller(string name)
    {
        var key = NewKey("sk_");
        lock (_logGate) lock (_gate)
        {
            var record = Write(() => _view.NewSeller(name, Hash(key)))!;
            return (_view.FindSeller(record.SellerId)!, key);
        }
    }

    /// <summary>Replaces <paramref name="key"/> (a seller's or storefront's) with a new key, returned once; the old one works
    /// until <paramref name="retireAtMs"/>. Null when <paramref name="key"/> is not one that can be rotated.</summary>
    public string? RotateKey(string key, long retireAtMs)
    {
        var fresh = NewKey(key.StartsWith("sf_", StringComparison.Ordinal) ? "sf_" : "sk_");
        lock (_logGate) lock (_gate)
        {
            return Write(() => _view.RotateKey(Hash(key), Hash(fresh), retireAtMs)) is null ? null : fresh;
        }
    }

    public string CreateStorefrontKey(string name)
    {
        var key = NewKey("sf_");
        lock (_logGate) lock (_gate)
        {
            Write(() => ControlView.NewStorefrontKey(name, Hash(key)));
        }
        return key;
    }

    /// <summary>Adds a warehouse, or returns false when one with this id exists with other attributes.
    /// Its engine index in every partition is its position in this list.</summary>
    public bool AddWarehouse(Warehouse warehouse, out bool created)
    {
        lock (_logGate) lock (_gate)
        {
            Warehouse? existing = null;
            Write(() => _view.NewWarehouse(warehouse, out existing));
            created = existing is null;
            return existing is null || existing == warehouse;
        }
    }

    /// <summary>Every active subscription (a snapshot; cheap to read on every order event).</summary>
    public IReadOnlyList<Subscription> Subscriptions => _view.Subscriptions;

    /// <summary>Shortest time between two re-reads for <see cref="SubscriptionsAsOfAsync"/>: at most this many milliseconds
    /// of delay for a fresh fact, at most 1000 / this re-reads per second however busy the stages are.</summary>
    public const int AsOfRefreshGapMs = 20;

    private readonly SemaphoreSlim _asOfGate = new(1, 1);
    private long _refreshStartedMs = long.MinValue; // wall clock (Unix ms) when the last re-read of a shared log began

    /// <summary>For a shared log: when the last re-read began before <paramref name="atMs"/>, re-reads (one at a time,
    /// at least <see cref="AsOfRefreshGapMs"/> apart; waiters share it) so every subscription written before then is seen.</summary>
    public async ValueTask<IReadOnlyList<Subscription>> SubscriptionsAsOfAsync(long atMs)
    {
        if (_shared && Interlocked.Read(ref _refreshStartedMs) < atMs)
        {
            await _asOfGate.WaitAsync().ConfigureAwait(false);
            try
            {
                var last = Interlocked.Read(ref _refreshStartedMs);
                if (last < atMs)
                {
                    // No re-read yet (long.MinValue): none to keep a gap from (the sum would wrap around).
                    var wait = last == long.MinValue ? 0 : last + AsOfRefreshGapMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    if (wait > 0)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(wait)).ConfigureAwait(false);
                    }
                    Refresh();
                }
            }
            finally
            {
                _asOfGate.Release();
            }
        }
        return Subscriptions;
    }

    /// <summary>A subscription delivering to <paramref name="url"/> (signed webhooks) or to <paramref name="email"/>.</summary>
    public Subscription CreateSubscription(Principal owner, string? url, string? email, string language, IReadOnlyList<string> eventTypes)
    {
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        lock (_logGate) lock (_gate)
        {
            var record = Write(() => _view.NewSubscription(owner, url, email, language, eventTypes, secret))!;
            return _view.FindSubscription(record.WebhookId)!;
        }
    }

    /// <summary>Deletes a subscription its owner (or an admin) sees; false when there is none.</summary>
    public bool DeleteSubscription(long id, Principal caller)
    {
        lock (_logGate) lock (_gate)
        {
            return Write(() => _view.DeleteSubscription(id, caller)) is not null;
        }
    }

    /// <summary>The next block of parent-order sequences for this node: above every block leased before and above
    /// <paramref name="floor"/> (the largest sequence any partition holds). Returns the first and last sequence.</summary>
    public (long First, long Last) LeaseSequenceBlock(long floor)
    {
        lock (_logGate) lock (_gate)
        {
            var record = Write(() => _view.NewSequenceBlock(floor, SequenceBlockSize))!;
            return (record.Block * SequenceBlockSize, (record.Block + 1) * SequenceBlockSize - 1);
        }
    }

    /// <summary>The key of tracking tokens, the same on every node that shares this log: the one in the log, else
    /// <paramref name="existing"/> (a node's key from before it was kept here) or a new one, written to the log.</summary>
    public byte[] TrackingSecret(byte[]? existing)
    {
        lock (_logGate) lock (_gate)
        {
            if (_view.TrackingSecret is null)
            {
                Write(() => _view.NewTrackingKey(existing ?? RandomNumberGenerator.GetBytes(32)));
            }
            return _view.TrackingSecret!;
        }
    }

    /// <summary>Under the log's exclusive section: applies what others appended, then appends what
    /// <paramref name="decide"/> returns (null: nothing) and applies it. Call with <see cref="_logGate"/> and <see cref="_gate"/> held.</summary>
    private ControlRecord? Write(Func<ControlRecord?> decide)
    {
        ControlRecord? written = null;
        _log.Write(lines =>
        {
            ApplyLines(lines);
            written = decide();
            return written is null ? null : JsonSerializer.Serialize(written, ControlJson.Default.ControlRecord);
        });
        if (written is not null)
        {
            _view.Apply(written);
        }
        return written;
    }

    private void ApplyLines(IReadOnlyList<string> lines)
    {
        foreach (var line in lines)
        {
            _view.Apply(JsonSerializer.Deserialize(line, ControlJson.Default.ControlRecord) ?? throw new InvalidDataException("an empty control line"));
        }
    }

    public void AddAdminKey(string key)
    {
        lock (_gate)
        {
            _view.AddKey(Hash(key), new Principal(Role.Admin, 0));
        }
    }

    public static string NewKey(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public void Dispose()
    {
        _asOfGate.Dispose();
        _log.Dispose();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(ControlRecord))]
internal sealed partial class ControlJson : JsonSerializerContext;
