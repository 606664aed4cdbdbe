namespace Surge.Journal;

public sealed partial class SegmentJournal
{
    private const int ReaderBufferBytes = 256 * 1024;

    // Guarded by _filesGate.
    private readonly List<TailReader> _readers = [];

    public IJournalReader OpenReader(long afterSequence)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        lock (_filesGate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            var firstKept = _segments.Count > 0 ? _segments[0].FirstSequence : DurableSequence + 1;
            if (afterSequence + 1 < firstKept)
            {
                throw new JournalGapException($"records {afterSequence + 1}..{firstKept - 1} are no longer in the journal (compacted)");
            }
            var reader = new TailReader(this, afterSequence);
            _readers.Add(reader);
            return reader;
        }
    }

    /// <summary>The lowest sequence any open reader still needs (long.MaxValue when none is open). Called under
    /// <see cref="_filesGate"/>.</summary>
    private long ReadersNeedFrom()
    {
        var need = long.MaxValue;
        foreach (var reader in _readers)
        {
            need = Math.Min(need, reader.ReleasedThrough + 1);
        }
        return need;
    }

    /// <summary>Where the record with sequence <paramref name="sequence"/> is, if it is durable: its segment,
    /// that segment's first and last durable sequence and durable length.</summary>
    private bool TryLocate(long sequence, out string name, out long first, out long last, out long length)
    {
        lock (_filesGate)
        {
            for (var i = _segments.Count - 1; i >= 0; i--)
            {
                var segment = _segments[i];
                if (segment.FirstSequence <= sequence)
                {
                    (name, first, last, length) = (segment.Name, segment.FirstSequence, segment.LastSequence, segment.Length);
                    return sequence <= last;
                }
            }
        }
        (name, first, last, length) = ("", 0, 0, 0);
        return false;
    }

    private sealed class TailReader(SegmentJournal journal, long afterSequence) : IJournalReader
    {
        private byte[] _buffer = new byte[ReaderBufferBytes];
        private IStorageFile? _file;
        private string _segment = "";
        private long _offset;
        private long _sequenceAtOffset;
        private long _released = afterSequence; // guarded by journal._filesGate
        private bool _disposed;

        public long Position { get; private set; } = afterSequence;

        public long ReleasedThrough => _released;

        public int Read(int maxRecords, RecordVisitor visitor)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRecords);
            var visited = 0;
            while (visited < maxRecords && journal.TryLocate(Position + 1, out var name, out var first, out var last, out var length))
            {
                if (name != _segment)
                {
                    _file?.Dispose();
                    _file = journal._storage.Open(name, create: false);
                    _segment = name;
                    _offset = RecordFormat.SegmentHeaderBytes;
                    _sequenceAtOffset = first;
                }
                var available = (int)Math.Min(length - _offset, _buffer.Length);
                if (available <= 0)
                {
                    throw new JournalCorruptException(journal._storage.Describe(name), _offset, $"sequence {Position + 1} is durable but past the segment's end");
                }
                var chunk = _buffer.AsSpan(0, available);
                if (_file!.Read(_offset, chunk) != available)
                {
                    throw new JournalCorruptException(journal._storage.Describe(name), _offset, "segment is shorter than its durable length");
                }
                var position = 0;
                while (visited < maxRecords && _sequenceAtOffset <= last)
                {
                    var defect = RecordFormat.TryRead(chunk[position..], _sequenceAtOffset, out var sequence, out var size);
                    if (defect == RecordFormat.Defect.Truncated && position > 0)
                    {
                        break; // the rest of this record is in the next chunk
                    }
                    if (defect == RecordFormat.Defect.Truncated && available < length - _offset && size > 0)
                    {
                        _buffer = new byte[RecordFormat.RecordHeaderBytes + size]; // one record larger than the buffer
                        break;
                    }
                    if (defect != RecordFormat.Defect.None)
                    {
                        throw new JournalCorruptException(journal._storage.Describe(name), _offset + position, $"{defect} while reading sequence {_sequenceAtOffset}");
                    }
                    if (sequence > Position)
                    {
                        visitor(sequence, chunk.Slice(position + RecordFormat.RecordHeaderBytes, size));
                        Position = sequence;
                        visited++;
                    }
                    position += RecordFormat.RecordHeaderBytes + size;
                    _sequenceAtOffset++;
                }
                _offset += position;
            }
            return visited;
        }

        public void Release(long throughSequence)
        {
            lock (journal._filesGate)
            {
                _released = Math.Max(_released, Math.Min(throughSequence, Position));
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _file?.Dispose();
            lock (journal._filesGate)
            {
                journal._readers.Remove(this);
            }
        }
    }
}
