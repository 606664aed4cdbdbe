using Surge.Core;
using Surge.Journal;

namespace Surge.Runtime;

/// <summary>What <see cref="SoldOutScreen.Execute"/> came to: one outcome per command of the batch, and when the
/// part that went to the journal is durable (at once when nothing did).</summary>
public readonly record struct ScreenedBatch(BatchReply Reply, Task Durable, int RefusedWithoutJournal);

/// <summary>
/// Answers orders that can only be refused without a journal write and without waiting for a group commit — the
/// millions of "sold out" answers of a flash sale, as cheaply as an in-memory store answers them — and sends the
/// rest of each batch to the partition as usual. One per partition, used in the partition's single-writer turn
/// for every batch it applies (so it sees every change of stock).
/// <para>
/// The rule. A SKU is <em>durably sold out</em> when the partition refused an order for it with
/// <c>insufficient_stock</c>, its total available units (all warehouses) were 0 after that batch and after every
/// batch since, and that batch is durable: the journaled state then has no unit of it either, whatever a crash
/// takes back. An unkeyed placement is refused here when one of its lines names such a SKU, no unpaid hold can expire
/// at the batch's time, neither in the engine nor in the journaled state (an expiry would give units back first; a
/// hold paid in a batch not yet durable is still pending in the journaled state), and every check the engine
/// makes before stock would pass or is about this SKU being short (the order id is new, lines and quantities are
/// valid, each SKU is the seller's, a flash sale has started, a buyer limit is not reached, no SKU appears twice).
/// Anything else goes to the engine, which decides as always. So the answer is the one the engine would give on the
/// journaled state, and an order the journaled state could accept is never refused here.
/// </para>
/// <para>A keyed placement always goes to the engine: its answer is part of the partition's state (a retry must get
/// it again after a crash), so it has to be journaled.</para>
/// </summary>
public sealed class SoldOutScreen(DurablePartition partition)
{
    /// <summary>Sold-out SKUs remembered per partition, in SKUs; beyond it further ones simply take the journaled path.</summary>
    public const int SoldOutSkusMax = 4_096;

    private readonly Dictionary<int, Task> _soldOut = [];
    private readonly List<int> _restocked = [];
    private readonly CommandWriter _rest = new(64 * 1024);
    private readonly Queue<(Task Durable, long NextExpiryMs)> _undurable = new();
    private long _observedSequence = partition.Journal.LastSequence;

    // The earliest hold deadline of the journaled state (the state after the last durable batch): a hold that is
    // pending there may be paid or cancelled in a batch not yet durable, but a crash would bring it back, and its
    // expiry would return units. No refusal here at or past this time.
    private long _durableNextExpiryMs = partition.Engine.NextExpiryMs ?? long.MaxValue;

    public DurablePartition Partition => partition;

    /// <summary>Orders answered without the journal since this screen was made.</summary>
    public long RefusedWithoutJournal { get; private set; }

    /// <summary>SKUs known durably sold out now (at most <see cref="SoldOutSkusMax"/>).</summary>
    public int SoldOutSkus => _soldOut.Count;

    private Engine Engine => partition.Engine;

    /// <summary>Applies and journals a batch that is not screened (ticks, catalog writes), keeping track of stock.</summary>
    public AppendTicket Submit(ReadOnlySpan<byte> batch)
    {
        Forget();
        var ticket = partition.Submit(batch);
        Observe(batch, ticket);
        return ticket;
    }

