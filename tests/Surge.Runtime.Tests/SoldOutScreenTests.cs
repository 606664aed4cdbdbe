using Surge.Core;
using Surge.Journal;
using Surge.Runtime;

namespace Surge.Runtime.Tests;

/// <summary>
/// <see cref="SoldOutScreen"/> refuses orders without the journal. The property: every order it refuses would be
/// refused by an engine holding only what was durable at that moment (the journaled state), whatever the mix of
/// placements, payments, cancellations, restocks, expiring holds and slow syncs.
/// </summary>
public sealed class SoldOutScreenTests
{
    private const long Seller = 5;
    private const long OtherSeller = 6;
    private const long StartMs = 1_767_225_600_000;
    private const long HoldMs = 5_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void NeverRefusesAnOrderTheJournaledStateCouldAccept(int seed)
    {
        var random = new Random(seed);
        var journal = new ManualJournal();
        var screen = new SoldOutScreen(DurablePartition.Recover(journal));
        var nowMs = StartMs;
        var setup = new CommandWriter().Begin(nowMs)
            .UpsertWarehouse("wh-a", "north", "KR")
            .UpsertWarehouse("wh-b", "south", "KR");
        for (var i = 0; i < 4; i++)
        {
            setup.UpsertSku(Sku(Seller, $"s{i}"));
        }
        setup.UpsertSku(Sku(OtherSeller, "other"));
        setup.ReceiveStock(0, 0, 3).ReceiveStock(1, 1, 2).ReceiveStock(2, 0, 4).ReceiveStock(3, 0, 1).ReceiveStock(3, 1, 1).ReceiveStock(4, 0, 5);
        setup.ConfigureFlashSale(2, StartMs, perBuyerLimit: 1);
        screen.Submit(setup.Written);
        journal.MakeDurable(journal.LastSequence);

        var placed = new List<long>();
        long nextOrder = 1;
        var refusedHere = 0;
        for (var step = 0; step < 400; step++)
        {
            nowMs += random.Next(0, 3) == 0 ? random.Next(1, 3_000) : 0;
            var batch = new CommandWriter().Begin(nowMs);
            var commands = random.Next(1, 8);
            for (var c = 0; c < commands; c++)
            {
                switch (random.Next(0, 20))
                {
                    case < 12:
                        var lines = new OrderLine[random.Next(1, 4)];
                        for (var l = 0; l < lines.Length; l++)
                        {
                            lines[l] = new OrderLine(random.Next(0, 5), random.Next(1, 3));
                        }
                        batch.PlaceOrder(nextOrder, 0, random.Next(1, 6), random.Next(0, 8) == 0 ? OtherSeller : Seller, nowMs + HoldMs, 0, 0, lines);
                        placed.Add(nextOrder++);
                        break;
                    case < 15 when placed.Count > 0:
                        batch.ConfirmPayment(placed[random.Next(placed.Count)]);
                        break;
                    case < 17 when placed.Count > 0:
                        batch.CancelOrder(placed[random.Next(placed.Count)], CancelReason.Buyer);
                        break;
                    case < 18:
                        batch.ReceiveStock(random.Next(0, 5), random.Next(0, 2), 1);
                        break;
                    case < 19:
                        batch.AdjustStock(random.Next(0, 5), random.Next(0, 2), -1);
                        break;
                    default:
                        batch.Tick();
                        break;
                }
            }

            var durableBefore = journal.DurableRecords();
            var journaledBefore = journal.LastSequence;
            var screened = screen.Execute(batch.Written);
            var sent = journal.LastSequence > journaledBefore ? journal.Record(journal.LastSequence) : [];
            var sentOrders = OrderIds(sent);
            var reader = new CommandReader(batch.Written[CommandWriter.BatchHeaderBytes..]);
            for (var i = 0; i < BatchFormat.ReadCommandCount(batch.Written); i++)
            {
                var start = reader.Position;
                BatchFormat.NextCommand(ref reader, i);
                var command = batch.Written[(CommandWriter.BatchHeaderBytes + start)..(CommandWriter.BatchHeaderBytes + reader.Position)];
                var outcome = screened.Reply.Outcomes[i];
                if ((CommandKind)command[0] != CommandKind.PlaceOrder || sentOrders.Contains(outcome.Ref))
                {
                    continue;
                }
                // Refused without the journal: the journaled state must refuse it too.
                refusedHere++;
                Assert.Equal(RejectReason.InsufficientStock, outcome.Reason);
                var journaled = Replay(durableBefore);
                journaled.Apply(new CommandWriter().Begin(nowMs).Encoded(command).Written);
                Assert.False(journaled.Outcomes[0].Accepted, $"seed {seed}, step {step}: order {outcome.Ref} refused here, accepted by the journaled state");
            }
            Assert.Equal(refusedHere, screen.RefusedWithoutJournal);

            // Syncs finish late and in bursts: sometimes nothing, sometimes everything.
            if (random.Next(0, 3) > 0)
            {
                journal.MakeDurable(random.Next(0, 2) == 0 ? journal.LastSequence : Math.Max(journal.DurableSequence, journal.LastSequence - 1));
            }
        }
        Assert.True(refusedHere > 20, $"the screen refused only {refusedHere} orders: the property was hardly exercised");
    }

