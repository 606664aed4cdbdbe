using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Surge.Server;

/// <summary>One line of the control log: a seller, a warehouse or a storefront key came into being.</summary>
public sealed record ControlRecord
{
    public required string Kind { get; init; }
    public long SellerId { get; init; }
    public string? Name { get; init; }
    public string? KeySha256 { get; init; }
    public string? WarehouseId { get; init; }
    public string? Region { get; init; }
    public string? Country { get; init; }
    public long WebhookId { get; init; }
    public string? Url { get; init; }
    public string? Secret { get; init; }
    public string[]? EventTypes { get; init; }
    public Role? Owner { get; init; }
    public string? Email { get; init; }
    public string? Language { get; init; }
}

/// <summary>A webhook subscription: a seller's (its orders only) or a storefront's or admin's (every order),
/// for the listed event types; deliveries are signed with <see cref="Secret"/> (Standard Webhooks).</summary>
public sealed record Subscription(long Id, Role Owner, long SellerId, string? Url, string Secret, IReadOnlyList<string> EventTypes,
    string? Email = null, string Language = "en")
{
    public bool Sees(long seller) => Owner != Role.Seller || SellerId == seller;
}

public sealed record Seller(long Id, string Name);

public sealed record Warehouse(string Id, string Region, string Country);

/// <summary>Who a request speaks for, from its bearer key.</summary>
public enum Role
{
    Admin,
    Storefront,
    Seller,
}

public readonly record struct Principal(Role Role, long SellerId);

/// <summary>
/// The node's control data — sellers, warehouses, API keys (as SHA-256 hashes only), webhook subscriptions (with
/// their signing secrets, which must be readable to sign) — in an append-only JSON
/// lines file, fsync'd before a change is acknowledged; loaded at start. Rare writes, so one lock and one
/// sync each. A torn last line (crash while appending) is ignored: it was never acknowledged.
/// </summary>
public sealed class ControlStore : IDisposable
{
    public const string FileName = "control.jsonl";
    public const int NameBytesMax = 200;

    private readonly Lock _gate = new();
    private readonly FileStream _log;
    private readonly Dictionary<long, Seller> _sellers = [];
    private readonly List<Warehouse> _warehouses = [];
    private readonly Dictionary<string, Principal> _keys = new(StringComparer.Ordinal);
    private long _lastSellerId;
    private readonly Dictionary<long, Subscription> _subscriptions = [];
    private long _lastWebhookId;
    private volatile Subscription[] _activeSubscriptions = [];

