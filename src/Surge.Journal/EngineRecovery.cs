using Surge.Core;

namespace Surge.Journal;

/// <summary>What a recovery did: where it started and how much it replayed.</summary>
public readonly record struct RecoveryReport(long SnapshotSequence, long ReplayedRecords, long LastSequence);

/// <summary>
/// One partition made durable: the engine applies a batch, the same bytes are appended to the journal, and
/// the caller acknowledges only after <see cref="AppendTicket.Durable"/> completes. Single-threaded, like
/// the engine it wraps. Recovery = newest snapshot + replay of the records after it.
/// </summary>
public sealed class DurablePartition
{
    private DurablePartition(Engine engine, IJournal journal, RecoveryReport report)
    {
        Engine = engine;
        Journal = journal;
        Recovery = report;
    }

    private Task _lastDurable = Task.CompletedTask;

    public Engine Engine { get; }
    public IJournal Journal { get; }
    public RecoveryReport Recovery { get; }

    public static DurablePartition Recover(IJournal journal, EngineOptions? options = null)
    {
        var snapshot = journal.LatestSnapshot;
        Engine engine;
        if (snapshot is null)
        {
            engine = new Engine(options);
        }
        else
        {
            using var stream = journal.OpenSnapshot(snapshot);
            engine = Engine.ReadSnapshot(stream);
        }
        long replayed = 0;
        journal.Replay(snapshot?.Sequence ?? 0, (_, payload) =>
        {
            engine.Apply(payload);
            replayed++;
        });
        return new DurablePartition(engine, journal, new RecoveryReport(snapshot?.Sequence ?? 0, replayed, journal.LastSequence));
    }

    /// <summary>Applies the batch, then journals it. Outcomes are in <see cref="Engine.Outcomes"/> at once;
    /// they may be shown to a client only after the ticket's durable task completes.</summary>
    public AppendTicket Submit(ReadOnlySpan<byte> batch)
    {
        Engine.Apply(batch);
        var ticket = Journal.Append(batch);
        _lastDurable = ticket.Durable;
        return ticket;
    }

    /// <summary>Writes a snapshot of the current state (after the last appended record) once that record is
    /// durable, then compacts what the snapshot made unnecessary. The engine must not change meanwhile.</summary>
    public async Task SnapshotAsync(CancellationToken cancellationToken = default)
    {
        var sequence = Journal.LastSequence;
        await _lastDurable.ConfigureAwait(false);
        await Journal.WriteSnapshotAsync(sequence, Engine.WriteSnapshot, cancellationToken).ConfigureAwait(false);
        Journal.Compact();
    }
}
