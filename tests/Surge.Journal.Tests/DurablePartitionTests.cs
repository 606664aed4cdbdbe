using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Journal.Tests;

public class DurablePartitionTests
{
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 64 * 1024 };

    [Fact]
    public async Task RefusedAppend_StopsThePartitionUntilItIsRecovered()
    {
        var storage = new SimulatedStorage(seed: 9);
        var workload = new Workload(seed: 9);
        var journal = SegmentJournal.Open(storage, Options with { PendingBytesMax = 4096 });
        var partition = DurablePartition.Recover(journal);
        await partition.Submit(workload.Setup()).Durable.WaitAsync(TestContext.Current.CancellationToken);
        var acknowledged = partition.Engine.StateHash();
        var big = new CommandWriter().Begin(Workload.StartMs + 1);
        for (var i = 0; i < 5000; i++)
        {
            big.Tick();
        }

        Assert.Throws<JournalBackpressureException>(() => partition.Submit(big.Written));
        Assert.Throws<InvalidOperationException>(() => partition.Submit(workload.NextBatch()));

        await journal.DisposeAsync();
        var recovered = DurablePartition.Recover(SegmentJournal.Open(storage, Options));
        Assert.Equal(acknowledged, recovered.Engine.StateHash());
        await recovered.Journal.DisposeAsync();
    }

    [Fact]
    public async Task FailedSync_StopsThePartitionUntilItIsRecovered()
    {
        var storage = new SimulatedStorage(seed: 10) { FailSyncOfSuffix = ".seg" };
        var workload = new Workload(seed: 10);
        var partition = DurablePartition.Recover(SegmentJournal.Open(storage, Options));
        await partition.Submit(workload.Setup()).Durable.WaitAsync(TestContext.Current.CancellationToken);
        storage.FailNextSync = true;

        var failed = partition.Submit(workload.NextBatch());
        await Assert.ThrowsAsync<JournalWriteException>(() => failed.Durable);

        Assert.Throws<InvalidOperationException>(() => partition.Submit(workload.NextBatch()));
        await partition.Journal.DisposeAsync();
    }
}