    private ControlStore(string path)
    {
        var lines = File.Exists(path) ? File.ReadAllLines(path) : [];
        for (var i = 0; i < lines.Length; i++)
        {
            ControlRecord? record;
            try
            {
                record = JsonSerializer.Deserialize(lines[i], ControlJson.Default.ControlRecord);
            }
            catch (JsonException) when (i == lines.Length - 1)
            {
                break; // torn tail
            }
            Apply(record ?? throw new InvalidDataException($"{path}: line {i + 1} is empty"));
        }
        _log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public static ControlStore Open(string dataDirectory) => new(Path.Combine(dataDirectory, FileName));

    public IReadOnlyList<Warehouse> Warehouses
    {
        get
        {
            lock (_gate)
            {
                return _warehouses.ToArray();
            }
        }
    }

    public Seller? FindSeller(long id)
    {
        lock (_gate)
        {
            return _sellers.GetValueOrDefault(id);
        }
    }

    public Principal? Authenticate(string key)
    {
        var hash = Hash(key);
        lock (_gate)
        {
            return _keys.TryGetValue(hash, out var principal) ? principal : null;
        }
    }

    /// <summary>Creates a seller and its key; returns the key (shown once, stored only as a hash).</summary>
    public (Seller Seller, string ApiKey) CreateSeller(string name)
    {
        var key = NewKey("sk_");
        lock (_gate)
        {
            var record = new ControlRecord { Kind = "seller", SellerId = _lastSellerId + 1, Name = name, KeySha256 = Hash(key) };
            Append(record);
            return (_sellers[record.SellerId], key);
        }
    }

    public string CreateStorefrontKey(string name)
    {
        var key = NewKey("sf_");
        lock (_gate)
        {
            Append(new ControlRecord { Kind = "storefront", Name = name, KeySha256 = Hash(key) });
        }
        return key;
    }

    /// <summary>Adds a warehouse, or returns false when one with this id exists with other attributes.
    /// Its engine index in every partition is its position in this list.</summary>
    public bool AddWarehouse(Warehouse warehouse, out bool created)
    {
        lock (_gate)
        {
            var existing = _warehouses.Find(w => w.Id == warehouse.Id);
            created = existing is null;
            if (existing is not null)
            {
                return existing == warehouse;
            }
            Append(new ControlRecord { Kind = "warehouse", WarehouseId = warehouse.Id, Region = warehouse.Region, Country = warehouse.Country });
            return true;
        }
    }

    /// <summary>Every active subscription (a snapshot; cheap to read on every order event).</summary>
    public IReadOnlyList<Subscription> Subscriptions => _activeSubscriptions;

    /// <summary>A subscription delivering to <paramref name="url"/> (signed webhooks) or to <paramref name="email"/>.</summary>
    public Subscription CreateSubscription(Principal owner, string? url, string? email, string language, IReadOnlyList<string> eventTypes)
    {
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        lock (_gate)
        {
            Append(new ControlRecord
            {
                Kind = "webhook", WebhookId = _lastWebhookId + 1, Owner = owner.Role, SellerId = owner.SellerId, Url = url, Secret = secret,
                EventTypes = eventTypes.ToArray(), Email = email, Language = language,
            });
            return _subscriptions[_lastWebhookId];
        }
    }

    /// <summary>Deletes a subscription its owner (or an admin) sees; false when there is none.</summary>
    public bool DeleteSubscription(long id, Principal caller)
    {
        lock (_gate)
        {
            if (!_subscriptions.TryGetValue(id, out var subscription) || !Owns(caller, subscription))
            {
                return false;
            }
            Append(new ControlRecord { Kind = "webhook_deleted", WebhookId = id });
            return true;
        }
    }

    public static bool Owns(Principal caller, Subscription subscription) =>
        caller.Role == Role.Admin || (caller.Role == subscription.Owner && caller.SellerId == subscription.SellerId);

    private void Append(ControlRecord record)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(record, ControlJson.Default.ControlRecord);
        _log.Write(line);
        _log.WriteByte((byte)'\n');
        _log.Flush(flushToDisk: true);
        Apply(record);
    }

    private void Apply(ControlRecord record)
    {
        switch (record.Kind)
        {
            case "seller":
                _sellers[record.SellerId] = new Seller(record.SellerId, record.Name ?? "");
                _lastSellerId = Math.Max(_lastSellerId, record.SellerId);
                _keys[record.KeySha256!] = new Principal(Role.Seller, record.SellerId);
                break;
            case "storefront":
                _keys[record.KeySha256!] = new Principal(Role.Storefront, 0);
                break;
            case "warehouse":
                _warehouses.Add(new Warehouse(record.WarehouseId!, record.Region!, record.Country!));
                break;
            case "webhook":
                _subscriptions[record.WebhookId] = new Subscription(record.WebhookId, record.Owner ?? Role.Admin, record.SellerId, record.Url,
                    record.Secret!, record.EventTypes ?? [], record.Email, record.Language ?? "en");
                _lastWebhookId = Math.Max(_lastWebhookId, record.WebhookId);
                _activeSubscriptions = [.. _subscriptions.Values];
                break;
            case "webhook_deleted":
                _subscriptions.Remove(record.WebhookId);
                _activeSubscriptions = [.. _subscriptions.Values];
                break;
            default:
                throw new InvalidDataException($"unknown control record kind '{record.Kind}'");
        }
    }

    public void AddAdminKey(string key)
    {
        lock (_gate)
        {
            _keys[Hash(key)] = new Principal(Role.Admin, 0);
        }
    }

    public static string NewKey(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public void Dispose() => _log.Dispose();
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(ControlRecord))]
internal sealed partial class ControlJson : JsonSerializerContext;
