using Microsoft.IO;
using Surge.Core;

namespace Surge.Journal;

/// <summary>What a recovery did: where it started, how much it replayed, and how long each part took.</summary>
public readonly record struct RecoveryReport(long SnapshotSequence, long ReplayedRecords, long LastSequence, TimeSpan SnapshotLoad, TimeSpan Replay);

/// <summary>When to snapshot: once this many journal bytes were appended since the last snapshot, which
/// bounds the replay part of recovery.</summary>
public sealed record SnapshotPolicy(long SnapshotEveryBytes = 128L * 1024 * 1024);

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
    private long _bytesSinceSnapshot;
    private bool _diverged;

    public Engine Engine { get; }
    public IJournal Journal { get; }
    public RecoveryReport Recovery { get; }

    public SnapshotPolicy Policy { get; set; } = new();

    /// <summary>Completes once every batch applied so far is durable; faults if one of them failed. The engine shows
    /// applied batches at once, before they are durable: whatever a reader of the engine tells a client (or acts on)
    /// must wait for this first, or a crash could take back what it showed (a payment seen, then lost).</summary>
    public Task AppliedDurable => _lastDurable;

    /// <summary>True once the policy says a snapshot is due.</summary>
    public bool SnapshotDue => _bytesSinceSnapshot >= Policy.SnapshotEveryBytes;

    public static DurablePartition Recover(IJournal journal, EngineOptions? options = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
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
            if (stream.ReadByte() != -1) // reaching the end verifies the checksum
            {
                throw new JournalCorruptException(snapshot.Name, snapshot.Bytes, "snapshot has bytes after the engine state");
            }
        }
        var snapshotLoad = clock.Elapsed;
        long replayed = 0;
        journal.Replay(snapshot?.Sequence ?? 0, (_, payload) =>
        {
            engine.Apply(payload);
            replayed++;
        });
        var report = new RecoveryReport(snapshot?.Sequence ?? 0, replayed, journal.LastSequence, snapshotLoad, clock.Elapsed - snapshotLoad);
        return new DurablePartition(engine, journal, report);
    }

    /// <summary>
    /// Applies the batch, then journals it. Outcomes are in <see cref="Engine.Outcomes"/> at once; they may be
    /// shown to a client only after the ticket's durable task completes. If the append is refused, or the
    /// durable task faults, the engine holds a batch the journal does not: this instance refuses further
    /// batches, and the partition must be recovered from its journal (<see cref="Recover"/>) before it serves.
    /// </summary>
    public AppendTicket Submit(ReadOnlySpan<byte> batch)
    {
        if (_diverged || _lastDurable.IsFaulted)
        {
            throw new InvalidOperationException("the partition's engine is ahead of its journal after a failed append; recover the partition");
        }
        Engine.Apply(batch);
        AppendTicket ticket;
        try
        {
            ticket = Journal.Append(batch);
        }
        catch
        {
            _diverged = true;
            throw;
        }
        _lastDurable = ticket.Durable;
        _bytesSinceSnapshot += batch.Length;
        return ticket;
    }

    /// <summary>
    /// Snapshots the current state (after the last appended record). The state is captured in memory during
    /// this call — the engine must not change until it returns — and written to the journal in the background
    /// once that record is durable; then what the snapshot made unnecessary is compacted. The returned task
    /// completes when the snapshot is stored. Capturing first means a partition pauses only for an in-memory
    /// copy of its state, not for the disk write and sync of the snapshot file.
    /// </summary>
    public Task SnapshotAsync(CancellationToken cancellationToken = default)
    {
        var sequence = Journal.LastSequence;
        var image = SnapshotImages.GetStream("snapshot");
        try
        {
            Engine.WriteSnapshot(image);
        }
        catch
        {
            image.Dispose();
            throw;
        }
        _bytesSinceSnapshot = 0;
        return PersistAsync(sequence, image, _lastDurable, cancellationToken);
    }

    private async Task PersistAsync(long sequence, RecyclableMemoryStream image, Task durable, CancellationToken cancellationToken)
    {
        using (image)
        {
            await durable.ConfigureAwait(false);
            await Journal.WriteSnapshotAsync(sequence, target =>
            {
                image.Position = 0;
                image.CopyTo(target);
            }, cancellationToken).ConfigureAwait(false);
        }
        Journal.Compact();
    }

    /// <summary>Pooled 128 KiB blocks for captured snapshots; at most 256 MiB of free blocks are kept.</summary>
    private static readonly RecyclableMemoryStreamManager SnapshotImages = new(new RecyclableMemoryStreamManager.Options
    {
        BlockSize = 128 * 1024,
        MaximumSmallPoolFreeBytes = 256L * 1024 * 1024,
    });
}
