using System.Text.Json;
using System.Text.Json.Serialization;
using Surge.Journal;

namespace Surge.Flow;

/// <summary>Where a shipment's handover to its carrier stands.</summary>
public enum DeliveryState
{
    /// <summary>Planned, not yet accepted by the carrier (or no carrier / no endpoint).</summary>
    Pending,
    /// <summary>The carrier accepted it and gave a tracking number.</summary>
    Dispatched,
    /// <summary>Every attempt failed until the retry horizon: waits for an operator to redrive it.</summary>
    DeadLetter,
}

/// <summary>The carrier accepted a shipment.</summary>
public sealed record DispatchRecord(string ShipmentId, string TrackingNumber, long AtMs);

/// <summary>A shipment gave up on: why, after how many attempts.</summary>
public sealed record DeadLetterRecord(string ShipmentId, string Reason, int Attempts, long AtMs);

/// <summary>A tracking event from the carrier, normalized: <see cref="Status"/> is one of
/// <see cref="TrackingStatuses.All"/>, <see cref="RawCode"/> the carrier's own code, <see cref="EventId"/> the
/// carrier's id for the event (repeats are ignored).</summary>
public sealed record TrackingUpdate(string ShipmentId, string Status, string RawCode, long AtMs, string EventId, string? Description);

/// <summary>The shipments that travel to their carrier together, always as the same webhook (the same id, the same
/// shipments) however often it is sent: after a failure, a restart, or on the silo the partition moved to. Fixed when
/// the plans are stored: the new shipments of one plan record, by carrier, in pieces of at most the manifest size —
/// so replaying the store makes the same manifests.</summary>
public sealed class ShipmentManifest(IReadOnlyList<ShipmentState> shipments)
{
    public IReadOnlyList<ShipmentState> Shipments { get; } = shipments;

    /// <summary>The webhook id: a hash of the shipment ids (see <see cref="CarrierDispatcher.DeliveryId"/>).</summary>
    public string Id { get; } = CarrierDispatcher.DeliveryId(shipments.Select(s => s.Id));
}

/// <summary>A shipment as the store knows it now.</summary>
public sealed class ShipmentState(PlannedShipment plan)
{
    public PlannedShipment Plan { get; } = plan;
    public string Id => Plan.Id;

    /// <summary>The manifest it is sent in (null without a carrier).</summary>
    public ShipmentManifest? Manifest { get; internal set; }
    public DeliveryState Delivery { get; internal set; }
    public string? TrackingNumber { get; internal set; }
    public long DispatchedAtMs { get; internal set; }
    public string? DeadLetterReason { get; internal set; }
    public int DeadLetterAttempts { get; internal set; }

    /// <summary>Tracking events in the order they arrived: a snapshot, safe to read while events arrive.</summary>
    public IReadOnlyList<TrackingUpdate> Tracking => _tracking;

    /// <summary>Replaced (copy on write, under the store's lock), never changed in place: readers such as an order's
    /// JSON answer enumerate it while the carrier's events are applied.</summary>
    internal volatile TrackingUpdate[] _tracking = [];

    /// <summary>The tracking status of the newest event (by its time), or null before the first.</summary>
    public string? TrackingStatus => _tracking is { Length: > 0 } tracking ? tracking.MaxBy(t => t.AtMs)!.Status : null;

    /// <summary>One word for the API: dead_letter, else the latest tracking status, else dispatched or planned.
    /// (A carrier without an endpoint in the rules takes shipments some other way and only reports tracking.)</summary>
    public string Status => Delivery == DeliveryState.DeadLetter ? "dead_letter"
        : TrackingStatus ?? (Delivery == DeliveryState.Dispatched ? "dispatched" : "planned");
}

