using System.Diagnostics;

namespace Surge.Journal;

/// <summary>
/// The local journal: append-only segment files (layout in <see cref="RecordFormat"/>) with group commit.
/// Appenders copy their record into the open group under a short lock and get a ticket; one writer thread
/// takes the whole group, writes it with one write and one fdatasync, then completes every ticket of the
/// group at once. While a sync is in flight new records gather in the next group, so batches grow with load
/// and a lone record under light load is written at once (no timer, nothing is held back). With
/// <see cref="JournalOptions.Committer"/> the journal has no writer thread: a <see cref="GroupCommitter"/> takes its
/// groups together with those of the node's other journals and makes them durable with one device flush.
/// </summary>
public sealed partial class SegmentJournal : IJournal
{
    private const string SpareSegmentName = "next-segment.tmp";
    private const int ZeroChunkBytes = 1024 * 1024;

    private readonly IJournalStorage _storage;
    private readonly JournalOptions _options;
    private readonly Lock _gate = new();
    // No spinning before the writer blocks: with one journal per partition, 16 writers spinning in SemaphoreSlim
    // took a fifth of both cores at light load (measured with perf).
    private readonly ManualResetEventSlim _wakeWriter = new(false, spinCount: 0);
    private readonly object _filesGate = new();
    private readonly List<Segment> _segments;
    private readonly List<SnapshotInfo> _snapshots;
    private readonly Queue<string> _freeSegments = new();
    private readonly Thread? _writer; // null when a shared GroupCommitter writes this journal's groups
    private readonly GroupCommitter? _committer;

    // Guarded by _gate.
    private byte[] _group = new byte[64 * 1024];
    private byte[] _spare = new byte[64 * 1024];
    private int _groupBytes;
    private int _groupRecords;
    private TaskCompletionSource _groupDone = NewGroup();
    private long _lastSequence;
    private long _pendingBytes;
    private bool _writerIdle;
    private bool _closed;
    private Task? _writing; // the group a committer took and has not completed
    private Exception? _failure;

    // Owned by the writer thread, or by the committer's thread under a GroupCommitter (and by Open before, and
    // Dispose after).
    private IStorageFile? _active;
    private long _activeLength;
    private long _activeAllocated; // bytes of the active file that exist already: writes within them change no metadata
    private Task? _spareSegment;
    private long _durableSequence; // read by anyone through Interlocked

    private sealed class Segment(string name, long firstSequence)
    {
        public string Name { get; } = name;
        public long FirstSequence { get; } = firstSequence;
        public long LastSequence { get; set; } = firstSequence - 1;
        public long Length { get; set; } = RecordFormat.SegmentHeaderBytes;
    }

    private SegmentJournal(IJournalStorage storage, JournalOptions options, List<Segment> segments, List<SnapshotInfo> snapshots)
    {
        _storage = storage;
        _options = options;
        _segments = segments;
        _snapshots = snapshots;
        _committer = options.Committer;
        if (_committer is null)
        {
            _writer = new Thread(WriterLoop) { IsBackground = true, Name = "surge-journal-writer" };
        }
    }

    public long LastSequence
    {
        get
        {
            lock (_gate)
            {
                return _lastSequence;
            }
        }
    }

    public long DurableSequence => Interlocked.Read(ref _durableSequence);

    /// <summary>Durations of the group commits since open.</summary>
    public CommitStats Stats { get; } = new();

    /// <summary>Group commits (write + fdatasync) done since open.</summary>
    public long GroupCommits => Stats.Commits;

    public SnapshotInfo? LatestSnapshot
    {
        get
        {
            lock (_filesGate)
            {
                return _snapshots.Count == 0 ? null : _snapshots[^1];
            }
        }
    }

