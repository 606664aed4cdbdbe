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
    public long Block { get; init; }
    public string? PreviousKeySha256 { get; init; }
    public long RetireAtMs { get; init; }
}

public sealed record Seller(long Id, string Name);

public sealed record Warehouse(string Id, string Region, string Country);


/// <summary>
/// The control data as the fold of its log's records (<see cref="Apply"/>), and the rules that decide which record a
/// change writes: seller ids and webhook ids in sequence, a warehouse id taken once, a subscription deleted only by
/// its owner or an admin, sequence blocks never leased twice, one tracking key. No I/O and no locking:
/// <see cref="ControlStore"/> reads and appends the log and calls these under its exclusive section.
/// </summary>
public sealed class ControlView
{
    private readonly Dictionary<long, Seller> _sellers = [];
    private readonly List<Warehouse> _warehouses = [];
    private readonly Dictionary<string, Principal> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _retiring = new(StringComparer.Ordinal); // a rotated key's hash → when it stops (Unix ms)
    private readonly Dictionary<long, Subscription> _subscriptions = [];
    private long _lastSellerId;
    private long _lastWebhookId;
    private long _lastBlock;
    private volatile Subscription[] _activeSubscriptions = [];

    public byte[]? TrackingSecret { get; private set; }

    public IReadOnlyList<Warehouse> Warehouses => _warehouses;

    /// <summary>Every active subscription (a snapshot, safe to read without the store's lock).</summary>
    public IReadOnlyList<Subscription> Subscriptions => _activeSubscriptions;

    public Seller? FindSeller(long id) => _sellers.GetValueOrDefault(id);

    /// <summary>Whose key has this SHA-256 hash (lowercase hex) at <paramref name="nowMs"/>, or null (none, or one rotated
    /// whose grace period is over).</summary>
    public Principal? FindKey(string keySha256, long nowMs) =>
        _keys.TryGetValue(keySha256, out var principal) && !(_retiring.TryGetValue(keySha256, out var until) && nowMs >= until) ? principal : null;

    /// <summary>The record replacing a seller's or storefront's key (by its hash) with a new one; the old one keeps working
    /// until <paramref name="retireAtMs"/>. Null for a key that is not a seller's or storefront's (the admin key comes
    /// from the node's configuration and is changed there).</summary>
    public ControlRecord? RotateKey(string keySha256, string newKeySha256, long retireAtMs) =>
        _keys.TryGetValue(keySha256, out var principal) && principal.Role is Role.Seller or Role.Storefront
            ? new ControlRecord
            {
                Kind = "key_rotated", KeySha256 = newKeySha256, PreviousKeySha256 = keySha256, RetireAtMs = retireAtMs,
                Owner = principal.Role, SellerId = principal.SellerId,
            }
            : null;

    /// <summary>A key known without being in the log (the node's admin key, from its own file).</summary>
    public void AddKey(string keySha256, Principal principal) => _keys[keySha256] = principal;

    public Subscription? FindSubscription(long id) => _subscriptions.GetValueOrDefault(id);

    /// <summary>The next seller, with its key's hash.</summary>
    public ControlRecord NewSeller(string name, string keySha256) =>
        new() { Kind = "seller", SellerId = _lastSellerId + 1, Name = name, KeySha256 = keySha256 };

    public static ControlRecord NewStorefrontKey(string name, string keySha256) => new() { Kind = "storefront", Name = name, KeySha256 = keySha256 };

    /// <summary>The record adding <paramref name="warehouse"/>, or null when its id is taken (<paramref name="existing"/>
    /// is then the warehouse that has it).</summary>
    public ControlRecord? NewWarehouse(Warehouse warehouse, out Warehouse? existing)
    {
        existing = _warehouses.Find(w => w.Id == warehouse.Id);
        return existing is null ? new ControlRecord { Kind = "warehouse", WarehouseId = warehouse.Id, Region = warehouse.Region, Country = warehouse.Country } : null;
    }

    public ControlRecord NewSubscription(Principal owner, string? url, string? email, string language, IReadOnlyList<string> eventTypes, string secret) =>
        new()
        {
            Kind = "webhook", WebhookId = _lastWebhookId + 1, Owner = owner.Role, SellerId = owner.SellerId, Url = url, Secret = secret,
            EventTypes = [.. eventTypes], Email = email, Language = language,
        };

    /// <summary>The record deleting a subscription <paramref name="caller"/> owns (or may see, as an admin); null when there is none.</summary>
    public ControlRecord? DeleteSubscription(long id, Principal caller) =>
        _subscriptions.TryGetValue(id, out var subscription) && Owns(caller, subscription) ? new ControlRecord { Kind = "webhook_deleted", WebhookId = id } : null;

    public static bool Owns(Principal caller, Subscription subscription) =>
        caller.Role == Role.Admin || (caller.Role == subscription.Owner && caller.SellerId == subscription.SellerId);

    /// <summary>The next block of parent-order sequences: above every block leased before and above the block of
    /// <paramref name="floor"/> (blocks of <paramref name="blockSize"/> sequences).</summary>
    public ControlRecord NewSequenceBlock(long floor, long blockSize) =>
        new() { Kind = "sequence_block", Block = Math.Max(_lastBlock + 1, floor / blockSize + 1) };

    /// <summary>The record keeping <paramref name="secret"/> as the tracking key, or null when the log has one already.</summary>
    public ControlRecord? NewTrackingKey(byte[] secret) =>
        TrackingSecret is null ? new ControlRecord { Kind = "tracking_key", Secret = Convert.ToHexStringLower(secret) } : null;

    /// <summary>Folds one record of the log into the view.</summary>
    public void Apply(ControlRecord record)
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
            case "key_rotated":
                _keys[record.KeySha256!] = new Principal(record.Owner!.Value, record.SellerId);
                _retiring[record.PreviousKeySha256!] = Math.Min(record.RetireAtMs, _retiring.GetValueOrDefault(record.PreviousKeySha256!, long.MaxValue));
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
            case "sequence_block":
                _lastBlock = Math.Max(_lastBlock, record.Block);
                break;
            case "tracking_key":
                TrackingSecret ??= Convert.FromHexString(record.Secret!);
                break;
            default:
                throw new InvalidDataException($"unknown control record kind '{record.Kind}'");
        }
    }
}
