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

/// <summary>Where the downstream keeps its durable state: one journal per store (shipments, notifications) and the
/// checkpoints of each partition's stage. The local default is directories under the data directory; a host may put
/// them where the partitions' journals are.</summary>
public interface IFlowJournals
{
    IJournal OpenStore(string name);

    IJournalStorage Checkpoints(int partition);
}

/// <summary><see cref="IFlowJournals"/> in directories: <c>ROOT/NAME/</c> and <c>ROOT/fulfillment/NNNN/</c>.</summary>
public sealed class DirectoryFlowJournals(string root, JournalOptions options) : IFlowJournals
{
    public IJournal OpenStore(string name) => SegmentJournal.Open(new DirectoryStorage(Path.Combine(root, name)), options);

    public IJournalStorage Checkpoints(int partition) =>
        new DirectoryStorage(Path.Combine(root, "fulfillment", partition.ToString("D4", System.Globalization.CultureInfo.InvariantCulture)));
}
