using System.Collections.Concurrent;
using Orleans.Concurrency;
using Surge.Core;
using Surge.Runtime;

namespace Surge.Server;

internal static class ExceptionExtensions
{
    /// <summary>Rethrows with the original stack trace (for use in throw expressions).</summary>
    public static Exception Rethrow(this Exception e)
    {
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e).Throw();
        return e;
    }
}

/// <summary>Why a command was not taken: the API answers 429 (one partition full) or 503 (node saturated,
/// partition failed) with Retry-After, at once.</summary>
/// <summary>
/// The API side of the partitions: one <see cref="PartitionRunner"/> per partition micro-batches the commands
/// of concurrent requests (a lone command goes at once, a crowd shares a batch) and sends each batch to the
/// partition's grain. Admission: each partition's queue is bounded (a hot seller fills only its own, and gets
/// 429 while the others go on), and so is the node's total of commands not yet answered (503).
/// </summary>
public sealed class Gateway : IPartitions, IDemandSource, IAsyncDisposable
{
    private readonly PartitionRunner[] _runners;
    private readonly IPartitionGrain[] _grains;
    private readonly ServerOptions _options;
    private int _nodeQueued;

    public Gateway(IGrainFactory grains, ServerOptions options)
    {
        _options = options;
        _grains = new IPartitionGrain[options.Partitions];
        _runners = new PartitionRunner[options.Partitions];
        var runnerOptions = new RunnerOptions
        {
            QueuedCommandsMax = options.Admission.PartitionQueuedCommandsMax,
            BatchCommandsMax = options.Admission.BatchCommandsMax,
            BatchesInFlightMax = options.Admission.BatchesInFlightMax,
            // In a cluster a partition's grain comes back on another silo after its silo dies; a single process has no such second chance.
            FailureIsPermanent = options.Cluster is null,
        };
        for (var i = 0; i < options.Partitions; i++)
        {
            _grains[i] = grains.GetGrain<IPartitionGrain>(i);
            _runners[i] = new PartitionRunner(new GrainSink(_grains[i]), runnerOptions, options.Clock);
        }
    }

    public int Partitions => _runners.Length;

    /// <summary>Commands waiting in one partition's queue now.</summary>
    public int Queued(int partition) => _runners[partition].Queued;

    /// <summary>Commands admitted and not yet answered, over all partitions.</summary>
    public int NodeQueued => Volatile.Read(ref _nodeQueued);

    public int Count => _runners.Length;

    public int PartitionOf(long sellerId) => Ids.PartitionOf(sellerId, _runners.Length);

    public async Task<SellerOrderState[]> GetOrders(int partition, long[] ids) =>
        [.. (await _grains[partition].GetOrders(ids.AsImmutable())).Select(State)];

    public async Task<SellerOrderState[]> OpenMultiSellerChildren(int partition) =>
        [.. (await _grains[partition].OpenMultiSellerChildren()).Select(State)];

    public async Task<WeeklySkuDemand[]> SellerDemand(long sellerId, long fromMs, int weeks) =>
        [.. (await _grains[PartitionOf(sellerId)].SellerDemand(sellerId, fromMs, weeks)).Select(d => new WeeklySkuDemand(d.Sku, d.WeeklyUnits, d.Available))];

    public async Task<SkuDefinition?> GetSku(int partition, int sku) => (await _grains[partition].GetSku(sku))?.Definition();

    private static SellerOrderState State(SellerOrderView o) => new(o.Id, o.ParentId, o.SellerId, o.Status, o.CancelReason, o.PlacedAtMs, o.ExpiresAtMs,
        [.. o.Lines.Select(l => new PlacedLine(l.Sku, l.Warehouse, l.Quantity))]);

    public IPartitionGrain Grain(int partition) => _grains[partition];

    /// <summary>Queues one command for a partition; the task completes when its batch is durable.
    /// Throws <see cref="AdmissionException"/> at once when the partition or the node is full.</summary>
    public Task<CommandResult> Submit(int partition, Action<CommandWriter> encode)
    {
        Admit(partition, 1);
        try
        {
            return Track(_runners[partition].SubmitAsync(encode), 1);
        }
        catch (Exception e)
        {
            throw Refused(partition, 1, e) ?? throw e.Rethrow();
        }
    }

    /// <summary>Queues <paramref name="count"/> commands for one partition in one go (the batch endpoint's path):
    /// one task for all of them; admitted or refused as a whole.</summary>
    public Task<CommandGroup> SubmitGroup(int partition, int count, Action<CommandWriter> encode)
    {
        Admit(partition, count);
        try
        {
            return Track(_runners[partition].SubmitGroupAsync(count, encode), count);
        }
        catch (Exception e)
        {
            throw Refused(partition, count, e) ?? throw e.Rethrow();
        }
    }

    private void Admit(int partition, int count)
    {
        if (Interlocked.Add(ref _nodeQueued, count) > _options.Admission.NodeQueuedCommandsMax)
        {
            Interlocked.Add(ref _nodeQueued, -count);
            throw new AdmissionException(Refusal.Unavailable, "node_saturated", $"the node has {_options.Admission.NodeQueuedCommandsMax} commands in progress");
        }
    }

