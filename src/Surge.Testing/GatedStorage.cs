using Surge.Journal;

namespace Surge.Testing;

/// <summary>A simulated disk whose syncs can be held, to make "the disk is slow" deterministic.</summary>
public sealed class GatedStorage(SimulatedStorage inner) : IJournalStorage, IDisposable
{
    private readonly ManualResetEventSlim _open = new(initialState: true);
    private int _waiting;

    public SimulatedStorage Inner => inner;

    /// <summary>True while a sync is held.</summary>
    public bool Waiting => Volatile.Read(ref _waiting) > 0;

    public void Hold() => _open.Reset();

    public void Release() => _open.Set();

    public void Dispose() => _open.Dispose();

    public IReadOnlyList<string> ListFiles() => inner.ListFiles();
    public IStorageFile Open(string name, bool create) => new GatedFile(this, inner.Open(name, create));
    public void Delete(string name) => inner.Delete(name);
    public void Rename(string from, string to) => inner.Rename(from, to);
    public void SyncDirectory() => inner.SyncDirectory();
    public string Describe(string name) => inner.Describe(name);
    public object Device => inner.Device;

    private sealed class GatedFile(GatedStorage owner, IStorageFile file) : IStorageFile
    {
        public long Length => file.Length;
        public int Read(long offset, Span<byte> destination) => file.Read(offset, destination);
        public void Write(long offset, ReadOnlySpan<byte> source) => file.Write(offset, source);
        public void SetLength(long length) => file.SetLength(length);
        public void WriteBack() => file.WriteBack();
        public void StartWriteBack() => file.StartWriteBack();
        public void Dispose() => file.Dispose();

        public void Sync()
        {
            Interlocked.Increment(ref owner._waiting);
            owner._open.Wait();
            Interlocked.Decrement(ref owner._waiting);
            file.Sync();
        }
    }
}