    public AppendTicket Append(ReadOnlySpan<byte> payload)
    {
        if (payload.Length is 0 or > RecordFormat.RecordPayloadBytesMax)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length,
                $"a record holds 1..{RecordFormat.RecordPayloadBytesMax} bytes");
        }
        var size = RecordFormat.RecordHeaderBytes + payload.Length;
        AppendTicket ticket;
        bool wake;
        lock (_gate)
        {
            if (_failure is not null)
            {
                throw new JournalUnavailableException("the journal failed earlier and accepts no appends until reopened", _failure);
            }
            ObjectDisposedException.ThrowIf(_closed, this);
            _committer?.ThrowIfClosed();
            if (_pendingBytes + size > _options.PendingBytesMax)
            {
                throw new JournalBackpressureException($"{_pendingBytes} bytes are waiting for the disk (bound {_options.PendingBytesMax})");
            }
            if (_groupBytes + size > _group.Length)
            {
                Array.Resize(ref _group, Math.Max(_group.Length * 2, _groupBytes + size));
            }
            var sequence = ++_lastSequence;
            RecordFormat.Write(_group.AsSpan(_groupBytes), sequence, payload);
            _groupBytes += size;
            _groupRecords++;
            _pendingBytes += size;
            ticket = new AppendTicket(sequence, _groupDone.Task);
            // A committer is told once per group: when the group's first record arrives.
            wake = _committer is null ? _writerIdle : _groupRecords == 1;
            _writerIdle = false;
        }
        if (wake)
        {
            if (_committer is null)
            {
                _wakeWriter.Set();
            }
            else
            {
                _committer.Ready(this);
            }
        }
        return ticket;
    }

    /// <summary>A group taken for writing: its bytes, its sequence range and the task its appenders wait on.</summary>
    internal sealed class TakenGroup(byte[] buffer, int bytes, long firstSequence, long lastSequence, TaskCompletionSource done)
    {
        public byte[] Buffer { get; } = buffer;
        public int Bytes { get; } = bytes;
        public long FirstSequence { get; } = firstSequence;
        public long LastSequence { get; } = lastSequence;
        public TaskCompletionSource Done { get; } = done;

        /// <summary>The file the group went to, once written.</summary>
        public IStorageFile? File { get; set; }

        /// <summary>The write grew the file, so only that file's own <see cref="IStorageFile.Sync"/> makes it durable.</summary>
        public bool NeedsOwnSync { get; set; }
    }

    /// <summary>The device of this journal's storage (journals on one device share a flush under a
    /// <see cref="GroupCommitter"/>).</summary>
    internal object Device => _storage.Device;

    private void WriterLoop()
    {
        while (TakeGroup() is { } group)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                WriteGroup(group);
                group.File!.Sync();
            }
            catch (Exception e)
            {
                Fail(e, group);
                return;
            }
            Complete(group, started);
        }
    }

    /// <summary>Waits for a non-empty group and swaps it out; null once closed and drained.</summary>
    private TakenGroup? TakeGroup()
    {
        while (true)
        {
            _wakeWriter.Reset(); // before the check, so that a wake-up after it is not lost
            lock (_gate)
            {
                if (_groupBytes > 0 || _closed)
                {
                    break;
                }
                _writerIdle = true;
            }
            _wakeWriter.Wait();
        }
        return TryTakeGroup();
    }

    /// <summary>Swaps out the open group if it has records; null if it is empty.</summary>
    internal TakenGroup? TryTakeGroup()
    {
        lock (_gate)
        {
            if (_groupBytes == 0)
            {
                return null;
            }
            var group = new TakenGroup(_group, _groupBytes, _lastSequence - _groupRecords + 1, _lastSequence, _groupDone);
            _group = _spare;
            _groupBytes = 0;
            _groupRecords = 0;
            _groupDone = NewGroup();
            _writing = group.Done.Task;
            return group;
        }
    }

    /// <summary>Writes a taken group to the active segment (starting the next segment first if it is full), without
    /// making it durable: the caller syncs (or writes back and flushes the device), then calls <see cref="Complete"/>.</summary>
    internal void WriteGroup(TakenGroup group)
    {
        var records = group.Buffer.AsSpan(0, group.Bytes);
        if (_active is null || _activeLength + records.Length > _options.SegmentBytesMax && _activeLength > RecordFormat.SegmentHeaderBytes)
        {
            StartSegment(group.FirstSequence);
        }
        group.NeedsOwnSync = _activeLength + records.Length > _activeAllocated;
        _active!.Write(_activeLength, records);
        _activeLength += records.Length;
        _activeAllocated = Math.Max(_activeAllocated, _activeLength);
        group.File = _active;
    }

    /// <summary>The group is durable: readers may see it, appenders are answered.</summary>
    internal void Complete(TakenGroup group, long startedTimestamp)
    {
        lock (_filesGate)
        {
            var segment = _segments[^1];
            segment.LastSequence = group.LastSequence;
            segment.Length = _activeLength;
        }
        lock (_gate)
        {
            _pendingBytes -= group.Bytes;
            _spare = group.Buffer;
            _writing = null;
        }
        Interlocked.Exchange(ref _durableSequence, group.LastSequence);
        Stats.Record(startedTimestamp);
        group.Done.SetResult();
    }

    /// <summary>Closes the active segment and starts the next one: a segment freed by compaction if there is one
    /// (its blocks are written already, and its stale records end the scan because their sequence numbers
    /// are older than the segment's first), else the spare that was zero-filled in the background (waiting
    /// for it if needed: appending to a fresh file instead was measured to be worse, since its metadata
    /// commits then wait for the spare's writeback). Overwriting zeroed, already allocated blocks lets
    /// fdatasync skip the file-system metadata commit that appending would need (measured: half the latency,
    /// twice the throughput on this machine's disk).</summary>
    private void StartSegment(long firstSequence)
    {
        _active?.Dispose();
        _active = null;
        var name = SegmentScanner.SegmentName(firstSequence);
        string? recycled;
        lock (_filesGate)
        {
            recycled = _freeSegments.Count > 0 ? _freeSegments.Dequeue() : null;
        }
        if (recycled is not null)
        {
            _storage.Rename(recycled, name);
        }
        else if (_options.PreallocateSegments)
        {
            (_spareSegment ?? FileWork(PrepareSpare)).GetAwaiter().GetResult();
            _spareSegment = null;
            _storage.Rename(SpareSegmentName, name);
        }
        var file = _storage.Open(name, create: true);
        if (recycled is null && !_options.PreallocateSegments)
        {
            file.SetLength(0);
        }
        Span<byte> header = stackalloc byte[RecordFormat.SegmentHeaderBytes];
        RecordFormat.WriteSegmentHeader(header);
        file.Write(0, header);
        file.Sync(); // a durable header before any record: a bad header later is damage, not a crash
        if (recycled is null && !_options.PreallocateSegments)
        {
            _storage.SyncDirectory(); // a renamed segment's directory entry was made durable by the rename
        }
        _active = file;
        _activeLength = RecordFormat.SegmentHeaderBytes;
        _activeAllocated = file.Length;
        int free;
        lock (_filesGate)
        {
            _segments.Add(new Segment(name, firstSequence));
            free = _freeSegments.Count;
        }
        if (_options.PreallocateSegments && _spareSegment is null && free == 0)
        {
            _spareSegment = FileWork(PrepareSpare);
        }
    }

    /// <summary>Writes a zero-filled file of <see cref="JournalOptions.SegmentBytesMax"/> bytes, syncing after
    /// every chunk: one large flush would queue the journal's own small fdatasyncs behind it (measured: a
    /// 230 ms ack-latency spike when the 64 MiB spare was flushed at once).</summary>
    private void PrepareSpare() => PrepareSpare(syncEveryChunk: true);

    private void PrepareSpare(bool syncEveryChunk)
    {
        using var file = _storage.Open(SpareSegmentName, create: true);
        file.SetLength(0);
        for (long offset = 0; offset < _options.SegmentBytesMax; offset += ZeroChunkBytes)
        {
            WriteZeros(file, offset, Math.Min(ZeroChunkBytes, _options.SegmentBytesMax - offset));
            if (syncEveryChunk)
            {
                file.Sync();
            }
        }
        file.Sync();
    }

    private static void WriteZeros(IStorageFile file, long offset, long length)
    {
        var zeros = new byte[(int)Math.Min(ZeroChunkBytes, Math.Max(length, 0))];
        for (var end = offset + length; offset < end; offset += zeros.Length)
        {
            file.Write(offset, zeros.AsSpan(0, (int)Math.Min(zeros.Length, end - offset)));
        }
    }

    /// <summary>A failed write or sync: nothing of this group or later is acknowledged; the bytes of the failed
    /// group are zeroed again (best effort) so that a reopen sees a consistent journal.</summary>
    internal void Fail(Exception cause, TakenGroup group)
    {
        var failure = new JournalWriteException($"journal write failed; records after {DurableSequence} were not stored: {cause.Message}", cause);
        TaskCompletionSource next;
        lock (_gate)
        {
            _failure = failure;
            next = _groupDone;
            _groupBytes = 0;
            _groupRecords = 0;
            _writing = null;
        }
        try
        {
            if (_active is not null)
            {
                // A group that was written moved the end past its bytes; one whose write failed did not.
                var from = Math.Max(RecordFormat.SegmentHeaderBytes, _activeLength - (group.File is null ? 0 : group.Bytes));
                _activeLength = from;
                WriteZeros(_active, from, Math.Max(0, Math.Min(_active.Length, from + group.Bytes) - from));
                _active.Sync();
            }
        }
        catch (Exception)
        {
            // Then the next open's recovery finds the unacknowledged bytes and treats them as a torn tail.
        }
        group.Done.TrySetException(failure);
        next.TrySetException(failure);
    }

    /// <summary>Runs blocking file work (zero-filling, snapshot writing) on its own thread: on a 2-core machine
    /// the thread pool has two threads, and blocking them stalled every awaiting appender (measured: ack p99
    /// of 45 ms while a spare segment was being zero-filled on a pool thread).</summary>
    /// <summary>Zero-filling: off the pool, or inline when <see cref="JournalOptions.BackgroundFileWork"/> is off.</summary>
    private Task FileWork(Action work)
    {
        if (_options.BackgroundFileWork)
        {
            return OffThePool(work);
        }
        work();
        return Task.CompletedTask;
    }

    private static Task OffThePool(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static Task<T> OffThePool<T>(Func<T> work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static TaskCompletionSource NewGroup() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
