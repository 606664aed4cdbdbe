using System.Buffers.Binary;
using System.IO.Hashing;
using Surge.Core;

namespace Surge.Journal;

/// <summary>
/// Snapshot files "{sequence:D20}.snap", written to "*.tmp", synced, then renamed (atomic and durable).
/// <code>
///   0        8          12        16           24               32
///   +--------+----------+---------+------------+----------------+-----------------+
///   | magic  | version  | crc32c  | sequence   | payload_bytes  | payload ...     |
///   +--------+----------+---------+------------+----------------+-----------------+
///   magic = "SURGESNH", version = 1, crc32c over the payload only.
/// </code>
/// </summary>
public static class SnapshotFiles
{
    public const ulong Magic = 0x484E534547525553UL; // "SURGESNH"
    public const int Version = 1;
    public const int HeaderBytes = 32;
    private const int ChunkBytes = 1 << 20;

    public static string Name(long sequence) => $"{sequence:D20}.snap";

    public static bool TryParseName(string name, out long sequence)
    {
        sequence = 0;
        return name.Length == 25 && name.EndsWith(".snap", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(0, 20), out sequence) && sequence >= 0;
    }

    public static SnapshotInfo Write(IJournalStorage storage, long sequence, Action<Stream> write)
    {
        var name = Name(sequence);
        var temp = name + ".tmp";
        using (var file = storage.Open(temp, create: true))
        {
            file.SetLength(0);
            var crc = new Crc32(Crc32ParameterSet.Crc32C);
            long payloadBytes;
            using (var raw = new StorageFileStream(file, ownsFile: false) { Position = HeaderBytes })
            using (var checksummed = new HashingWriteStream(crc, raw))
            using (var buffered = new BufferedStream(checksummed, ChunkBytes))
            {
                write(buffered);
                buffered.Flush();
                payloadBytes = checksummed.BytesWritten;
            }
            Span<byte> header = stackalloc byte[HeaderBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(header, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(header[8..], Version);
            BinaryPrimitives.WriteUInt32LittleEndian(header[12..], crc.GetCurrentHashAsUInt32());
            BinaryPrimitives.WriteInt64LittleEndian(header[16..], sequence);
            BinaryPrimitives.WriteInt64LittleEndian(header[24..], payloadBytes);
            file.Write(0, header);
            file.Sync();
        }
        storage.Rename(temp, name);
        return new SnapshotInfo(sequence, storage.Open(name, create: false).UsingLength(), name);
    }

    /// <summary>Checks header and checksum (by reading the payload through <see cref="OpenPayload"/>); returns
    /// null with a reason when the file is not a valid snapshot.</summary>
    public static SnapshotInfo? Validate(IJournalStorage storage, string name, out string? problem)
    {
        var info = ValidateHeader(storage, name, out problem);
        if (info is null)
        {
            return null;
        }
        try
        {
            using var payload = OpenPayload(storage, info);
            payload.CopyTo(Stream.Null);
        }
        catch (JournalCorruptException e)
        {
            problem = e.Reason;
            return null;
        }
        return info;
    }

    /// <summary>Checks the header only (the checksum is verified while the payload is read, see
    /// <see cref="OpenPayload"/>): opening a journal then does not read gigabytes of snapshot twice.</summary>
    public static SnapshotInfo? ValidateHeader(IJournalStorage storage, string name, out string? problem)
    {
        problem = null;
        if (!TryParseName(name, out var sequence))
        {
            problem = "not a snapshot file name";
            return null;
        }
        using var file = storage.Open(name, create: false);
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (file.Read(0, header) != HeaderBytes || BinaryPrimitives.ReadUInt64LittleEndian(header) != Magic)
        {
            problem = "bad snapshot header";
            return null;
        }
        if (BinaryPrimitives.ReadInt32LittleEndian(header[8..]) != Version)
        {
            problem = $"unsupported snapshot version {BinaryPrimitives.ReadInt32LittleEndian(header[8..])}";
            return null;
        }
        var payloadBytes = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        if (BinaryPrimitives.ReadInt64LittleEndian(header[16..]) != sequence || payloadBytes != file.Length - HeaderBytes)
        {
            problem = "snapshot header disagrees with its name or size";
            return null;
        }
        return new SnapshotInfo(sequence, file.Length, name);
    }

    /// <summary>Opens the payload for reading. The checksum is computed as it is read; reading to the end
    /// throws <see cref="JournalCorruptException"/> if it does not match the header.</summary>
    public static Stream OpenPayload(IJournalStorage storage, SnapshotInfo snapshot)
    {
        var file = storage.Open(snapshot.Name, create: false);
        Span<byte> header = stackalloc byte[HeaderBytes];
        _ = file.Read(0, header);
        var expected = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        var stream = new StorageFileStream(file, ownsFile: true) { Position = HeaderBytes };
        return new VerifyingStream(new BufferedStream(stream, ChunkBytes), expected, storage.Describe(snapshot.Name));
    }

    private sealed class VerifyingStream(Stream inner, uint expected, string file) : Stream
    {
        private readonly Crc32 _crc = new(Crc32ParameterSet.Crc32C);
        private bool _checked;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _crc.Append(buffer[..n]);
            if (n == 0 && buffer.Length > 0 && !_checked)
            {
                _checked = true;
                if (_crc.GetCurrentHashAsUInt32() != expected)
                {
                    throw new JournalCorruptException(file, HeaderBytes, "snapshot checksum mismatch");
                }
            }
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private static long UsingLength(this IStorageFile file)
    {
        using (file)
        {
            return file.Length;
        }
    }
}