    /// <summary>Answers what can only be refused, and applies and journals the rest (the whole batch when nothing is
    /// refused). The reply has one outcome per command of <paramref name="batch"/>, in its order.</summary>
    public ScreenedBatch Execute(ReadOnlySpan<byte> batch)
    {
        Forget();
        var count = BatchFormat.ReadCommandCount(batch);
        var nowMs = Math.Max(Engine.NowMs, BatchFormat.ReadNowMs(batch));
        var refused = 0;
        var outcomes = _soldOut.Count == 0 || Engine.NextExpiryMs <= nowMs || DurableNextExpiryMs() <= nowMs || !Validated(batch)
            ? null
            : Screen(batch, count, nowMs, out refused);
        if (outcomes is null)
        {
            var ticket = partition.Submit(batch);
            var whole = BatchReply.Capture(Engine);
            Observe(batch, ticket);
            return new ScreenedBatch(whole, ticket.Durable, 0);
        }

        RefusedWithoutJournal += refused;
        if (refused == count)
        {
            return new ScreenedBatch(new BatchReply(outcomes, []), Task.CompletedTask, refused);
        }

        var commands = batch[CommandWriter.BatchHeaderBytes..];
        var reader = new CommandReader(commands);
        _rest.Begin(BatchFormat.ReadNowMs(batch));
        for (var i = 0; i < count; i++)
        {
            var start = reader.Position;
            BatchFormat.NextCommand(ref reader, i);
            if (outcomes[i].Kind == Undecided)
            {
                _rest.Encoded(commands[start..reader.Position]);
            }
        }
        var restTicket = partition.Submit(_rest.Written);
        var engineOutcomes = Engine.Outcomes;
        var next = 0;
        for (var i = 0; i < count; i++)
        {
            if (outcomes[i].Kind == Undecided)
            {
                outcomes[i] = engineOutcomes[next++];
            }
        }
        var reply = new BatchReply(outcomes, Engine.Events.ToArray());
        Observe(_rest.Written, restTicket);
        return new ScreenedBatch(reply, restTicket.Durable, refused);
    }

    /// <summary>If a batch reached the partition without passing here, what was known may no longer hold: start over
    /// (nothing is refused here until a batch seen here is durable again).</summary>
    private void Forget()
    {
        if (partition.Journal.LastSequence != _observedSequence)
        {
            _soldOut.Clear();
            _undurable.Clear();
            _durableNextExpiryMs = long.MinValue;
        }
    }

    private long DurableNextExpiryMs()
    {
        while (_undurable.TryPeek(out var batch) && batch.Durable.IsCompletedSuccessfully)
        {
            _durableNextExpiryMs = batch.NextExpiryMs;
            _undurable.Dequeue();
        }
        return _durableNextExpiryMs;
    }

    /// <summary>Validates before the screen reads commands; a malformed batch goes to the engine, which refuses it whole.</summary>
    private static bool Validated(ReadOnlySpan<byte> batch)
    {
        try
        {
            BatchFormat.Validate(batch);
            return true;
        }
        catch (MalformedBatchException)
        {
            return false;
        }
    }

    /// <summary>Marks a command not refused here: the engine's outcome takes its place.</summary>
    private const CommandKind Undecided = (CommandKind)255;

    /// <summary>Decides each command of a validated batch once: null when none can only be refused; otherwise one outcome
    /// per command, the refusals filled in and the others <see cref="Undecided"/>.</summary>
    private CommandOutcome[]? Screen(ReadOnlySpan<byte> batch, int count, long nowMs, out int refused)
    {
        CommandOutcome[]? outcomes = null;
        refused = 0;
        var commands = batch[CommandWriter.BatchHeaderBytes..];
        var reader = new CommandReader(commands);
        for (var i = 0; i < count; i++)
        {
            var start = reader.Position;
            BatchFormat.NextCommand(ref reader, i);
            if (CanOnlyRefuse(commands[start..reader.Position], nowMs, out var orderId))
            {
                if (outcomes is null)
                {
                    outcomes = new CommandOutcome[count];
                    Array.Fill(outcomes, new CommandOutcome { Kind = Undecided });
                }
                outcomes[i] = new CommandOutcome { Kind = CommandKind.PlaceOrder, Ref = orderId, Reason = RejectReason.InsufficientStock };
                refused++;
            }
        }
        return outcomes;
    }

