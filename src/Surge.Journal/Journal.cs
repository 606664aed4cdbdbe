namespace Surge.Journal;

/// <summary>Where an appended record stands: its sequence number is known at once, and
/// <see cref="Durable"/> completes when it is on stable storage (or faults if it never will be).</summary>
public readonly record struct AppendTicket(long Sequence, Task Durable);

/// <summary>Receives records in sequence order during replay. The payload span is valid only during the call.</summary>
public delegate void RecordVisitor(long sequence, ReadOnlySpan<byte> payload);

/// <summary>A snapshot found in the journal: the state after applying every record up to <see cref="Sequence"/>.</summary>
public sealed record SnapshotInfo(long Sequence, long Bytes, string Name);

/// <summary>
/// An append-only, durable, sequenced record log with snapshots: the contract every journal backend
/// (local segment files, PostgreSQL in cluster mode) fulfils and that JournalContractTests checks.
/// Appends may come from many threads; <see cref="AppendTicket.Durable"/> completes in sequence order.
/// </summary>
public interface IJournal : IAsyncDisposable
{
    /// <summary>Sequence number of the last record appended (durable or not); 0 when empty.</summary>
    long LastSequence { get; }

    /// <summary>Sequence number of the last record known durable.</summary>
    long DurableSequence { get; }

    /// <summary>Copies <paramref name="payload"/> into the journal and assigns it the next sequence number.
    /// Throws <see cref="JournalUnavailableException"/> at once if the journal has failed or is closed, and
    /// <see cref="JournalBackpressureException"/> when the bound on pending bytes is reached.</summary>
    AppendTicket Append(ReadOnlySpan<byte> payload);

    /// <summary>Visits every durable record with a sequence number greater than <paramref name="afterSequence"/>.
    /// Throws <see cref="JournalGapException"/> when those records were already compacted away. One replay at a
    /// time per journal (recovery and readers take turns); appends may continue meanwhile.</summary>
    void Replay(long afterSequence, RecordVisitor visitor);

    /// <summary>Durably stores a snapshot of the state after record <paramref name="sequence"/>.</summary>
    Task WriteSnapshotAsync(long sequence, Action<Stream> write, CancellationToken cancellationToken = default);

    /// <summary>The newest valid snapshot, or null.</summary>
    SnapshotInfo? LatestSnapshot { get; }

    /// <summary>Opens a snapshot for reading. Its checksum is verified as it is read: reading to the end throws
    /// <see cref="JournalCorruptException"/> if the payload was damaged.</summary>
    Stream OpenSnapshot(SnapshotInfo snapshot);

    /// <summary>Deletes records and snapshots no longer needed to recover from the newest snapshot, keeping
    /// the one before it as a fallback, and keeping every record an open reader has not released. Returns the
    /// number of records removed.</summary>
    long Compact();

    /// <summary>Opens a reader that visits the durable records after <paramref name="afterSequence"/> in order,
    /// while appends go on (downstream stages tail a partition's journal this way). Until the reader releases
    /// them (<see cref="IJournalReader.Release"/>) or is disposed, compaction keeps those records. Throws
    /// <see cref="JournalGapException"/> when records after <paramref name="afterSequence"/> were compacted away.</summary>
    IJournalReader OpenReader(long afterSequence);
}

/// <summary>A tail of a journal: durable records in sequence order, never one that is not durable yet.
/// One thread at a time per reader.</summary>
public interface IJournalReader : IDisposable
{
    /// <summary>Sequence number of the last record visited (the opening position before the first).</summary>
    long Position { get; }

    /// <summary>Visits up to <paramref name="maxRecords"/> durable records after <see cref="Position"/> and
    /// returns how many it visited; 0 means the reader has caught up with the durable end.</summary>
    int Read(int maxRecords, RecordVisitor visitor);

    /// <summary>Says that records up to <paramref name="throughSequence"/> are no longer needed (the consumer
    /// made its progress durable past them), so compaction may remove them. Never moves backwards.</summary>
    void Release(long throughSequence);
}

/// <summary>Bounds of a journal, each with its unit.</summary>
public sealed record JournalOptions
{
    /// <summary>A segment is closed and a new one started once it reaches this size.</summary>
    public long SegmentBytesMax { get; init; } = 128L * 1024 * 1024;

    /// <summary>Zero-fill each segment to <see cref="SegmentBytesMax"/> ahead of use (in the background), so
    /// that group commits overwrite allocated blocks instead of growing the file.</summary>
    public bool PreallocateSegments { get; init; } = true;

    /// <summary>Most bytes appended but not yet durable; appends beyond it are refused (backpressure).</summary>
    public long PendingBytesMax { get; init; } = 64L * 1024 * 1024;

    /// <summary>Segments freed by compaction that are kept (renamed *.free) to be reused instead of zero-filling
    /// new ones; beyond this many they are deleted.</summary>
    public int FreeSegmentsMax { get; init; } = 4;

    /// <summary>Snapshots kept: the newest and fallbacks.</summary>
    public int SnapshotsKept { get; init; } = 2;

    /// <summary>Zero-fill spare segments on a thread of their own (true) or on the journal's writer thread when a
    /// segment is started (false). False puts every write in one order, so a simulated crash at byte N of a seed
    /// always hits the same write; servers keep true (a spare being zero-filled must not hold up group commits).</summary>
    public bool BackgroundFileWork { get; init; } = true;

    /// <summary>When set, this journal's group commits are made by a committer shared with the other journals of the
    /// node — one thread, one device flush per round for all of them — instead of by a writer thread of its own.
    /// The committer must outlive the journal.</summary>
    public GroupCommitter? Committer { get; init; }
}

public class JournalException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A write or sync failed; records not yet durable were not acknowledged and never will be.</summary>
public sealed class JournalWriteException(string message, Exception? inner = null) : JournalException(message, inner);

/// <summary>The journal failed earlier or was closed: nothing more can be appended until it is reopened.</summary>
public sealed class JournalUnavailableException(string message, Exception? inner = null) : JournalException(message, inner);

/// <summary>Too many bytes are waiting for the disk; retry later.</summary>
public sealed class JournalBackpressureException(string message) : JournalException(message);

/// <summary>Records needed for replay are missing (compacted, or a segment was removed by hand).</summary>
public sealed class JournalGapException(string message) : JournalException(message);

/// <summary>A record or snapshot failed validation somewhere other than the torn tail: start-up must stop.</summary>
public sealed class JournalCorruptException(string file, long offset, string reason)
    : JournalException($"journal corrupt in {file} at byte offset {offset}: {reason}")
{
    public string File { get; } = file;
    public long Offset { get; } = offset;
    public string Reason { get; } = reason;
}