    /// <summary>Gives the admission back; the answer for a refusal, or null for any other failure.</summary>
    private AdmissionException? Refused(int partition, int count, Exception e)
    {
        Interlocked.Add(ref _nodeQueued, -count);
        switch (e)
        {
            case PartitionOverloadedException:
                return new AdmissionException(Refusal.Busy, "partition_overloaded", e.Message);
            case InvalidOperationException:
                return new AdmissionException(Refusal.Unavailable, "partition_unavailable", $"partition {partition} failed and is not serving: {e.InnerException?.Message ?? e.Message}");
            default:
                return null;
        }
    }

    private async Task<T> Track<T>(Task<T> pending, int count)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _nodeQueued, -count);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var runner in _runners)
        {
            await runner.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Times a batch of placements is sent again after Orleans rejected it (its silo was stopping, the
    /// activation was moving). A rejection does not prove the batch was not applied, so only batches that are safe to
    /// apply twice are sent again (<see cref="BatchFormat.IsRepeatSafe"/>); a placement the first attempt made is then
    /// answered "duplicate", which <see cref="OrderSaga"/> reads as placed — the repeat's own record being durable
    /// means the first one is too.</summary>
    public const int RejectedBatchRetriesMax = 8;

    /// <summary>Wait before the first re-send of a rejected batch; doubled each time (8 re-sends: about 2.5 s in all).</summary>
    public static readonly TimeSpan RejectedBatchRetryDelay = TimeSpan.FromMilliseconds(10);

    private sealed class GrainSink(IPartitionGrain grain) : IBatchSink
    {
        public Task<BatchReply> ExecuteAsync(ReadOnlySpan<byte> batch) => CallAsync(batch.ToArray());

        private async Task<BatchReply> CallAsync(byte[] batch)
        {
            var delay = RejectedBatchRetryDelay;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return BatchReply.Unpack((await grain.Execute(batch.AsImmutable()).ConfigureAwait(false)).Value);
                }
                catch (Orleans.Runtime.OrleansMessageRejectionException) when (attempt < RejectedBatchRetriesMax && BatchFormat.IsRepeatSafe(batch))
                {
                    await Task.Delay(delay).ConfigureAwait(false);
                    delay *= 2;
                }
            }
        }
    }
}

/// <summary>
/// The gateway's routing view of the catalog: (seller, SKU code) → the SKU's reference in its partition, and the
/// warehouses and regions, whose engine references are the same in every partition because every partition
/// receives the same warehouse upserts in the same order (the control log's). Filled from the partitions at
/// start, then kept current as upserts succeed; in a cluster a SKU created through another silo is looked up in
/// its partition on first use (<see cref="Lookup"/>).
/// </summary>
public sealed class Catalog : ISkuCatalog
{
    private readonly ConcurrentDictionary<(long Seller, string Code), int> _skus = new();
    private volatile string[] _warehouses = [];
    private volatile Dictionary<string, int> _warehouseIndex = new(StringComparer.Ordinal);
    private volatile Dictionary<string, int> _regionIndex = new(StringComparer.Ordinal);

    public int SkuCount => _skus.Count;

    public bool TryFindSku(long sellerId, string code, out int sku) => _skus.TryGetValue((sellerId, code), out sku);

    /// <summary>Asks the seller's partition for a SKU this node has not seen (in a cluster, SKUs created through
    /// another silo); null: this node's catalog is complete (one process) and a miss is an unknown SKU.</summary>
    public Func<long, string, Task<int>>? Lookup { get; set; }

    /// <summary>The SKU's reference, or -1 when the seller has no such SKU.</summary>
    public async ValueTask<int> FindSkuAsync(long sellerId, string code)
    {
        if (_skus.TryGetValue((sellerId, code), out var sku))
        {
            return sku;
        }
        if (Lookup is null || (sku = await Lookup(sellerId, code).ConfigureAwait(false)) < 0)
        {
            return -1;
        }
        _skus[(sellerId, code)] = sku;
        return sku;
    }

    public void AddSku(long sellerId, string code, int sku) => _skus[(sellerId, code)] = sku;

    public IReadOnlyList<string> Warehouses => _warehouses;

    public int WarehouseIndex(string id) => _warehouseIndex.GetValueOrDefault(id, -1);

    /// <summary>The engine's region reference, or -1 when no warehouse is in that region (allocation then
    /// goes by country, then anywhere).</summary>
    public int RegionIndex(string region) => _regionIndex.GetValueOrDefault(region, -1);

    public void SetWarehouses(IReadOnlyList<Warehouse> warehouses)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var regions = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < warehouses.Count; i++)
        {
            index[warehouses[i].Id] = i;
            regions.TryAdd(warehouses[i].Region, regions.Count);
        }
        _warehouseIndex = index;
        _regionIndex = regions;
        _warehouses = warehouses.Select(w => w.Id).ToArray();
    }
}
