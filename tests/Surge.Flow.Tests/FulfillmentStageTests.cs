using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Flow.Tests;

public sealed class FulfillmentStageTests : IAsyncDisposable
{
    private const long Seller = 3;
    private const long T0 = 1_767_225_600_000;
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 4096, PreallocateSegments = false };
    private readonly SimulatedStorage _partitionDisk = new(seed: 11);
    private readonly SimulatedStorage _checkpointDisk = new(seed: 12);
    private readonly SimulatedStorage _storeDisk = new(seed: 13);
    private readonly CommandWriter _writer = new();
    private readonly List<long> _marked = [];
    private readonly FulfillmentPlanner _planner = new(new FulfillmentRules
    {
        Carriers = [new CarrierConfig
        {
            Id = "kr-post", Countries = ["KR"], Classes = [ShippingClass.Parcel, ShippingClass.ColdChain], Services = ["standard", "express"],
            Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(3_000, 100), [ShippingClass.ColdChain] = new(5_000, 100) },
        }],
    });
    private DurablePartition? _partition;
    private ShipmentStore? _store;

    private DurablePartition Partition => _partition ??= DurablePartition.Recover(SegmentJournal.Open(_partitionDisk, Options));

    private ShipmentStore Store => _store ??= ShipmentStore.Open(_storeDisk, Options);

    public async ValueTask DisposeAsync()
    {
        if (_partition is not null)
        {
            await _partition.Journal.DisposeAsync();
        }
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    private FulfillmentStage Stage() => new(0, Partition.Journal, _checkpointDisk, _planner, Store, new Effects(_marked));

    /// <summary>Every carrier healthy; the orders marked allocated are recorded (after <paramref name="before"/>, when given).</summary>
    private sealed class Effects(List<long> marked, Func<CancellationToken, Task>? before = null) : IStageEffects
    {
        public bool IsCarrierHealthy(string carrierId) => true;

        public void ShipmentsStored(IReadOnlyList<ShipmentState> shipments)
        {
        }

        public async Task MarkAllocatedAsync(int partition, IReadOnlyList<long> sellerOrders, CancellationToken cancellationToken)
        {
            if (before is not null)
            {
                await before(cancellationToken);
            }
            marked.AddRange(sellerOrders);
        }

        public Task KeepFactsAsync(IReadOnlyList<OrderFact> facts, CancellationToken cancellationToken) => Task.CompletedTask;

        public void FactsObserved(int partition, IReadOnlyList<OrderFact> facts)
        {
        }
    }

    private async Task SubmitAsync(long nowMs, Action<CommandWriter> commands)
    {
        commands(_writer.Begin(nowMs));
        await Partition.Submit(_writer.Written).Durable;
    }

    private async Task PaidOrdersAsync(int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            long id = i * 64;
            await SubmitAsync(T0 + i, w => w.PlaceOrder(id, i, 900 + i, Seller, T0 + 600_000, 0, CountryCode.Pack("KR"),
                [new OrderLine(0, 1), new OrderLine(1, 1)]));
            await SubmitAsync(T0 + i, w => w.ConfirmPayment(id));
        }
    }

    private async Task CatalogAsync()
    {
        await SubmitAsync(T0, w => w
            .UpsertWarehouse("wh-seoul", "kr-seoul", "KR")
            .UpsertSku(new SkuDefinition(Seller, "mug", "Mug", "kitchen", 400, 120, 90, 100, TemperatureClass.Ambient, false, 9_000, "KRW"))
            .UpsertSku(new SkuDefinition(Seller, "milk", "Milk", "food", 1_000, 100, 100, 200, TemperatureClass.Chilled, false, 3_000, "KRW"))
            .ReceiveStock(0, 0, 1_000)
            .ReceiveStock(1, 0, 1_000));
    }

    private static async Task DrainAsync(FulfillmentStage stage)
    {
        for (var steps = 0; steps < 10_000 && await stage.StepAsync(TestContext.Current.CancellationToken) > 0; steps++)
        {
        }
        Assert.Equal(0, stage.Lag.Records);
    }

    [Fact]
    public async Task EveryPaidOrder_IsPlannedStoredAndMarked_ThenTheStageIsCaughtUp()
    {
        await CatalogAsync();
        await PaidOrdersAsync(1, 20);
        using var stage = Stage();
        Assert.Equal(41, stage.Lag.Records);

        await DrainAsync(stage);

        Assert.Equal(Enumerable.Range(1, 20).Select(i => i * 64L), _marked);
        Assert.Equal(20, Store.Orders);
        Assert.Equal(40, Store.Count); // the milk travels cold, apart from the mug
        var plan = Store.ForOrder(64);
        Assert.Equal([ShippingClass.Parcel, ShippingClass.ColdChain], plan.Select(s => s.Plan.Class));
        Assert.All(plan, s => Assert.Equal("kr-post", s.Plan.CarrierId));
    }

    [Fact]
    public async Task Restart_WithoutACheckpoint_RepeatsWithTheSameIds_AndTheStoreKeepsTheFirstPlan()
    {
        await CatalogAsync();
        await PaidOrdersAsync(1, 5);
        using (var stage = Stage())
        {
            await DrainAsync(stage); // crashed before its checkpoint: nothing saved
        }
        await Store.DisposeAsync();
        _store = null;
        Assert.Equal(5, Store.Orders); // rebuilt from the store's journal

        using var again = Stage();
        Assert.Equal(0, again.Position);
        await DrainAsync(again);

        Assert.Equal(Enumerable.Range(1, 5).Select(i => i * 64L).Concat(Enumerable.Range(1, 5).Select(i => i * 64L)), _marked);
        Assert.Equal(5, Store.Orders);
        Assert.Equal(10, Store.Count);
    }

    [Fact]
    public async Task Restart_AfterACheckpoint_ResumesAfterIt_AndNothingIsLost()
    {
        await CatalogAsync();
        await PaidOrdersAsync(1, 5);
        using (var stage = Stage())
        {
            await DrainAsync(stage);
            stage.Checkpoint();
        }
        await PaidOrdersAsync(6, 3);

        using var resumed = Stage();
        Assert.Equal(11, resumed.Position);
        Assert.Equal(6, resumed.Lag.Records);
        await DrainAsync(resumed);

        Assert.Equal(Enumerable.Range(1, 8).Select(i => i * 64L), _marked);
        Assert.Equal(8, Store.Orders);
    }

    [Fact]
    public async Task AStopInTheMiddleOfAStep_SavesNoCheckpointPastIt_SoTheNextOwnerRepeatsTheStep()
    {
        await CatalogAsync();
        await PaidOrdersAsync(1, 3);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var stage = new FulfillmentStage(0, Partition.Journal, _checkpointDisk, _planner, Store, new Effects(_marked, async token =>
        {
            entered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, token); // the partition closes while the effect waits
        })))
        {
            using var stop = new CancellationTokenSource();
            var run = stage.RunAsync(stop.Token);
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            await stop.CancelAsync();
            await run; // its final checkpoint must not cover the records whose effects never happened
        }
        Assert.Empty(_marked);

        using var next = Stage();
        Assert.Equal(0, next.Position);
        await DrainAsync(next);
        Assert.Equal([64L, 128L, 192L], _marked);
    }

    [Fact]
    public async Task ALaggingStage_KeepsItsRecordsFromCompaction_UntilItsCheckpointPassesThem()
    {
        await CatalogAsync();
        using var stage = Stage();
        await PaidOrdersAsync(1, 30);
        await Partition.SnapshotAsync(TestContext.Current.CancellationToken);
        await PaidOrdersAsync(31, 30);
        await Partition.SnapshotAsync(TestContext.Current.CancellationToken);
        Partition.Journal.Compact();

        await DrainAsync(stage);

        Assert.Equal(60, Store.Orders);
        stage.Checkpoint();
        Partition.Journal.Compact();
        Assert.Throws<JournalGapException>(() => Partition.Journal.OpenReader(0));
    }
}
