using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Surge.Core;
using Surge.Journal;

namespace Surge.Runtime;

/// <summary>Where a runner's batches go: applied and journaled by one partition, wherever it lives (in this
/// process, or in an Orleans grain). The returned task completes once the batch's journal record is durable.</summary>
public interface IBatchSink
{
    /// <summary>Applies and journals one stamped batch. The sink must be done reading <paramref name="batch"/>
    /// when this method returns (the caller reuses the buffer); the task completes when the record is durable.</summary>
    Task<BatchReply> ExecuteAsync(ReadOnlySpan<byte> batch);
}

/// <summary>The engine's answer to one batch: one outcome per command and the events they produced (indexes
/// as in <see cref="Engine.Outcomes"/>). Packs into bytes to cross a process boundary unchanged.</summary>
public sealed class BatchReply(CommandOutcome[] outcomes, EngineEvent[] events)
{
    public CommandOutcome[] Outcomes { get; } = outcomes;
    public EngineEvent[] Events { get; } = events;

    public CommandResult Result(int command)
    {
        var outcome = Outcomes[command];
        return new CommandResult(outcome, Events.AsMemory(outcome.FirstEvent, outcome.EventCount));
    }

    /// <summary>Copies the outcomes and events of the engine's last batch.</summary>
    public static BatchReply Capture(Engine engine) => new(engine.Outcomes.ToArray(), engine.Events.ToArray());

    /// <summary><c>outcome_count:i32 | event_count:i32 | outcomes | events</c>, the structs' own little-endian layout.</summary>
    public byte[] Pack()
    {
        var outcomeBytes = MemoryMarshal.AsBytes(Outcomes.AsSpan());
        var eventBytes = MemoryMarshal.AsBytes(Events.AsSpan());
        var packed = new byte[8 + outcomeBytes.Length + eventBytes.Length];
        BinaryPrimitives.WriteInt32LittleEndian(packed, Outcomes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(packed.AsSpan(4), Events.Length);
        outcomeBytes.CopyTo(packed.AsSpan(8));
        eventBytes.CopyTo(packed.AsSpan(8 + outcomeBytes.Length));
        return packed;
    }

    public static BatchReply Unpack(ReadOnlySpan<byte> packed)
    {
        var outcomeCount = BinaryPrimitives.ReadInt32LittleEndian(packed);
        var eventCount = BinaryPrimitives.ReadInt32LittleEndian(packed[4..]);
        var outcomeBytes = outcomeCount * System.Runtime.CompilerServices.Unsafe.SizeOf<CommandOutcome>();
        if (outcomeCount < 0 || eventCount < 0 || packed.Length != 8 + outcomeBytes + eventCount * System.Runtime.CompilerServices.Unsafe.SizeOf<EngineEvent>())
        {
            throw new ArgumentException("not a packed batch reply", nameof(packed));
        }
        var outcomes = MemoryMarshal.Cast<byte, CommandOutcome>(packed.Slice(8, outcomeBytes)).ToArray();
        var events = MemoryMarshal.Cast<byte, EngineEvent>(packed[(8 + outcomeBytes)..]).ToArray();
        return new BatchReply(outcomes, events);
    }
}

/// <summary>The answers to a group of consecutive commands of one batch (see <see cref="PartitionRunner.SubmitGroupAsync"/>).</summary>
public readonly record struct CommandGroup(BatchReply Reply, int First, int Count)
{
    public CommandOutcome Outcome(int index) => Reply.Outcomes[First + index];

    public CommandResult Result(int index) => Reply.Result(First + index);
}

/// <summary>A partition in this process: answers what can only be refused at once (<see cref="SoldOutScreen"/>),
/// applies the rest to the engine, journals the same bytes, and answers when the record is durable (see <see cref="DurablePartition.Submit"/> for the failure rule).</summary>
public sealed class DurableSink(DurablePartition partition) : IBatchSink
{
    private readonly SoldOutScreen _screen = new(partition);

    public DurablePartition Partition { get; } = partition;

    /// <summary>Orders answered "sold out" without the journal (see <see cref="SoldOutScreen"/>).</summary>
    public long RefusedWithoutJournal => _screen.RefusedWithoutJournal;

    public Task<BatchReply> ExecuteAsync(ReadOnlySpan<byte> batch)
    {
        var screened = _screen.Execute(batch);
        return screened.Durable.IsCompletedSuccessfully ? Task.FromResult(screened.Reply) : WhenDurableAsync(screened.Durable, screened.Reply);
    }

    private static async Task<BatchReply> WhenDurableAsync(Task durable, BatchReply reply)
    {
        await durable.ConfigureAwait(false);
        return reply;
    }
}