    [Fact]
    public void RefusesOnlyOnceTheSoldOutStateIsDurable_AndNotAfterARestock()
    {
        var (journal, screen) = OneUnitOfOneSku();
        journal.MakeDurable(journal.LastSequence);
        screen.Execute(Order(1, StartMs + 1).Written);
        var shortOne = screen.Execute(Order(2, StartMs + 2).Written);
        Assert.Equal(RejectReason.InsufficientStock, shortOne.Reply.Outcomes[0].Reason);

        // The sale of the last unit is not durable yet: a refusal now would rest on a state a crash can take back.
        var notYet = screen.Execute(Order(3, StartMs + 3).Written);
        Assert.Equal(0, notYet.RefusedWithoutJournal);

        journal.MakeDurable(journal.LastSequence);
        var refused = screen.Execute(Order(4, StartMs + 4).Written);
        Assert.Equal(1, refused.RefusedWithoutJournal);
        Assert.True(refused.Durable.IsCompleted);
        Assert.Equal(RejectReason.InsufficientStock, refused.Reply.Outcomes[0].Reason);
        Assert.Equal(4, refused.Reply.Outcomes[0].Ref);

        // A unit comes back (not yet durable): the next order goes to the engine and gets it.
        screen.Execute(new CommandWriter().Begin(StartMs + 5).ReceiveStock(0, 0, 1).Written);
        var restocked = screen.Execute(Order(5, StartMs + 6).Written);
        Assert.Equal(0, restocked.RefusedWithoutJournal);
        Assert.True(restocked.Reply.Outcomes[0].Accepted);
    }

    [Fact]
    public void AHoldThatCanExpire_SendsTheOrderToTheEngine()
    {
        var (journal, screen) = OneUnitOfOneSku();
        screen.Execute(Order(1, StartMs + 1).Written); // holds the only unit until StartMs + 1 + HoldMs
        screen.Execute(Order(2, StartMs + 2).Written);
        journal.MakeDurable(journal.LastSequence);
        Assert.Equal(1, screen.Execute(Order(3, StartMs + 3).Written).RefusedWithoutJournal);

        var afterExpiry = screen.Execute(Order(4, StartMs + 2 + HoldMs).Written);
        Assert.Equal(0, afterExpiry.RefusedWithoutJournal);
        Assert.True(afterExpiry.Reply.Outcomes[0].Accepted);
    }