/// <summary>
/// The durable record of shipments: a journal of its own (JSON records: plans, dispatches, dead letters,
/// redrives, tracking events) and an in-memory index rebuilt from it at open. Effects are visible only once
/// their record is durable. The first plan stored for an order is the one that counts: a stage that repeats
/// records after a restart plans those orders again (same ids) and the repeat is ignored — carrier health may
/// have changed in between, but what was decided and made durable stays. Thread-safe.
/// </summary>
public sealed class ShipmentStore : IAsyncDisposable
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record StoreRecord(
        string Kind,
        List<List<PlannedShipment>>? Plans = null,
        List<DispatchRecord>? Dispatched = null,
        List<DeadLetterRecord>? DeadLetters = null,
        List<string>? Redriven = null,
        List<TrackingUpdate>? Tracking = null);

    private readonly IJournal _journal;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, ShipmentState[]> _byOrder = [];
    private readonly Dictionary<string, ShipmentState> _byId = new(StringComparer.Ordinal);
    private long _deadLetters;
    private readonly Dictionary<string, long> _deadByCarrier = new(StringComparer.Ordinal); // guarded by _gate
    private long _dispatched;

    private readonly int _manifestShipmentsMax;

    private ShipmentStore(IJournal journal, int manifestShipmentsMax)
    {
        _journal = journal;
        _manifestShipmentsMax = manifestShipmentsMax > 0 ? manifestShipmentsMax
            : throw new ArgumentOutOfRangeException(nameof(manifestShipmentsMax), manifestShipmentsMax, "a manifest holds at least one shipment");
    }

    /// <summary>Opens the store in <paramref name="storage"/> and rebuilds the index from every record.</summary>
    public static ShipmentStore Open(IJournalStorage storage, JournalOptions? options = null, int manifestShipmentsMax = 100) =>
        Open(SegmentJournal.Open(storage, options), manifestShipmentsMax);

    /// <summary>Opens the shipment store over <paramref name="journal"/> (it owns it from now on) and rebuilds its index
    /// from every record. <paramref name="manifestShipmentsMax"/> cuts the manifests (<see cref="ShipmentManifest"/>):
    /// keep it the same for a store, or the manifests of shipments not yet accepted change their webhook ids.</summary>
    public static ShipmentStore Open(IJournal journal, int manifestShipmentsMax = 100)
    {
        var store = new ShipmentStore(journal, manifestShipmentsMax);
        store._journal.Replay(0, (_, payload) => store.Apply(
            JsonSerializer.Deserialize<StoreRecord>(payload, Json) ?? throw new InvalidDataException("a shipment record is not a JSON object")));
        return store;
    }

    /// <summary>Shipments planned (each order counted once).</summary>
    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Orders with a plan.</summary>
    public int Orders
    {
        get
        {
            lock (_gate)
            {
                return _byOrder.Count;
            }
        }
    }

    /// <summary>Shipments in the dead-letter state now.</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    /// <summary>Shipments of one carrier in the dead-letter state now (kept as they change: read every second by the
    /// dashboard and on every scrape, so never a scan of all shipments).</summary>
    public long DeadLettersOf(string carrierId)
    {
        lock (_gate)
        {
            return _deadByCarrier.GetValueOrDefault(carrierId);
        }
    }

    /// <summary>Shipments a carrier has accepted.</summary>
    public long Dispatched => Interlocked.Read(ref _dispatched);

    /// <summary>The shipments of a seller order, empty when it has no plan (yet).</summary>
    public IReadOnlyList<ShipmentState> ForOrder(long orderId)
    {
        lock (_gate)
        {
            return _byOrder.GetValueOrDefault(orderId, []);
        }
    }

    public ShipmentState? Find(string shipmentId)
    {
        lock (_gate)
        {
            return _byId.GetValueOrDefault(shipmentId);
        }
    }

    /// <summary>Every shipment matching <paramref name="filter"/>, in no particular order (a copy).</summary>
    public List<ShipmentState> Where(Func<ShipmentState, bool> filter)
    {
        lock (_gate)
        {
            return _byId.Values.Where(filter).ToList();
        }
    }

    /// <summary>Stores the plans of several orders as one record; completes when it is durable. Returns the
    /// shipments that are new (a plan stored earlier for the same order wins).</summary>
    public async Task<IReadOnlyList<ShipmentState>> AppendPlansAsync(IReadOnlyList<IReadOnlyList<PlannedShipment>> plans)
    {
        if (plans.Count == 0)
        {
            return [];
        }
        return await AppendAsync(new StoreRecord("planned", Plans: plans.Select(p => p.ToList()).ToList())).ConfigureAwait(false);
    }

    public Task AppendDispatchedAsync(IReadOnlyList<DispatchRecord> dispatched) =>
        dispatched.Count == 0 ? Task.CompletedTask : AppendAsync(new StoreRecord("dispatched", Dispatched: dispatched.ToList()));

    public Task AppendDeadLettersAsync(IReadOnlyList<DeadLetterRecord> dead) =>
        dead.Count == 0 ? Task.CompletedTask : AppendAsync(new StoreRecord("dead_letter", DeadLetters: dead.ToList()));

    public Task AppendRedrivenAsync(IReadOnlyList<string> shipmentIds) =>
        shipmentIds.Count == 0 ? Task.CompletedTask : AppendAsync(new StoreRecord("redriven", Redriven: shipmentIds.ToList()));

    /// <summary>Stores tracking events; returns the ones that were new (an event id seen before is ignored).</summary>
    public async Task<IReadOnlyList<TrackingUpdate>> AppendTrackingAsync(IReadOnlyList<TrackingUpdate> updates)
    {
        if (updates.Count == 0)
        {
            return [];
        }
        List<TrackingUpdate> fresh;
        lock (_gate)
        {
            fresh = updates.Where(u => _byId.TryGetValue(u.ShipmentId, out var s) && !s._tracking.Any(t => t.EventId == u.EventId)).ToList();
        }
        if (fresh.Count == 0)
        {
            return [];
        }
        await AppendAsync(new StoreRecord("tracking", Tracking: fresh)).ConfigureAwait(false);
        return fresh;
    }

    private async Task<IReadOnlyList<ShipmentState>> AppendAsync(StoreRecord record)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(record, Json);
        await _journal.Append(payload).Durable.ConfigureAwait(false);
        return Apply(record);
    }

    private List<ShipmentState> Apply(StoreRecord record)
    {
        var added = new List<ShipmentState>();
        lock (_gate)
        {
            foreach (var plan in record.Plans ?? [])
            {
                if (plan.Count > 0 && !_byOrder.ContainsKey(plan[0].OrderId))
                {
                    var states = plan.Select(p => new ShipmentState(p)).ToArray();
                    _byOrder[plan[0].OrderId] = states;
                    foreach (var state in states)
                    {
                        _byId[state.Id] = state;
                    }
                    added.AddRange(states);
                }
            }
            foreach (var carrier in added.Where(s => s.Plan.CarrierId is not null).GroupBy(s => s.Plan.CarrierId))
            {
                foreach (var piece in carrier.Chunk(_manifestShipmentsMax))
                {
                    var manifest = new ShipmentManifest(piece);
                    foreach (var shipment in piece)
                    {
                        shipment.Manifest = manifest;
                    }
                }
            }
            foreach (var d in record.Dispatched ?? [])
            {
                if (_byId.TryGetValue(d.ShipmentId, out var s) && s.Delivery != DeliveryState.Dispatched)
                {
                    if (s.Delivery == DeliveryState.DeadLetter)
                    {
                        CountDeadLetter(s, -1);
                    }
                    (s.Delivery, s.TrackingNumber, s.DispatchedAtMs) = (DeliveryState.Dispatched, d.TrackingNumber, d.AtMs);
                    Interlocked.Increment(ref _dispatched);
                }
            }
            foreach (var d in record.DeadLetters ?? [])
            {
                if (_byId.TryGetValue(d.ShipmentId, out var s) && s.Delivery == DeliveryState.Pending)
                {
                    (s.Delivery, s.DeadLetterReason, s.DeadLetterAttempts) = (DeliveryState.DeadLetter, d.Reason, d.Attempts);
                    CountDeadLetter(s, +1);
                }
            }
            foreach (var id in record.Redriven ?? [])
            {
                if (_byId.TryGetValue(id, out var s) && s.Delivery == DeliveryState.DeadLetter)
                {
                    (s.Delivery, s.DeadLetterReason) = (DeliveryState.Pending, null);
                    CountDeadLetter(s, -1);
                }
            }
            foreach (var t in record.Tracking ?? [])
            {
                if (_byId.TryGetValue(t.ShipmentId, out var s) && !s._tracking.Any(x => x.EventId == t.EventId))
                {
                    // In the order the events happened (the carrier's time), not the order they arrived: a callback
                    // retried after a later one must not put "out for delivery" after "delivered". Ties keep arrival order.
                    s._tracking = [.. s._tracking.Append(t).OrderBy(x => x.AtMs)];
                }
            }
        }
        return added;
    }

    /// <summary>Called under <see cref="_gate"/> when a shipment enters (+1) or leaves (-1) the dead-letter state.</summary>
    private void CountDeadLetter(ShipmentState shipment, int change)
    {
        Interlocked.Add(ref _deadLetters, change);
        if (shipment.Plan.CarrierId is { } carrier)
        {
            _deadByCarrier[carrier] = _deadByCarrier.GetValueOrDefault(carrier) + change;
        }
    }

    public ValueTask DisposeAsync() => _journal.DisposeAsync();
}

