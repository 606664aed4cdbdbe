namespace Surge.Journal;

public sealed partial class SegmentJournal
{
    private byte[] _replayBuffer = [];

    /// <summary>
    /// Opens (or creates) the journal in <paramref name="storage"/>. Every snapshot header is checked (payload
    /// checksums as the payload is read), and every record of the last segment: a defect there with no valid
    /// record after it is a write torn by a crash, and the journal ends before it (new records overwrite it).
    /// Earlier segments are closed and complete; their records are checked when replayed (and by
    /// <see cref="JournalVerifier"/>). Any other defect throws <see cref="JournalCorruptException"/> naming the
    /// file and byte offset.
    /// </summary>
    public static SegmentJournal Open(IJournalStorage storage, JournalOptions? options = null)
    {
        options ??= new JournalOptions();
        var files = storage.ListFiles();
        foreach (var temp in files.Where(f => f.EndsWith(".tmp", StringComparison.Ordinal)))
        {
            storage.Delete(temp);
        }
        var snapshots = LoadSnapshots(storage, files);
        var names = files.Where(f => SegmentScanner.TryParseSegmentName(f, out _)).ToList();
        var segments = new List<Segment>();
        for (var i = 0; i < names.Count - 1; i++)
        {
            segments.Add(ClosedSegment(storage, names[i], names[i + 1]));
        }
        var tail = names.Count > 0 ? RecoverLastSegment(storage, names[^1], segments.Count > 0 ? segments[^1].LastSequence + 1 : 0) : null;
        if (tail is not null)
        {
            segments.Add(tail);
        }
        var journal = new SegmentJournal(storage, options, segments, snapshots);
        foreach (var free in files.Where(f => f.EndsWith(FreeSegmentExtension, StringComparison.Ordinal)))
        {
            journal._freeSegments.Enqueue(free);
        }
        var last = segments.Count > 0 ? segments[^1].LastSequence : snapshots.Count > 0 ? snapshots[^1].Sequence : 0;
        journal._lastSequence = last;
        journal._durableSequence = last;
        if (tail is not null)
        {
            journal._active = storage.Open(tail.Name, create: false);
            journal._activeLength = tail.Length;
        }
        if (options.PreallocateSegments && journal._freeSegments.Count == 0)
        {
            if (tail is null)
            {
                journal.PrepareSpare(syncEveryChunk: false); // nothing else is writing yet: one flush is fastest
                journal._spareSegment = Task.CompletedTask;
            }
            else
            {
                journal._spareSegment = journal.FileWork(journal.PrepareSpare);
            }
        }
        if (tail is not null)
        {
            journal._activeAllocated = journal._active!.Length;
        }
        journal._writer?.Start();
        return journal;
    }

    private static Segment ClosedSegment(IJournalStorage storage, string name, string nextName)
    {
        _ = SegmentScanner.TryParseSegmentName(name, out var first);
        _ = SegmentScanner.TryParseSegmentName(nextName, out var next);
        using var file = storage.Open(name, create: false);
        Span<byte> header = stackalloc byte[RecordFormat.SegmentHeaderBytes];
        if (file.Read(0, header) != header.Length || !RecordFormat.IsSegmentHeader(header))
        {
            throw new JournalCorruptException(storage.Describe(name), 0, "bad segment header");
        }
        if (next <= first)
        {
            throw new JournalCorruptException(storage.Describe(nextName), 0, $"segment starts at sequence {next}, not after {first}");
        }
        return new Segment(name, first) { LastSequence = next - 1, Length = file.Length };
    }

    private static Segment? RecoverLastSegment(IJournalStorage storage, string name, long expectedFirst)
    {
        _ = SegmentScanner.TryParseSegmentName(name, out var firstSequence);
        if (expectedFirst > 0 && firstSequence != expectedFirst)
        {
            throw new JournalCorruptException(storage.Describe(name), 0,
                $"segment starts at sequence {firstSequence} but the previous one ends at {expectedFirst - 1}");
        }
        var image = ReadAll(storage, name);
        if (!RecordFormat.IsSegmentHeader(image))
        {
            if (image.Length > RecordFormat.SegmentHeaderBytes
                && SegmentScanner.HasValidRecordAfter(image, RecordFormat.SegmentHeaderBytes - 1, firstSequence - 1, SegmentScanner.EvidenceLengthMin))
            {
                throw new JournalCorruptException(storage.Describe(name), 0, "bad segment header before valid records");
            }
            // Records are written only after the header is durable: a crash while starting this segment left it
            // without any record.
            storage.Delete(name);
            return null;
        }
        var scan = SegmentScanner.Scan(image, firstSequence);
        if (scan.Defect != RecordFormat.Defect.None)
        {
            if (scan.ValidRecordAfterDefect)
            {
                throw new JournalCorruptException(storage.Describe(name), scan.DefectOffset,
                    $"{scan.Defect} at the record after sequence {(scan.Records > 0 ? scan.LastSequence : firstSequence - 1)}");
            }
            // Nothing valid follows the defect, so the bytes from here on can never be mistaken for records
            // (every later record must carry the next sequence number): the writer simply overwrites them.
        }
        return new Segment(name, firstSequence)
        {
            LastSequence = scan.Records > 0 ? scan.LastSequence : firstSequence - 1,
            Length = scan.ValidBytes,
        };
    }

    private static List<SnapshotInfo> LoadSnapshots(IJournalStorage storage, IReadOnlyList<string> files)
    {
        var snapshots = new List<SnapshotInfo>();
        foreach (var name in files.Where(f => SnapshotFiles.TryParseName(f, out _)))
        {
            var info = SnapshotFiles.ValidateHeader(storage, name, out var problem)
                ?? throw new JournalCorruptException(storage.Describe(name), 0, problem ?? "invalid snapshot");
            snapshots.Add(info);
        }
        return snapshots;
    }

