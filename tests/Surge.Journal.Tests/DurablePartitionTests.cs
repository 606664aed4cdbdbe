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

    [Fact]
    public async Task AppliedDurable_FaultsWhenABatchTheEngineAlreadyShowsIsNotMadeDurable()
    {
        var storage = new SimulatedStorage(seed: 12) { FailSyncOfSuffix = ".seg" };
        var workload = new Workload(seed: 12);
        var partition = DurablePartition.Recover(SegmentJournal.Open(storage, Options));
        partition.Submit(workload.Setup());
        await partition.AppliedDurable.WaitAsync(TestContext.Current.CancellationToken); // the setup is durable: a read may answer
        var durableState = partition.Engine.StateHash();
        storage.FailNextSync = true;

        partition.Submit(workload.NextBatch());
        Assert.NotEqual(durableState, partition.Engine.StateHash()); // a reader sees the batch at once...

        // ...and learns, before it answers anyone, that the batch is not durable.
        await Assert.ThrowsAsync<JournalWriteException>(() => partition.AppliedDurable.WaitAsync(TestContext.Current.CancellationToken));
        await partition.Journal.DisposeAsync();
    }

    [Fact]
    public async Task Snapshot_HoldsTheStateWhenItWasTaken_WhileLaterBatchesGoOn()
    {
        var storage = new SimulatedStorage(seed: 11);
        var workload = new Workload(seed: 11);
        var partition = DurablePartition.Recover(SegmentJournal.Open(storage, Options));
        await partition.Submit(workload.Setup()).Durable.WaitAsync(TestContext.Current.CancellationToken);
        for (var i = 0; i < 20; i++)
        {
            partition.Submit(workload.NextBatch());
        }
        var atSnapshot = partition.Engine.StateHash();
        var sequence = partition.Journal.LastSequence;

        var snapshot = partition.SnapshotAsync(TestContext.Current.CancellationToken);
        for (var i = 0; i < 20; i++)
        {
            partition.Submit(workload.NextBatch()); // the engine changes while the snapshot is being written
        }
        await snapshot.WaitAsync(TestContext.Current.CancellationToken);
        await partition.Submit(workload.NextBatch()).Durable.WaitAsync(TestContext.Current.CancellationToken);
        var final = partition.Engine.StateHash();
        await partition.Journal.DisposeAsync();

        var journal = SegmentJournal.Open(storage, Options);
        Assert.Equal(sequence, journal.LatestSnapshot!.Sequence);
        using (var stream = journal.OpenSnapshot(journal.LatestSnapshot))
        {
            Assert.Equal(atSnapshot, Engine.ReadSnapshot(stream).StateHash());
        }
        var recovered = DurablePartition.Recover(journal);
        Assert.Equal(sequence, recovered.Recovery.SnapshotSequence);
        Assert.Equal(final, recovered.Engine.StateHash());
        await journal.DisposeAsync();
    }
}
