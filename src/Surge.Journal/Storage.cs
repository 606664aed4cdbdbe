namespace Surge.Journal;

/// <summary>
/// The few file operations a journal needs, so the same journal runs on a real directory and on a simulated
/// disk that can crash mid-write. A file's bytes are durable only after <see cref="IStorageFile.Sync"/>;
/// a file's existence and name only after <see cref="IJournalStorage.SyncDirectory"/> (or a rename).
/// </summary>
public interface IJournalStorage
{
    /// <summary>Names of all files, sorted ordinally.</summary>
    IReadOnlyList<string> ListFiles();

    IStorageFile Open(string name, bool create);

    void Delete(string name);

    /// <summary>Atomically replaces <paramref name="to"/> with <paramref name="from"/> and makes it durable.</summary>
    void Rename(string from, string to);

    void SyncDirectory();

    /// <summary>A human-readable location of the file for error messages.</summary>
    string Describe(string name);

    /// <summary>The device the files live on, compared with <see cref="object.Equals(object)"/>: a
    /// <see cref="IStorageFile.Sync"/> of any file of a device also makes durable what was
    /// <see cref="IStorageFile.WriteBack"/>-ed to any file of the same device before it. A storage that cannot tell
    /// is a device of its own.</summary>
    object Device => this;
}

public interface IStorageFile : IDisposable
{
    long Length { get; }

    int Read(long offset, Span<byte> destination);

    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes every byte written so far durable (fdatasync).</summary>
    void Sync();

    /// <summary>Hands every byte written so far to the device and waits until it has them, without asking the device to
    /// make them durable: they become durable with the next <see cref="Sync"/> of any file on the same
    /// <see cref="IJournalStorage.Device"/>. Only for bytes that overwrite blocks the file already has (no size or
    /// allocation change, which needs this file's own <see cref="Sync"/>). Storages without the distinction sync.</summary>
    void WriteBack() => Sync();

    /// <summary>Starts handing the bytes written so far to the device without waiting (a later
    /// <see cref="WriteBack"/> waits): lets the writes of several files go to the device together.</summary>
    void StartWriteBack()
    {
    }

    void SetLength(long length);
}

/// <summary>A sequential stream over an <see cref="IStorageFile"/> (snapshots are written and read through it).</summary>
public sealed class StorageFileStream(IStorageFile file, bool ownsFile) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => true;
    public override long Length => file.Length;

    public override long Position
    {
        get => _position;
        set => _position = value;
    }

    /// <summary>Writes go straight to the file; durability is the owner's explicit <see cref="IStorageFile.Sync"/>.</summary>
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = file.Read(_position, buffer);
        _position += n;
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => file.Length + offset,
    };

    public override void SetLength(long value) => file.SetLength(value);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        file.Write(_position, buffer);
        _position += buffer.Length;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsFile)
        {
            file.Dispose();
        }
        base.Dispose(disposing);
    }
}
