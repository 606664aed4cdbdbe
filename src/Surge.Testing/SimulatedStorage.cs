using Surge.Journal;

namespace Surge.Testing;

/// <summary>Thrown by every operation of a <see cref="SimulatedStorage"/> from the moment it "crashed".</summary>
public sealed class SimulatedCrashException() : IOException("simulated crash: the process is gone");

/// <summary>
/// An in-memory disk for the journal that models what a real one may do on power loss: bytes written but
/// not yet synced may be lost, kept in part (a torn write, cut at any byte), or kept with garbage in the
/// torn part. Files created but never made durable may vanish. Faults are seeded, so a failure reproduces.
/// Storages made with <see cref="Sibling"/> are directories of the same disk: they crash together, and a sync of any
/// file of the disk makes durable what was written back (<see cref="IStorageFile.WriteBack"/>) to any of its files.
/// </summary>
public sealed class SimulatedStorage : IJournalStorage
{
    private readonly Dictionary<string, SimFile> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _durableNames = new(StringComparer.Ordinal);
    private readonly Disk _disk;
    private readonly object _gate;

    public SimulatedStorage(int seed) : this(new Disk(seed))
    {
    }

    private SimulatedStorage(Disk disk)
    {
        _disk = disk;
        _gate = disk.Gate;
        lock (_gate)
        {
            disk.Storages.Add(this);
        }
    }

    /// <summary>What the directories of one disk share.</summary>
    private sealed class Disk(int seed)
    {
        public object Gate { get; } = new();
        public Random Random { get; } = new(seed);
        public List<SimulatedStorage> Storages { get; } = [];
        public HashSet<SimFile> WrittenBack { get; } = [];
        public long BytesWritten;
        public long? CrashAtByte;
        public long? DiskFullAtByte;
        public bool FailNextSync;
        public string? FailSyncOfSuffix;
        public bool Crashed;
    }

    /// <summary>Another directory on the same disk.</summary>
    public SimulatedStorage Sibling() => new(_disk);

    public object Device => _disk;

    /// <summary>When set, the write that crosses this many total bytes (of the disk) writes only up to it, then crashes.</summary>
    public long? CrashAtByte { get => _disk.CrashAtByte; set => _disk.CrashAtByte = value; }

    /// <summary>When set, writes beyond this many total bytes fail with "no space left on device".</summary>
    public long? DiskFullAtByte { get => _disk.DiskFullAtByte; set => _disk.DiskFullAtByte = value; }

    public bool FailNextSync { get => _disk.FailNextSync; set => _disk.FailNextSync = value; }

    /// <summary>When set, <see cref="FailNextSync"/> applies only to files whose name ends with this.</summary>
    public string? FailSyncOfSuffix { get => _disk.FailSyncOfSuffix; set => _disk.FailSyncOfSuffix = value; }

    public bool Crashed => _disk.Crashed;

    public long BytesWritten => Interlocked.Read(ref _disk.BytesWritten);

    /// <summary>Power loss of the disk: from now on every operation throws, until <see cref="Restart"/>.</summary>
    public void Crash()
    {
        lock (_gate)
        {
            _disk.Crashed = true;
        }
    }

    /// <summary>Comes back after a crash: keeps durable bytes, and of the unsynced ones a random prefix, with
    /// the last bytes of that prefix sometimes garbled (a sector that was being written). Every directory of the disk.</summary>
    public void Restart()
    {
        lock (_gate)
        {
            foreach (var storage in _disk.Storages)
            {
                storage.LoseUnsynced();
            }
            _disk.WrittenBack.Clear();
            _disk.Crashed = false;
            _disk.CrashAtByte = null;
        }
    }

    private void LoseUnsynced()
    {
        foreach (var name in _files.Keys.ToList())
        {
            var file = _files[name];
            if (!_durableNames.Contains(name) && _disk.Random.Next(2) == 0)
            {
                _files.Remove(name);
                continue;
            }
            file.LoseUnsynced(_disk.Random);
        }
    }

    public IReadOnlyList<string> ListFiles()
    {
        lock (_gate)
        {
            ThrowIfCrashed();
            return _files.Keys.Order(StringComparer.Ordinal).ToList();
        }
    }

    public IStorageFile Open(string name, bool create)
    {
        lock (_gate)
        {
            ThrowIfCrashed();
            if (!_files.TryGetValue(name, out var file))
            {
                if (!create)
                {
                    throw new FileNotFoundException($"no such simulated file: {name}", name);
                }
                file = new SimFile();
                _files.Add(name, file);
            }
            return new Handle(this, file, name);
        }
    }

    public void Delete(string name)
    {
        lock (_gate)
        {
            ThrowIfCrashed();
            _files.Remove(name);
            _durableNames.Remove(name);
        }
    }

    public void Rename(string from, string to)
    {
        lock (_gate)
        {
            ThrowIfCrashed();
            var file = _files[from];
            _files.Remove(from);
            _durableNames.Remove(from);
            _files[to] = file;
            _durableNames.Add(to);
        }
    }

    public void SyncDirectory()
    {
        lock (_gate)
        {
            ThrowIfCrashed();
            _durableNames.UnionWith(_files.Keys);
        }
    }

    public string Describe(string name) => "sim:/" + name;

    /// <summary>Flips one byte of a file's durable content (bit rot).</summary>
    public void Corrupt(string name, long offset)
    {
        lock (_gate)
        {
            _files[name].Flip(offset);
        }
    }

    /// <summary>The current bytes of a file (tests look at them).</summary>
    public byte[] Contents(string name)
    {
        lock (_gate)
        {
            return _files[name].Current.ToArray();
        }
    }

