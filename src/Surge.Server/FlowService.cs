using Microsoft.Extensions.Logging;
using Surge.Core;
using Surge.Flow;
using Surge.Journal;

namespace Surge.Server;

/// <summary>
/// The downstream stages of this node: one <see cref="FulfillmentStage"/> per partition, created the moment the
/// partition is recovered (so compaction keeps what the stage still needs), started once the node serves, and
/// stopped before the gateway and journals close. Stage data lives under <c>flow/</c> in the data directory:
/// follower checkpoints per partition and the node's shipment store.
/// </summary>
public sealed class FlowService : IAsyncDisposable
{
    /// <summary>Status updates sent to a partition in one group.</summary>
    private const int MarkGroupCommandsMax = 1_024;

    private readonly ServerOptions _options;
    private readonly FulfillmentPlanner _planner;
    private readonly FulfillmentStage?[] _stages;
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];
    private Gateway? _gateway;
    private bool _disposed;

    public FlowService(ServerOptions options)
    {
        _options = options;
        _planner = new FulfillmentPlanner(options.Fulfillment);
        _stages = new FulfillmentStage?[options.Partitions];
        Store = ShipmentStore.Open(new DirectoryStorage(Path.Combine(options.DataDirectory, "flow", "shipments")),
            new JournalOptions { SegmentBytesMax = options.SegmentBytesMax });
    }

    public ShipmentStore Store { get; }

    public ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public FulfillmentRules Rules => _planner.Rules;

    /// <summary>The stages, by partition (null for a partition not opened yet).</summary>
    public IReadOnlyList<FulfillmentStage?> Stages => _stages;

    /// <summary>Called by <see cref="PartitionHost"/> right after a partition recovered.</summary>
    internal void OnPartitionOpened(int partition, DurablePartition opened)
    {
        var checkpoints = new DirectoryStorage(Path.Combine(_options.DataDirectory, "flow", "fulfillment", partition.ToString("D4")));
        FulfillmentStage.SeedIfMissing(checkpoints, opened.Journal, out var seeded);
        if (seeded is { } from)
        {
            Log.LogWarning("partition {Partition}: no fulfillment checkpoint and its journal starts after record 1; fulfillment starts at record {Sequence} (orders paid before it are not planned)",
                partition, from + 1);
        }
        _stages[partition] = new FulfillmentStage(partition, opened.Journal, checkpoints, _planner, Store, IsHealthy,
            (orders, token) => MarkAllocatedAsync(partition, orders, token),
            new StageOptions { IsTransient = e => e is AdmissionException or JournalBackpressureException or TimeoutException },
            _options.Clock);
    }

    /// <summary>Carrier health; every carrier counts as healthy until dispatch tracks failures per carrier.</summary>
    private static bool IsHealthy(string carrier) => true;

    /// <summary>Starts every stage's loop (after recovery, when the gateway exists).</summary>
    internal void Start(Gateway gateway)
    {
        _gateway = gateway;
        _loops = _stages.OfType<FulfillmentStage>().Select(stage => Task.Run(() => RunAsync(stage))).ToArray();
    }

    private async Task RunAsync(FulfillmentStage stage)
    {
        try
        {
            await stage.RunAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.LogError(e, "fulfillment stage of partition {Partition} stopped at record {Sequence}; it resumes there at the next start",
                stage.Partition, stage.Position);
        }
    }

    private async Task MarkAllocatedAsync(int partition, IReadOnlyList<long> orders, CancellationToken cancellationToken)
    {
        var gateway = _gateway ?? throw new InvalidOperationException("the flow service has not started");
        for (var start = 0; start < orders.Count; start += MarkGroupCommandsMax)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var group = orders.Skip(start).Take(MarkGroupCommandsMax).ToList();
            // Rejections are fine: an order cancelled by its seller after payment cannot become allocated.
            await gateway.SubmitGroup(partition, group.Count, w =>
            {
                foreach (var order in group)
                {
                    w.AdvanceStatus(order, OrderStatus.Allocated);
                }
            }).ConfigureAwait(false);
        }
    }

    /// <summary>Lag of every started stage.</summary>
    public IEnumerable<(int Partition, StageLag Lag, long Position)> Lags() =>
        _stages.OfType<FulfillmentStage>().Select(s => (s.Partition, s.Lag, s.Position));

    /// <summary>Stops the loops (each saves its checkpoint). Call before the gateway and the journals close.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _loops = [];
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await StopAsync().ConfigureAwait(false);
        foreach (var stage in _stages)
        {
            stage?.Dispose();
        }
        await Store.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
