using Surge.Core;
using Surge.Journal;

namespace Surge.Runtime;

/// <summary>Bounds of a partition runner, each with its unit.</summary>
public sealed record RunnerOptions
{
    /// <summary>Commands waiting for the next batch; beyond this a submit is refused at once (overload).</summary>
    public int QueuedCommandsMax { get; init; } = 65_536;

    /// <summary>Commands in one engine batch (and one journal record).</summary>
    public int BatchCommandsMax { get; init; } = 4_096;

    /// <summary>Bytes after which a batch takes no more commands (one command adds at most a few KiB, so a
    /// batch stays far below <see cref="Limits.BatchBytesMax"/>).</summary>
    public int BatchBytesMax { get; init; } = 1024 * 1024;

    /// <summary>Batches applied and journaled but not yet durable; the runner waits before applying more.</summary>
    public int BatchesInFlightMax { get; init; } = 8;

    /// <summary>Whether one failed batch stops the runner for good (the sink's partition diverged from its
    /// journal and must be recovered). False when the sink recovers by itself — a partition grain in a
    /// cluster re-activates on another silo from the shared journal — so only the failed batch's callers
    /// get the error and the next batch goes to the new activation.</summary>
    public bool FailureIsPermanent { get; init; } = true;
}

/// <summary>What one command came to: its outcome, and the events it produced (a slice of its batch's reply).</summary>
public readonly record struct CommandResult(CommandOutcome Outcome, ReadOnlyMemory<EngineEvent> Events);

/// <summary>The partition's queue is full: answer 429 with Retry-After, do not wait.</summary>
public sealed class PartitionOverloadedException(string message) : Exception(message);

/// <summary>
/// Runs one partition for many concurrent callers. Commands are queued (bounded), collected into a batch
/// whenever the partition is free (so a lone command goes at once and a crowd shares one batch), stamped with
/// the clock and handed to the partition's <see cref="IBatchSink"/> (applied and journaled as one record);
/// each caller's task completes with its command's result only when the sink says that record is durable.
/// The next batch goes while earlier ones are still being synced, up to
/// <see cref="RunnerOptions.BatchesInFlightMax"/>; the journal's group commit then writes them together. If
/// the sink fails, every pending and later command fails until the partition is recovered.
/// </summary>
public sealed class PartitionRunner : IAsyncDisposable
{
    private readonly IBatchSink _sink;
    private readonly RunnerOptions _options;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _inFlight;

    // Guarded by _gate.
    private readonly Queue<Pending> _full = new();
    private readonly Stack<CommandWriter> _writers = new();
    private Pending _open;
    private int _queued;
    private bool _draining; // a caller (or a continuation) is taking batches; the others only queue
    private TaskCompletionSource? _drained; // set when draining stops after close
    private bool _closed;
    private Exception? _failure;

    /// <summary>A caller waiting for one command (<see cref="TaskCompletionSource{CommandResult}"/>) or for a group of
    /// consecutive commands (<see cref="TaskCompletionSource{CommandGroup}"/>) of a batch.</summary>
    /// <summary>The caller's trace context (default when nobody traces): the batch's span links every caller in it.</summary>
    private readonly record struct Waiter(object Completion, int First, int Count, System.Diagnostics.ActivityContext Trace)
    {
        public void Complete(BatchReply reply)
        {
            if (Completion is TaskCompletionSource<CommandResult> single)
            {
                single.TrySetResult(reply.Result(First));
            }
            else
            {
                ((TaskCompletionSource<CommandGroup>)Completion).TrySetResult(new CommandGroup(reply, First, Count));
            }
        }

        public void Fail(Exception cause)
        {
            if (Completion is TaskCompletionSource<CommandResult> single)
            {
                single.TrySetException(cause);
            }
            else
            {
                ((TaskCompletionSource<CommandGroup>)Completion).TrySetException(cause);
            }
        }
    }

    private sealed class Pending(CommandWriter writer)
    {
        public CommandWriter Writer { get; } = writer;
        public List<Waiter> Waiters { get; } = [];
        public int Commands => Writer.CommandCount;
    }