    /// <summary>True when <paramref name="command"/> is an unkeyed placement that the engine would refuse with
    /// <c>insufficient_stock</c> on the journaled state (see the class summary for the rule).</summary>
    private bool CanOnlyRefuse(ReadOnlySpan<byte> command, long nowMs, out long orderId)
    {
        orderId = 0;
        if ((CommandKind)command[0] != CommandKind.PlaceOrder)
        {
            return false;
        }
        var reader = new CommandReader(command[1..]);
        orderId = reader.I64();
        reader.Skip(8); // parent
        var buyerId = reader.I64();
        var sellerId = reader.I64();
        var expiresAtMs = reader.I64();
        reader.Skip(4 + 2); // ship region, country
        int lineCount = reader.U8();
        // The engine's checks before any line, in its order: each would answer something other than insufficient_stock.
        if (orderId == 0 || Engine.GetOrderStatus(orderId) != OrderStatus.None || lineCount is 0 or > Limits.LinesPerOrderMax
            || expiresAtMs <= nowMs || Engine.OrderCount >= Limits.OrdersMax)
        {
            return false;
        }
        var lines = command[CommandWriter.PlaceOrderFixedBytes..]; // the fixed part counts the kind byte
        for (var line = 0; line < lineCount; line++)
        {
            var sku = reader.I32();
            var quantity = reader.I32();
            if ((uint)sku >= (uint)Engine.SkuCount || Engine.GetSku(sku).SellerId != sellerId
                || quantity is <= 0 or > Limits.QuantityPerLineMax || AppearsEarlier(lines, line, sku))
            {
                return false;
            }
            if (Engine.GetFlashSale(sku) is var (startsAtMs, perBuyerLimit)
                && (nowMs < startsAtMs || perBuyerLimit > 0 && Engine.BuyerUnits(buyerId, sku) + quantity > perBuyerLimit))
            {
                return false;
            }
            if (_soldOut.TryGetValue(sku, out var since) && since.IsCompletedSuccessfully)
            {
                return true; // the engine would reserve the lines before this one, then fail here and roll them back
            }
        }
        return false;
    }

    /// <summary>Whether line <paramref name="line"/>'s SKU is also on an earlier line (a buyer limit then counts both,
    /// which this screen does not model: such an order goes to the engine).</summary>
    private static bool AppearsEarlier(ReadOnlySpan<byte> lines, int line, int sku)
    {
        for (var earlier = 0; earlier < line; earlier++)
        {
            if (System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(lines[(earlier * CommandWriter.OrderLineBytes)..]) == sku)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>After a batch: SKUs that have units again are no longer sold out; SKUs an order was just refused for,
    /// with nothing available, are sold out once this batch is durable.</summary>
    private void Observe(ReadOnlySpan<byte> batch, AppendTicket ticket)
    {
        _observedSequence = ticket.Sequence;
        _undurable.Enqueue((ticket.Durable, Engine.NextExpiryMs ?? long.MaxValue));
        DurableNextExpiryMs(); // lets go of what is durable already: the queue holds only batches still syncing
        if (_soldOut.Count > 0)
        {
            _restocked.Clear();
            foreach (var sku in _soldOut.Keys)
            {
                if (Engine.GetStockTotals(sku).Available > 0)
                {
                    _restocked.Add(sku);
                }
            }
            foreach (var sku in _restocked)
            {
                _soldOut.Remove(sku);
            }
        }

        var outcomes = Engine.Outcomes;
        var any = false;
        foreach (ref readonly var outcome in outcomes)
        {
            any |= outcome.Kind == CommandKind.PlaceOrder && outcome.Reason == RejectReason.InsufficientStock;
        }
        if (!any)
        {
            return;
        }
        var marker = new ShortSkuMarker(this, ticket.Durable);
        var commands = batch[CommandWriter.BatchHeaderBytes..];
        var reader = new CommandReader(commands);
        for (var i = 0; i < outcomes.Length; i++)
        {
            marker.Active = outcomes[i].Kind == CommandKind.PlaceOrder && outcomes[i].Reason == RejectReason.InsufficientStock;
            BatchFormat.NextCommand(ref reader, i, ref marker);
        }
    }

    private void MarkIfNoneLeft(int sku, Task durable)
    {
        if (_soldOut.Count < SoldOutSkusMax && !_soldOut.ContainsKey(sku)
            && (uint)sku < (uint)Engine.SkuCount && Engine.GetStockTotals(sku).Available <= 0)
        {
            _soldOut.Add(sku, durable);
        }
    }

    /// <summary>Sees the lines of the placements refused for stock in a batch (<see cref="Active"/> set for those).</summary>
    private struct ShortSkuMarker(SoldOutScreen screen, Task durable) : ILineVisitor
    {
        public bool Active;

        public readonly void Order(long orderId)
        {
        }

        public readonly void Line(int sku)
        {
            if (Active)
            {
                screen.MarkIfNoneLeft(sku, durable);
            }
        }
    }
}
