using Surge.Core;
using Surge.Runtime;

namespace Surge.Application;

/// <summary>One seller order as its partition holds it.</summary>
public sealed record SellerOrderState(long Id, long ParentId, long SellerId, OrderStatus Status, CancelReason CancelReason, long PlacedAtMs,
    long ExpiresAtMs, PlacedLine[] Lines);

/// <summary>
/// The partitions, as the application sees them: commands go in and are answered once durable; reads come back as
/// plain records. The server implements it with the gateway and Orleans grains; tests and the simulator with engines
/// and journals in memory.
/// </summary>
public interface IPartitions
{
    /// <summary>How many partitions there are (a power of two).</summary>
    int Count { get; }

    /// <summary>The partition that owns a seller.</summary>
    int PartitionOf(long sellerId);

    /// <summary>Queues one command; the task completes with its outcome when its batch is durable. Throws
    /// <see cref="AdmissionException"/> at once when it is not admitted.</summary>
    Task<CommandResult> Submit(int partition, Action<CommandWriter> encode);

    /// <summary>Queues <paramref name="count"/> commands in one go: admitted or refused as a whole, one task for all.</summary>
    Task<CommandGroup> SubmitGroup(int partition, int count, Action<CommandWriter> encode);

    /// <summary>The seller orders among <paramref name="ids"/> that this partition holds (in any order).</summary>
    Task<SellerOrderState[]> GetOrders(int partition, long[] ids);

    /// <summary>Seller orders of multi-seller orders that are not final yet (pending payment or paid).</summary>
    Task<SellerOrderState[]> OpenMultiSellerChildren(int partition);

    /// <summary>A SKU's definition by its engine reference, or null when the partition has no such SKU.</summary>
    Task<SkuDefinition?> GetSku(int partition, int sku);
}

/// <summary>Where seller orders that retired from their partitions (final for longer than the retention) are still
/// read: the read model. The saga asks it for the seller orders of a parent that its partitions no longer hold.</summary>
public interface IOrderArchive
{
    /// <summary>The seller orders of <paramref name="parent"/> the archive holds (in any order; empty: none).</summary>
    Task<SellerOrderState[]> ChildrenAsync(long parent);
}

/// <summary>Where a SKU code and a region name find their engine references.</summary>
public interface ISkuDirectory
{
    /// <summary>The SKU's engine reference, or -1 when the seller has no such SKU.</summary>
    ValueTask<int> FindSkuAsync(long sellerId, string code);

    /// <summary>The engine's region reference, or -1 when no warehouse is in that region.</summary>
    int RegionIndex(string region);
}
