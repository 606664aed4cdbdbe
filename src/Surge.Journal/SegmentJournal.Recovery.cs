namespace Surge.Journal;

public sealed partial class SegmentJournal
{
    /// <summary>
    /// Opens (or creates) the journal in <paramref name="storage"/>, checking every record and snapshot.
    /// A defect in the last segment with no valid record after it is a write torn by a crash: the tail is cut.
    /// Any other defect throws <see cref="JournalCorruptException"/> naming the file and byte offset.
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
        var segments = new List<Segment>();
        IStorageFile? active = null;
        long activeLength = 0;
        var names = files.Where(f => SegmentScanner.TryParseSegmentName(f, out _)).ToList();
        for (var i = 0; i < names.Count; i++)
        {
            var isLast = i == names.Count - 1;
            var segment = RecoverSegment(storage, names[i], isLast, segments.Count == 0 ? 0 : segments[^1].LastSequence + 1);
            if (segment is null)
            {
                continue;
            }
            segments.Add(segment);
            if (isLast)
            {
                active = storage.Open(segment.Name, create: false);
                activeLength = segment.Length;
            }
        }
        var journal = new SegmentJournal(storage, options, segments, snapshots);
        var last = segments.Count > 0 ? segments[^1].LastSequence : snapshots.Count > 0 ? snapshots[^1].Sequence : 0;
        journal._lastSequence = last;
        journal._durableSequence = last;
        journal._active = active;
        journal._activeLength = activeLength;
        journal._writer.Start();
        return journal;
    }

    private static Segment? RecoverSegment(IJournalStorage storage, string name, bool isLast, long expectedFirst)
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
            if (isLast && image.Length <= RecordFormat.SegmentHeaderBytes)
            {
                storage.Delete(name); // created by a crash before its header was durable
                return null;
            }
            throw new JournalCorruptException(storage.Describe(name), 0, "bad segment header");
        }
        var scan = SegmentScanner.Scan(image, firstSequence);
        if (scan.Defect != RecordFormat.Defect.None)
        {
            if (!isLast || scan.ValidRecordAfterDefect)
            {
                throw new JournalCorruptException(storage.Describe(name), scan.DefectOffset,
                    $"{scan.Defect} at the record after sequence {(scan.Records > 0 ? scan.LastSequence : firstSequence - 1)}");
            }
            using var file = storage.Open(name, create: false);
            file.SetLength(scan.ValidBytes);
            file.Sync();
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
            var info = SnapshotFiles.Validate(storage, name, out var problem)
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
            ReplaySegment(segment.Name, segment.First, segment.Length, afterSequence, durable, visitor);
        }
    }

    private void ReplaySegment(string name, long first, long length, long afterSequence, long durable, RecordVisitor visitor)
    {
        byte[] image;
        using (var file = _storage.Open(name, create: false))
        {
            image = GC.AllocateUninitializedArray<byte>(checked((int)length));
            if (file.Read(0, image) != image.Length)
            {
                throw new JournalCorruptException(_storage.Describe(name), 0, "segment is shorter than when it was opened");
            }
        }
        var position = RecordFormat.SegmentHeaderBytes;
        for (var expected = first; position < image.Length && expected <= durable; expected++)
        {
            var defect = RecordFormat.TryRead(image.AsSpan(position), expected, out var sequence, out var size);
            if (defect != RecordFormat.Defect.None)
            {
                throw new JournalCorruptException(_storage.Describe(name), position, $"{defect} while replaying sequence {expected}");
            }
            if (sequence > afterSequence)
            {
                visitor(sequence, image.AsSpan(position + RecordFormat.RecordHeaderBytes, size));
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
        var info = await Task.Run(() => SnapshotFiles.Write(_storage, sequence, write), cancellationToken).ConfigureAwait(false);
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
            long removed = 0;
            while (_segments.Count > 1 && _segments[0].LastSequence <= oldestKept)
            {
                removed += _segments[0].LastSequence - _segments[0].FirstSequence + 1;
                _storage.Delete(_segments[0].Name);
                _segments.RemoveAt(0);
            }
            return removed;
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            Monitor.Pulse(_gate);
        }
        await Task.Run(_writer.Join).ConfigureAwait(false);
        _active?.Dispose();
        _active = null;
    }
}