    /// <summary>A runner that applies batches to a partition in this process (<see cref="DurableSink"/>).</summary>
    public PartitionRunner(DurablePartition partition, RunnerOptions? options = null, TimeProvider? clock = null)
        : this(new DurableSink(partition), options, clock)
    {
    }

    public PartitionRunner(IBatchSink sink, RunnerOptions? options = null, TimeProvider? clock = null)
    {
        _sink = sink;
        _options = options ?? new RunnerOptions();
        if (_options.BatchCommandsMax is < 1 or > Limits.CommandsPerBatchMax || _options.BatchBytesMax > Limits.BatchBytesMax / 2
            || _options.QueuedCommandsMax < 1 || _options.BatchesInFlightMax < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options, "runner bounds out of range");
        }
        _clock = clock ?? TimeProvider.System;
        _inFlight = new SemaphoreSlim(_options.BatchesInFlightMax);
        _open = new Pending(RentWriter());
    }

    public IBatchSink Sink => _sink;

    /// <summary>Commands queued and not yet applied.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queued;
            }
        }
    }

    /// <summary>Queues one command, written by <paramref name="encode"/> (exactly one call on the writer).
    /// Throws <see cref="PartitionOverloadedException"/> at once when the queue is full.</summary>
    public Task<CommandResult> SubmitAsync(Action<CommandWriter> encode)
    {
        var waiter = new TaskCompletionSource<CommandResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(waiter, 1, encode);
        return waiter.Task;
    }

    /// <summary>Queues <paramref name="count"/> commands written together by <paramref name="encode"/>; they go
    /// in the same batch, and one task answers them all (far cheaper per command than one task each).
    /// The whole group is refused when it does not fit the queue.</summary>
    public Task<CommandGroup> SubmitGroupAsync(int count, Action<CommandWriter> encode)
    {
        if (count < 1 || count > _options.BatchCommandsMax)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"a group is 1..{_options.BatchCommandsMax} commands");
        }
        var waiter = new TaskCompletionSource<CommandGroup>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(waiter, count, encode);
        return waiter.Task;
    }

    private void Enqueue(object completion, int count, Action<CommandWriter> encode)
    {
        bool wake;
        lock (_gate)
        {
            if (_failure is not null)
            {
                throw new InvalidOperationException("the partition failed and must be recovered", _failure);
            }
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_queued + count > _options.QueuedCommandsMax)
            {
                throw new PartitionOverloadedException($"{_queued} commands are queued (bound {_options.QueuedCommandsMax})");
            }
            if (_open.Commands + count > _options.BatchCommandsMax || _open.Writer.Length >= _options.BatchBytesMax)
            {
                _full.Enqueue(_open);
                _open = new Pending(RentWriter());
            }
            var writer = _open.Writer;
            var (first, length) = (writer.CommandCount, writer.Length);
            try
            {
                encode(writer);
            }
            catch
            {
                writer.Truncate(first, length); // nothing half-written stays in the batch
                throw;
            }
            if (writer.CommandCount != first + count)
            {
                writer.Truncate(first, length);
                throw new ArgumentException($"encode must write exactly {count} command(s)", nameof(encode));
            }
            _open.Waiters.Add(new Waiter(completion, first, count, RunnerTelemetry.Enabled ? System.Diagnostics.Activity.Current?.Context ?? default : default));
            _queued += count;
            wake = !_draining;
            _draining = true;
        }
        if (wake)
        {
            // The caller that found nobody draining takes the batches itself: no hop to another thread before the
            // batch reaches its sink. It stops when the queue is empty or every in-flight slot is taken (then the
            // completion that frees a slot goes on).
            Drain(haveSlot: false);
        }
    }

    private CommandWriter RentWriter() => (_writers.Count > 0 ? _writers.Pop() : new CommandWriter(64 * 1024)).Begin(0);

    /// <summary>Takes and applies batches while there are queued commands and an in-flight slot; called only by whoever
    /// set <see cref="_draining"/>, which it clears when the queue is empty.</summary>
    private void Drain(bool haveSlot)
    {
        while (true)
        {
            // Take a batch only once it can go: commands keep gathering (and the bound keeps holding) while earlier
            // batches wait for the disk.
            if (!haveSlot && !_inFlight.Wait(0))
            {
                _ = DrainWhenASlotFreesAsync();
                return;
            }
            haveSlot = false;
            Pending? batch;
            TaskCompletionSource? drained = null;
            lock (_gate)
            {
                batch = TakeBatch();
                if (batch is null)
                {
                    _draining = false;
                    drained = _closed ? _drained : null;
                }
            }
            if (batch is null)
            {
                _inFlight.Release();
                drained?.TrySetResult();
                return;
            }
            Apply(batch);
        }
    }

    private async Task DrainWhenASlotFreesAsync()
    {
        await _inFlight.WaitAsync().ConfigureAwait(false);
        Drain(haveSlot: true);
    }

    /// <summary>The oldest queued batch (the open one if no full one waits), or null when nothing is queued. Under the gate.</summary>
    private Pending? TakeBatch()
    {
        Pending batch;
        if (_full.Count > 0)
        {
            batch = _full.Dequeue();
        }
        else if (_open.Commands > 0)
        {
            batch = _open;
            _open = new Pending(RentWriter());
        }
        else
        {
            return null;
        }
        _queued -= batch.Commands;
        return batch;
    }

    private void Apply(Pending batch)
    {
        batch.Writer.Stamp(_clock.GetUtcNow().ToUnixTimeMilliseconds());
        Task<BatchReply> reply;
        var previous = System.Diagnostics.Activity.Current;
        var span = RunnerTelemetry.Enabled ? RunnerTelemetry.StartBatch(batch.Waiters.Select(w => w.Trace), batch.Commands) : null;
        try
        {
            reply = _sink.ExecuteAsync(batch.Writer.Written); // within the batch's span: the partition's own spans are its children
        }
        catch (Exception e)
        {
            _inFlight.Release();
            FailAll(batch.Waiters, e);
            RunnerTelemetry.End(span, e);
            return;
        }
        finally
        {
            if (span is not null)
            {
                System.Diagnostics.Activity.Current = previous; // the span ends when the batch is durable, not here
            }
        }
        lock (_gate)
        {
            _writers.Push(batch.Writer); // the sink is done with the bytes once it returned
        }
        _ = CompleteAsync(reply, batch.Waiters, batch.Commands, span);
    }

    private async Task CompleteAsync(Task<BatchReply> pending, List<Waiter> waiters, int commands, System.Diagnostics.Activity? span)
    {
        BatchReply reply;
        try
        {
            reply = await pending.ConfigureAwait(false);
            RunnerTelemetry.End(span, null);
        }
        catch (Exception e)
        {
            RunnerTelemetry.End(span, e);
            FailAll(waiters, e);
            return;
        }
        finally
        {
            _inFlight.Release();
        }
        if (reply.Outcomes.Length != commands)
        {
            FailAll(waiters, new InvalidOperationException($"the sink answered {reply.Outcomes.Length} outcomes for {commands} commands"));
            return;
        }
        foreach (var waiter in waiters)
        {
            waiter.Complete(reply);
        }
    }

    private void FailAll(List<Waiter> waiters, Exception cause)
    {
        var queued = new List<Waiter>();
        lock (_gate)
        {
            if (_options.FailureIsPermanent)
            {
                _failure ??= cause;
            }
            while (_full.TryDequeue(out var pending))
            {
                queued.AddRange(pending.Waiters);
            }
            queued.AddRange(_open.Waiters);
            _open = new Pending(RentWriter());
            _queued = 0;
        }
        foreach (var waiter in waiters.Concat(queued))
        {
            waiter.Fail(cause);
        }
    }

    /// <summary>Stops accepting commands, finishes the queued ones, and waits until they are durable.</summary>
    public async ValueTask DisposeAsync()
    {
        Task drained;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _draining ? _drained.Task : Task.CompletedTask;
        }
        await drained.ConfigureAwait(false);
        for (var i = 0; i < _options.BatchesInFlightMax; i++)
        {
            await _inFlight.WaitAsync().ConfigureAwait(false);
        }
    }
}
