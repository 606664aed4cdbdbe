using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Surge.Journal;

namespace Surge.Flow;

/// <summary>
/// The durable record of planned shipments: a journal of its own (one record per group of order plans, JSON)
/// and an index by seller order rebuilt from it at open. The first plan stored for an order is the one that
/// counts: a stage that repeats records after a restart plans those orders again (same ids), and the repeat is
/// ignored here — carrier health may have changed in between, but what was decided and made durable stays.
/// </summary>
public sealed class ShipmentStore : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private readonly IJournal _journal;
    private readonly ConcurrentDictionary<long, IReadOnlyList<PlannedShipment>> _byOrder = new();
    private long _shipments;

    private ShipmentStore(IJournal journal) => _journal = journal;

    /// <summary>Opens the store in <paramref name="storage"/> and rebuilds the index from every record.</summary>
    public static ShipmentStore Open(IJournalStorage storage, JournalOptions? options = null)
    {
        var store = new ShipmentStore(SegmentJournal.Open(storage, options));
        store._journal.Replay(0, (_, payload) => store.Index(
            JsonSerializer.Deserialize<List<List<PlannedShipment>>>(payload, Json) ?? throw new InvalidDataException("a shipment record is not a JSON array")));
        return store;
    }

    /// <summary>Shipments planned (each order counted once).</summary>
    public long Count => Interlocked.Read(ref _shipments);

    /// <summary>Orders with a plan.</summary>
    public int Orders => _byOrder.Count;

    /// <summary>The plan of a seller order, empty when there is none (yet).</summary>
    public IReadOnlyList<PlannedShipment> ForOrder(long orderId) => _byOrder.GetValueOrDefault(orderId, []);

    /// <summary>Stores the plans of several orders as one record; completes when it is durable (only then are
    /// they visible through <see cref="ForOrder"/>).</summary>
    public async Task AppendAsync(IReadOnlyList<IReadOnlyList<PlannedShipment>> plans)
    {
        if (plans.Count == 0)
        {
            return;
        }
        var payload = JsonSerializer.SerializeToUtf8Bytes(plans, Json);
        await _journal.Append(payload).Durable.ConfigureAwait(false);
        Index(plans);
    }

    private void Index(IEnumerable<IReadOnlyList<PlannedShipment>> plans)
    {
        foreach (var plan in plans)
        {
            if (plan.Count > 0 && _byOrder.TryAdd(plan[0].OrderId, plan))
            {
                Interlocked.Add(ref _shipments, plan.Count);
            }
        }
    }

    public ValueTask DisposeAsync() => _journal.DisposeAsync();
}
