using System.IO.Hashing;

namespace Surge.Core;

/// <summary>A write-only stream that feeds every byte to a hash and, if given, passes it on to
/// <paramref name="inner"/>: the engine hashes its state by writing a snapshot into one, and the journal
/// checksums a snapshot file while writing it through one.</summary>
public sealed class HashingWriteStream(NonCryptographicHashAlgorithm hash, Stream? inner = null) : Stream
{
    public long BytesWritten { get; private set; }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner?.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        hash.Append(buffer);
        inner?.Write(buffer);
        BytesWritten += buffer.Length;
    }
}