/// <summary>Shipments and tracking events as bytes, for a silo that asks the silo hosting a partition (the same JSON as
/// the store's records).</summary>
public static class ShipmentWire
{
    private sealed record Shipment(PlannedShipment Plan, DeliveryState Delivery, string? TrackingNumber, long DispatchedAtMs,
        string? DeadLetterReason, int DeadLetterAttempts, TrackingUpdate[] Tracking);

    public static byte[] Write(IEnumerable<ShipmentState> shipments) => JsonSerializer.SerializeToUtf8Bytes(
        shipments.Select(s => new Shipment(s.Plan, s.Delivery, s.TrackingNumber, s.DispatchedAtMs, s.DeadLetterReason, s.DeadLetterAttempts,
            s._tracking)).ToList(), ShipmentStore.Json);

    /// <summary>Copies of the shipments <see cref="Write"/> wrote (as they were then; they do not change).</summary>
    public static List<ShipmentState> ReadShipments(ReadOnlySpan<byte> bytes) =>
        (JsonSerializer.Deserialize<List<Shipment>>(bytes, ShipmentStore.Json) ?? []).Select(s => new ShipmentState(s.Plan)
        {
            Delivery = s.Delivery,
            TrackingNumber = s.TrackingNumber,
            DispatchedAtMs = s.DispatchedAtMs,
            DeadLetterReason = s.DeadLetterReason,
            DeadLetterAttempts = s.DeadLetterAttempts,
            _tracking = s.Tracking ?? [],
        }).ToList();

    public static byte[] Write(IReadOnlyList<TrackingUpdate> updates) => JsonSerializer.SerializeToUtf8Bytes(updates, ShipmentStore.Json);

    public static List<TrackingUpdate> ReadTracking(ReadOnlySpan<byte> bytes) =>
        JsonSerializer.Deserialize<List<TrackingUpdate>>(bytes, ShipmentStore.Json) ?? [];
}
