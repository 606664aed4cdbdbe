using Surge.Journal;

namespace Surge.Flow;

/// <summary>
/// What a fulfillment stage needs from the rest of the system, as one small port (the host implements it; tests
/// record). Every member is called from the stage's loop, in the order written here within one step.
/// </summary>
public interface IStageEffects
{
    /// <summary>Whether a carrier is taking shipments now (an open breaker makes the planner prefer another).</summary>
    bool IsCarrierHealthy(string carrierId);

    /// <summary>The shipments a step stored (new ones only), once they are durable: the dispatcher takes them from here.</summary>
    void ShipmentsStored(IReadOnlyList<ShipmentState> shipments);

    /// <summary>Marks the planned seller orders of the stage's partition <c>allocated</c> (a journaled engine command;
    /// a repeat changes nothing). A transient failure is retried by the stage.</summary>
    Task MarkAllocatedAsync(int partition, IReadOnlyList<long> sellerOrders, CancellationToken cancellationToken);

    /// <summary>Awaited with the facts of every step before the step counts as done (before the checkpoint can move
    /// past it): subscriber notifications are queued durably here, so none is lost.</summary>
    Task KeepFactsAsync(IReadOnlyList<OrderFact> facts, CancellationToken cancellationToken);

    /// <summary>The facts of every step, in journal order, after the step's effects are durable (customer updates and
    /// the tracking timeline hang here).</summary>
    void FactsObserved(int partition, IReadOnlyList<OrderFact> facts);
}

/// <summary>Where the downstream of each partition keeps its durable state: its stores (shipments, notifications),
/// each a journal of its own, and its stage's checkpoints. They live where the partition's journal lives, so they move
/// with it: directories under the data directory for a node alone, the shared database in a cluster.</summary>
public interface IFlowJournals
{
    /// <summary>Opens partition <paramref name="partition"/>'s store <paramref name="name"/> ("shipments",
    /// "notifications"). In a cluster, opening takes the store over: a silo that opened it before can no longer append.</summary>
    IJournal OpenStore(int partition, string name);

    IJournalStorage Checkpoints(int partition);
}

/// <summary><see cref="IFlowJournals"/> in directories: <c>ROOT/NAME/NNNN/</c> and <c>ROOT/fulfillment/NNNN/</c>.</summary>
public sealed class DirectoryFlowJournals(string root, JournalOptions options) : IFlowJournals
{
    /// <summary>Segment size of a store's journal: stores take a few records a second per partition, so they neither
    /// need the partitions' segment size nor a preallocated spare (32 stores × 2 × 16 MiB of zeros otherwise).</summary>
    public const long StoreSegmentBytesMax = 4L * 1024 * 1024;

    private readonly JournalOptions _stores = options with
    {
        SegmentBytesMax = Math.Min(options.SegmentBytesMax, StoreSegmentBytesMax),
        PreallocateSegments = false,
    };

    public IJournal OpenStore(int partition, string name) => SegmentJournal.Open(new DirectoryStorage(Path.Combine(root, name, Dir(partition))), _stores);

    public IJournalStorage Checkpoints(int partition) => new DirectoryStorage(Path.Combine(root, "fulfillment", Dir(partition)));

    private static string Dir(int partition) => partition.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);
}