    private void ThrowIfCrashed()
    {
        if (_disk.Crashed)
        {
            throw new SimulatedCrashException();
        }
    }

    /// <summary>A file as the disk holds it (<c>_durable</c>) plus the writes since the last sync, in order.
    /// A crash keeps a random prefix of those writes, the last one possibly cut at any byte and its cut end
    /// sometimes garbled.</summary>
    private sealed class SimFile
    {
        private byte[] _durable = [];
        private readonly List<(long Offset, byte[] Data, long? NewLength)> _pending = [];
        private int _writtenBack; // the first this many pending writes are on the device, durable at its next flush

        public byte[] Current { get; private set; } = [];

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            _pending.Add((offset, data.ToArray(), null));
            Current = Apply(Current, offset, data);
        }

        public void SetLength(long length)
        {
            _pending.Add((0, [], length));
            Current = Resize(Current, length);
        }

        public void Sync()
        {
            _durable = Current.ToArray();
            _pending.Clear();
            _writtenBack = 0;
        }

        public void WriteBack() => _writtenBack = _pending.Count;

        /// <summary>The device flushed its cache: the written-back writes are durable, later ones still are not.</summary>
        public void Flushed()
        {
            for (var i = 0; i < _writtenBack; i++)
            {
                var (offset, data, newLength) = _pending[i];
                _durable = newLength is { } length ? Resize(_durable, length) : Apply(_durable, offset, data);
            }
            _pending.RemoveRange(0, _writtenBack);
            _writtenBack = 0;
        }

        public void Flip(long offset)
        {
            Current[offset] ^= 0x5A;
            if (offset < _durable.Length)
            {
                _durable[offset] ^= 0x5A;
            }
        }

        public void LoseUnsynced(Random random)
        {
            _writtenBack = 0;
            var image = _durable.ToArray();
            var kept = random.Next(_pending.Count + 1);
            for (var i = 0; i < kept; i++)
            {
                var (offset, data, newLength) = _pending[i];
                if (newLength is { } length)
                {
                    image = Resize(image, length);
                    continue;
                }
                if (i < kept - 1 || random.Next(3) == 0)
                {
                    image = Apply(image, offset, data);
                    continue;
                }
                var cut = random.Next(data.Length + 1);
                var torn = data.AsSpan(0, cut).ToArray();
                if (cut > 0 && random.Next(4) == 0)
                {
                    random.NextBytes(torn.AsSpan(Math.Max(0, cut - 1 - random.Next(16))));
                }
                image = Apply(image, offset, torn);
            }
            Current = image;
            Sync();
        }

        private static byte[] Apply(byte[] image, long offset, ReadOnlySpan<byte> data)
        {
            if (offset + data.Length > image.Length)
            {
                image = Resize(image, offset + data.Length);
            }
            data.CopyTo(image.AsSpan((int)offset));
            return image;
        }

        private static byte[] Resize(byte[] image, long length)
        {
            var resized = new byte[length];
            image.AsSpan(0, (int)Math.Min(length, image.Length)).CopyTo(resized);
            return resized;
        }
    }

    private sealed class Handle(SimulatedStorage owner, SimFile file, string name) : IStorageFile
    {
        public long Length
        {
            get
            {
                lock (owner._gate)
                {
                    owner.ThrowIfCrashed();
                    return file.Current.Length;
                }
            }
        }

        public int Read(long offset, Span<byte> destination)
        {
            lock (owner._gate)
            {
                owner.ThrowIfCrashed();
                var n = (int)Math.Max(0, Math.Min(destination.Length, file.Current.Length - offset));
                file.Current.AsSpan((int)offset, n).CopyTo(destination);
                return n;
            }
        }

        public void Write(long offset, ReadOnlySpan<byte> source)
        {
            lock (owner._gate)
            {
                owner.ThrowIfCrashed();
                var disk = owner._disk;
                var before = disk.BytesWritten;
                if (disk.DiskFullAtByte is { } full && before + source.Length > full)
                {
                    throw new IOException("No space left on device (simulated)");
                }
                if (disk.CrashAtByte is { } crash && before + source.Length > crash)
                {
                    var partial = (int)Math.Max(0, crash - before);
                    file.Write(offset, source[..partial]);
                    disk.BytesWritten += partial;
                    disk.Crashed = true;
                    throw new SimulatedCrashException();
                }
                file.Write(offset, source);
                disk.BytesWritten += source.Length;
            }
        }

        public void Sync()
        {
            lock (owner._gate)
            {
                owner.ThrowIfCrashed();
                var disk = owner._disk;
                if (disk.FailNextSync && (disk.FailSyncOfSuffix is null || name.EndsWith(disk.FailSyncOfSuffix, StringComparison.Ordinal)))
                {
                    disk.FailNextSync = false;
                    throw new IOException("Input/output error (simulated fsync failure)");
                }
                file.Sync();
                foreach (var other in disk.WrittenBack)
                {
                    other.Flushed(); // the sync's cache flush covers whatever the device had received
                }
                disk.WrittenBack.Clear();
            }
        }

        public void WriteBack()
        {
            lock (owner._gate)
            {
                owner.ThrowIfCrashed();
                file.WriteBack();
                owner._disk.WrittenBack.Add(file);
            }
        }

        public void SetLength(long length)
        {
            lock (owner._gate)
            {
                owner.ThrowIfCrashed();
                file.SetLength(length);
            }
        }

        public void Dispose()
        {
        }
    }
}
