using Surge.Core;
using Surge.Testing;

namespace Surge.Core.Tests;

public class DeterminismTests
{
    [Fact]
    public void SameBatches_GiveTheSameStateAndEvents_ByteForByte()
    {
        var batches = Workload.RandomBatches(seed: 7, count: 400);
        var (a, eventsA) = Workload.Run(new Engine(), batches);
        var (b, eventsB) = Workload.Run(new Engine(new EngineOptions(ExpectedSkus: 4096, ExpectedOrders: 100_000)), batches);

        Assert.Equal(a.StateHash(), b.StateHash());
        Assert.Equal(eventsA, eventsB);
        Assert.True(a.OrderCount + a.RetiredOrders > 100);
        Assert.True(a.RetiredOrders > 0); // the workload retires orders too
    }

    [Fact]
    public void DifferentBatches_GiveDifferentHashes()
    {
        var (a, _) = Workload.Run(new Engine(), Workload.RandomBatches(seed: 7, count: 50));
        var (b, _) = Workload.Run(new Engine(), Workload.RandomBatches(seed: 8, count: 50));

        Assert.NotEqual(a.StateHash(), b.StateHash());
    }

    [Fact]
    public void SnapshotThenContinue_EqualsRunningStraightThrough()
    {
        var batches = Workload.RandomBatches(seed: 11, count: 300);
        var (straight, _) = Workload.Run(new Engine(), batches);

        var (half, _) = Workload.Run(new Engine(), batches.Take(150));
        using var stream = new MemoryStream();
        half.WriteSnapshot(stream);
        stream.Position = 0;
        var restored = Engine.ReadSnapshot(stream);
        Assert.Equal(half.StateHash(), restored.StateHash());
        restored.CheckInvariants();
        Workload.Run(restored, batches.Skip(150));

        Assert.Equal(straight.StateHash(), restored.StateHash());
    }

    [Fact]
    public void Snapshot_OfAnotherFormat_IsRefusedClearly()
    {
        using var stream = new MemoryStream(new byte[64]);
        var e = Assert.Throws<InvalidDataException>(() => Engine.ReadSnapshot(stream));
        Assert.Contains("magic", e.Message);

        var engine = new Engine();
        using var truncated = new MemoryStream();
        engine.WriteSnapshot(truncated);
        var bytes = truncated.ToArray()[..^4];
        Assert.Throws<InvalidDataException>(() => Engine.ReadSnapshot(new MemoryStream(bytes)));
    }
}
