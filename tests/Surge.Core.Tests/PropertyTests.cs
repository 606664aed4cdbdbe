using CsCheck;
using Surge.Core;
using Surge.Testing;

namespace Surge.Core.Tests;

/// <summary>Invariants over random command streams (CsCheck shrinks a failing seed to a small case).</summary>
public class PropertyTests
{
    [Fact]
    public void AnyCommandStream_KeepsTheStockInvariants() =>
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            var batches = Workload.RandomBatches(seed, 60);
            Workload.Run(new Engine(), batches); // CheckInvariants after every batch
        }, iter: 60);

    [Fact]
    public void AnyCommandStream_NeverMovesAnOrderBackwards() =>
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            var engine = new Engine();
            var seen = new Dictionary<long, OrderStatus>();
            foreach (var batch in Workload.RandomBatches(seed, 60))
            {
                engine.Apply(batch);
                var finalInBatch = new HashSet<long>();
                foreach (var e in engine.Events)
                {
                    if (e.Kind is EventKind.OrderCancelled or EventKind.ReservationExpired
                        || (e.Kind == EventKind.StatusAdvanced && e.Status is OrderStatus.Delivered or OrderStatus.Returned))
                    {
                        finalInBatch.Add(e.OrderId);
                    }
                    else if (e.Kind == EventKind.OrderRetired)
                    {
                        // Only a final order retires (final before the batch, or made so earlier in it: an expiry with a
                        // retention of 0); it leaves the engine then.
                        Assert.True(seen[e.OrderId] is OrderStatus.Delivered or OrderStatus.Cancelled or OrderStatus.Returned
                            || finalInBatch.Contains(e.OrderId), $"order {e.OrderId} retired while {seen[e.OrderId]}");
                        seen.Remove(e.OrderId);
                    }
                }
                foreach (var id in seen.Keys.ToList())
                {
                    var now = engine.GetOrderStatus(id);
                    Assert.True(StatusTransitions.Rank(now) >= StatusTransitions.Rank(seen[id]), $"order {id}: {seen[id]} → {now}");
                    seen[id] = now;
                }
                foreach (var e in engine.Events)
                {
                    if (e.Kind == EventKind.OrderPlaced)
                    {
                        seen[e.OrderId] = engine.GetOrderStatus(e.OrderId); // as it is after the batch (it may be final already)
                    }
                }
            }
        }, iter: 40);

    [Fact]
    public void SnapshotAtAnyPoint_RoundTripsExactly() =>
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[1, 59]).Sample((seed, cut) =>
        {
            var batches = Workload.RandomBatches(seed, 60);
            var (engine, _) = Workload.Run(new Engine(), batches.Take(cut));
            using var stream = new MemoryStream();
            engine.WriteSnapshot(stream);
            stream.Position = 0;
            var restored = Engine.ReadSnapshot(stream);
            Assert.Equal(engine.StateHash(), restored.StateHash());
            Workload.Run(engine, batches.Skip(cut));
            Workload.Run(restored, batches.Skip(cut));
            Assert.Equal(engine.StateHash(), restored.StateHash());
        }, iter: 40);

    [Fact]
    public void Encoding_RoundTripsThroughValidation() =>
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            foreach (var batch in Workload.RandomBatches(seed, 20))
            {
                BatchFormat.Validate(batch);
                Assert.Throws<MalformedBatchException>(() => BatchFormat.Validate(batch.AsSpan(0, batch.Length - 1)));
            }
        }, iter: 30);
}