    internal static byte[] ReadAll(IJournalStorage storage, string name)
    {
        using var file = storage.Open(name, create: false);
        var image = GC.AllocateUninitializedArray<byte>(checked((int)file.Length));
        var read = file.Read(0, image);
        return read == image.Length ? image : image[..read];
    }

    public void Replay(long afterSequence, RecordVisitor visitor)
    {
        List<(string Name, long First, long Last, long Length)> segments;
        lock (_filesGate)
        {
            segments = _segments.Select(s => (s.Name, s.FirstSequence, s.LastSequence, s.Length)).ToList();
        }
        var durable = DurableSequence;
        var firstAvailable = segments.Count > 0 ? segments[0].First : durable + 1;
        if (afterSequence + 1 < firstAvailable && afterSequence < durable)
        {
            throw new JournalGapException($"records {afterSequence + 1}..{firstAvailable - 1} are no longer in the journal (compacted); recover from a newer snapshot");
        }
        foreach (var segment in segments.Where(s => s.Last > afterSequence))
        {
            ReplaySegment(segment.Name, segment.First, segment.Length, afterSequence, Math.Min(durable, segment.Last), visitor);
        }
    }

    private void ReplaySegment(string name, long first, long length, long afterSequence, long last, RecordVisitor visitor)
    {
        if (_replayBuffer.Length < length)
        {
            _replayBuffer = GC.AllocateUninitializedArray<byte>(checked((int)length));
        }
        var image = _replayBuffer.AsSpan(0, (int)length);
        using (var file = _storage.Open(name, create: false))
        {
            if (file.Read(0, image) != image.Length)
            {
                throw new JournalCorruptException(_storage.Describe(name), 0, "segment is shorter than expected");
            }
        }
        var position = RecordFormat.SegmentHeaderBytes;
        for (var expected = first; position < image.Length && expected <= last; expected++)
        {
            var defect = RecordFormat.TryRead(image[position..], expected, out var sequence, out var size);
            if (defect != RecordFormat.Defect.None)
            {
                throw new JournalCorruptException(_storage.Describe(name), position, $"{defect} while replaying sequence {expected}");
            }
            if (sequence > afterSequence)
            {
                visitor(sequence, image.Slice(position + RecordFormat.RecordHeaderBytes, size));
            }
            position += RecordFormat.RecordHeaderBytes + size;
        }
    }

    public async Task WriteSnapshotAsync(long sequence, Action<Stream> write, CancellationToken cancellationToken = default)
    {
        if (sequence < 0 || sequence > DurableSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"a snapshot must follow a durable record (durable: {DurableSequence})");
        }
        var info = await OffThePool(() => SnapshotFiles.Write(_storage, sequence, write), cancellationToken).ConfigureAwait(false);
        lock (_filesGate)
        {
            _snapshots.RemoveAll(s => s.Sequence == sequence);
            _snapshots.Add(info);
            _snapshots.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        }
    }

    public Stream OpenSnapshot(SnapshotInfo snapshot) => SnapshotFiles.OpenPayload(_storage, snapshot);

    public long Compact()
    {
        lock (_filesGate)
        {
            if (_snapshots.Count == 0)
            {
                return 0;
            }
            var keepFrom = Math.Max(0, _snapshots.Count - _options.SnapshotsKept);
            foreach (var old in _snapshots.Take(keepFrom).ToList())
            {
                _storage.Delete(old.Name);
                _snapshots.Remove(old);
            }
            var oldestKept = _snapshots[0].Sequence;
            var readersNeed = ReadersNeedFrom();
            long removed = 0;
            while (_segments.Count > 1 && _segments[0].LastSequence <= oldestKept && _segments[0].LastSequence < readersNeed)
            {
                removed += _segments[0].LastSequence - _segments[0].FirstSequence + 1;
                Retire(_segments[0]);
                _segments.RemoveAt(0);
            }
            return removed;
        }
    }

    /// <summary>Keeps a full-size segment that is no longer needed as a future segment (up to
    /// <see cref="JournalOptions.FreeSegmentsMax"/>), or deletes it.</summary>
    private void Retire(Segment segment)
    {
        long length;
        using (var file = _storage.Open(segment.Name, create: false))
        {
            length = file.Length;
        }
        if (_options.PreallocateSegments && _freeSegments.Count < _options.FreeSegmentsMax && length >= _options.SegmentBytesMax)
        {
            var free = Path.ChangeExtension(segment.Name, FreeSegmentExtension);
            _storage.Rename(segment.Name, free);
            _freeSegments.Enqueue(free);
            return;
        }
        _storage.Delete(segment.Name);
    }

    private const string FreeSegmentExtension = ".free";

    public async ValueTask DisposeAsync()
    {
        bool wake;
        Task? pending, writing;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            wake = _writerIdle;
            _writerIdle = false;
            pending = _groupBytes > 0 ? _groupDone.Task : null;
            writing = _writing;
        }
        if (_writer is not null)
        {
            if (wake)
            {
                _wakeWriter.Set();
            }
            await OffThePool(_writer.Join).ConfigureAwait(false);
        }
        else
        {
            // The committer drains what was appended before the close; its failure was the appenders' to see.
            await Task.WhenAll(writing ?? Task.CompletedTask, pending ?? Task.CompletedTask).ContinueWith(_ => { },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        }
        if (_spareSegment is not null)
        {
            try
            {
                await _spareSegment.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A spare that could not be prepared is simply prepared again by the next open.
            }
        }
        _active?.Dispose();
        _active = null;
        _wakeWriter.Dispose();
    }
}