    [Fact]
    public void KeyedOrdersAndRepeatedIds_GoToTheEngine()
    {
        var (journal, screen) = OneUnitOfOneSku();
        screen.Execute(Order(1, StartMs + 1).Written);
        screen.Execute(Order(2, StartMs + 2).Written);
        journal.MakeDurable(journal.LastSequence);

        var repeat = screen.Execute(Order(1, StartMs + 3).Written);
        Assert.Equal(RejectReason.DuplicateOrder, repeat.Reply.Outcomes[0].Reason);
        var keyed = new CommandWriter().Begin(StartMs + 4).Keyed(new IdempotencyKey(42, 7, StartMs + 60_000))
            .PlaceOrder(3, 0, 1, Seller, StartMs + 4 + HoldMs, 0, 0, [new OrderLine(0, 1)]);
        var keyedAnswer = screen.Execute(keyed.Written);
        Assert.Equal(0, keyedAnswer.RefusedWithoutJournal);
        Assert.Equal(RejectReason.InsufficientStock, keyedAnswer.Reply.Outcomes[0].Reason);
    }

    /// <summary>A partition with one SKU (reference 0) of which one unit is in stock, that setup not yet durable.</summary>
    private static (ManualJournal Journal, SoldOutScreen Screen) OneUnitOfOneSku()
    {
        var journal = new ManualJournal();
        var screen = new SoldOutScreen(DurablePartition.Recover(journal));
        screen.Submit(new CommandWriter().Begin(StartMs).UpsertWarehouse("wh-a", "north", "KR").UpsertSku(Sku(Seller, "s0")).ReceiveStock(0, 0, 1).Written);
        return (journal, screen);
    }

    private static CommandWriter Order(long orderId, long nowMs) =>
        new CommandWriter().Begin(nowMs).PlaceOrder(orderId, 0, orderId, Seller, nowMs + HoldMs, 0, 0, [new OrderLine(0, 1)]);

    private static SkuDefinition Sku(long seller, string code) =>
        new(seller, code, code, "misc", 100, 10, 10, 10, TemperatureClass.Ambient, false, 1_000, "EUR");

    private static Engine Replay(IReadOnlyList<byte[]> records)
    {
        var engine = new Engine();
        foreach (var record in records)
        {
            engine.Apply(record);
        }
        return engine;
    }

    private static HashSet<long> OrderIds(byte[] batch)
    {
        var visitor = new OrderIdCollector { Ids = [] };
        if (batch.Length > 0)
        {
            BatchFormat.Validate(batch, ref visitor);
        }
        return visitor.Ids;
    }

    private struct OrderIdCollector : ILineVisitor
    {
        public HashSet<long> Ids;

        public readonly void Order(long orderId) => Ids.Add(orderId);

        public readonly void Line(int sku)
        {
        }
    }

    /// <summary>A journal in memory whose records become durable only when the test says so (in sequence order).</summary>
    private sealed class ManualJournal : IJournal
    {
        private readonly List<(byte[] Payload, TaskCompletionSource Durable)> _records = [];

        public long LastSequence => _records.Count;
        public long DurableSequence { get; private set; }
        public SnapshotInfo? LatestSnapshot => null;

        public AppendTicket Append(ReadOnlySpan<byte> payload)
        {
            var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _records.Add((payload.ToArray(), durable));
            return new AppendTicket(_records.Count, durable.Task);
        }

        public void MakeDurable(long throughSequence)
        {
            for (var s = DurableSequence + 1; s <= throughSequence; s++)
            {
                _records[(int)s - 1].Durable.SetResult();
            }
            DurableSequence = Math.Max(DurableSequence, throughSequence);
        }

        public byte[] Record(long sequence) => _records[(int)sequence - 1].Payload;

        public IReadOnlyList<byte[]> DurableRecords() => [.. _records.Take((int)DurableSequence).Select(r => r.Payload)];

        public void Replay(long afterSequence, RecordVisitor visitor)
        {
            for (var s = afterSequence + 1; s <= DurableSequence; s++)
            {
                visitor(s, _records[(int)s - 1].Payload);
            }
        }

        public Task WriteSnapshotAsync(long sequence, Action<Stream> write, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Stream OpenSnapshot(SnapshotInfo snapshot) => throw new NotSupportedException();
        public long Compact() => 0;
        public IJournalReader OpenReader(long afterSequence) => throw new NotSupportedException();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
