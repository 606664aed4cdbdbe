using Microsoft.Extensions.Time.Testing;
using Surge.Core;
using Surge.Journal;
using Surge.Runtime;
using Surge.Testing;

namespace Surge.Runtime.Tests;

public sealed class PartitionRunnerTests : IAsyncDisposable
{
    private const long Seller = 7;
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 256 * 1024, PreallocateSegments = false };
    private readonly GatedStorage _storage = new(new SimulatedStorage(seed: 21));
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000));
    private PartitionRunner? _runner;

    private PartitionRunner Start(RunnerOptions? options = null)
    {
        var partition = DurablePartition.Recover(SegmentJournal.Open(_storage, Options));
        _runner = new PartitionRunner(partition, options, _clock);
        return _runner;
    }

    private static DurablePartition Partition(PartitionRunner runner) => runner.Sink switch
    {
        FlakySink flaky => flaky.Inner.Partition,
        var sink => ((DurableSink)sink).Partition,
    };

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    private async Task<int> CatalogAsync(PartitionRunner runner, int units)
    {
        await runner.SubmitAsync(w => w.UpsertWarehouse("wh-1", "kr-seoul", "KR"));
        var sku = (int)(await runner.SubmitAsync(w => w.UpsertSku(new SkuDefinition(Seller, "phone", "Phone", "phones", 200, 150, 70, 8,
            TemperatureClass.Ambient, false, 990_000, "KRW")))).Outcome.Ref;
        await runner.SubmitAsync(w => w.ReceiveStock(sku, 0, units));
        return sku;
    }

    private Task<CommandResult> Order(PartitionRunner runner, long id, int sku) =>
        runner.SubmitAsync(w => w.PlaceOrder(id, id, buyerId: id, Seller, Now + 60_000, 0, CountryCode.Pack("KR"), [new OrderLine(sku, 1)]));

    [Fact]
    public async Task ConcurrentCommands_ShareBatches_AndEveryAnswerIsDurable()
    {
        var runner = Start();
        var sku = await CatalogAsync(runner, units: 300);

        var results = await Task.WhenAll(Enumerable.Range(1, 1000).Select(i => Task.Run(() => Order(runner, i, sku))));

        Assert.Equal(300, results.Count(r => r.Outcome.Accepted));
        Assert.Equal(700, results.Count(r => r.Outcome.Reason == RejectReason.InsufficientStock));
        Assert.All(results.Where(r => r.Outcome.Accepted), r => Assert.Equal(EventKind.OrderPlaced, r.Events.Span[0].Kind));
        var journal = Partition(runner).Journal;
        Assert.True(journal.DurableSequence < 1003, $"{journal.DurableSequence} journal records for 1,003 commands: batched");
        var hash = Partition(runner).Engine.StateHash();
        await runner.DisposeAsync();
        await journal.DisposeAsync();

        var recovered = DurablePartition.Recover(SegmentJournal.Open(_storage, Options));
        Assert.Equal(hash, recovered.Engine.StateHash());
        await recovered.Journal.DisposeAsync();
    }

    [Fact]
    public async Task FullQueue_RefusesAtOnce_AndQueuedCommandsStillComplete()
    {
        var runner = Start(new RunnerOptions { QueuedCommandsMax = 10, BatchesInFlightMax = 1 });
        var sku = await CatalogAsync(runner, units: 100);
        _storage.Hold();
        var first = Order(runner, 1, sku);
        await Until(() => runner.Queued == 0 && _storage.Waiting);
        var queued = Enumerable.Range(2, 10).Select(i => Order(runner, i, sku)).ToList();

        Assert.Throws<PartitionOverloadedException>(() => { _ = Order(runner, 12, sku); });
        Assert.False(first.IsCompleted); // not durable yet, so not answered

        _storage.Release();
        var results = await Task.WhenAll(queued.Prepend(first));
        Assert.All(results, r => Assert.True(r.Outcome.Accepted));
    }

    /// <summary>A sink whose first call fails the way a call to a dead silo does, then serves again (the grain came
    /// back on another silo).</summary>
    private sealed class FlakySink(DurableSink inner) : IBatchSink
    {
        public DurableSink Inner => inner;

        public bool FailNext { get; set; }

        public Task<BatchReply> ExecuteAsync(ReadOnlySpan<byte> batch)
        {
            if (FailNext)
            {
                FailNext = false;
                return Task.FromException<BatchReply>(new TimeoutException("the silo hosting the partition died"));
            }
            return inner.ExecuteAsync(batch);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task FailedBatch_IsPermanentOnlyWhenTheSinkCannotRecover(bool permanent)
    {
        var sink = new FlakySink(new DurableSink(DurablePartition.Recover(SegmentJournal.Open(_storage, Options))));
        _runner = new PartitionRunner(sink, new RunnerOptions { FailureIsPermanent = permanent }, _clock);
        var sku = await CatalogAsync(_runner, units: 10);

        sink.FailNext = true;
        await Assert.ThrowsAsync<TimeoutException>(() => Order(_runner, 1, sku));

        if (permanent)
        {
            Assert.Throws<InvalidOperationException>(() => { _ = Order(_runner, 2, sku); }); // refused at once: the partition must be recovered
        }
        else
        {
            Assert.True((await Order(_runner, 2, sku)).Outcome.Accepted); // the next batch reaches the recovered sink
        }
    }

    [Fact]
    public async Task FailedSync_FailsPendingCommands_AndRefusesMore()
    {
        var runner = Start();
        var sku = await CatalogAsync(runner, units: 10);
        _storage.Inner.FailSyncOfSuffix = ".seg";
        _storage.Inner.FailNextSync = true;

        await Assert.ThrowsAsync<JournalWriteException>(() => Order(runner, 1, sku));
        await Until(() =>
        {
            try
            {
                Order(runner, 2, sku);
                return false;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        });
    }

    [Fact]
    public async Task BatchesAreStampedWithTheClock_SoHoldsExpireWhenTimePasses()
    {
        var runner = Start();
        var sku = await CatalogAsync(runner, units: 1);
        Assert.True((await Order(runner, 1, sku)).Outcome.Accepted);
        Assert.Equal(RejectReason.InsufficientStock, (await Order(runner, 2, sku)).Outcome.Reason);

        _clock.Advance(TimeSpan.FromMinutes(2));
        var tick = await runner.SubmitAsync(w => w.Tick());

        Assert.True(tick.Outcome.Accepted);
        Assert.True((await Order(runner, 3, sku)).Outcome.Accepted);
        Assert.Equal(OrderStatus.Cancelled, Partition(runner).Engine.GetOrderStatus(1));
    }

    [Fact]
    public void EncodeThatWritesNoCommand_IsRefused()
    {
        var runner = Start();
        Assert.Throws<ArgumentException>(() => { _ = runner.SubmitAsync(_ => { }); });
    }

    /// <summary>Polls a condition with a deadline (no fixed sleeps).</summary>
    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10 s");
            await Task.Yield();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _storage.Release();
        if (_runner is not null)
        {
            await _runner.DisposeAsync();
            await Partition(_runner).Journal.DisposeAsync();
        }
        _storage.Dispose();
    }
}
