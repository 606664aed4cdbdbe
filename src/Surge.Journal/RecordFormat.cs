using System.Buffers.Binary;
using System.IO.Hashing;

namespace Surge.Journal;

/// <summary>
/// Binary layout of journal segments. All integers little-endian.
/// <code>
/// segment = header record*
/// header (16 bytes):
///   0        8          12         16
///   +--------+----------+----------+
///   | magic  | version  | reserved |     magic = "SURGEJNL", version = 1, reserved = 0
///   +--------+----------+----------+
/// record (16 + length bytes):
///   0        4        8                16
///   +--------+--------+----------------+------------------+
///   | crc32c | length |   sequence     | payload (length) |
///   +--------+--------+----------------+------------------+
///   crc32c (Castagnoli) covers bytes [4, 16 + length): length, sequence and payload.
///   length is 1..RecordPayloadBytesMax; sequence numbers are consecutive from 1 across segments.
/// </code>
/// A zero length is never written, so zero-filled space after the last record reads as "end".
/// </summary>
public static class RecordFormat
{
    public const ulong SegmentMagic = 0x4C4E4A4547525553UL; // "SURGEJNL"
    public const int SegmentVersion = 1;
    public const int SegmentHeaderBytes = 16;
    public const int RecordHeaderBytes = 16;
    public const int RecordPayloadBytesMax = 8 * 1024 * 1024;

    public static void WriteSegmentHeader(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, SegmentMagic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], SegmentVersion);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], 0);
    }

    public static bool IsSegmentHeader(ReadOnlySpan<byte> header) =>
        header.Length >= SegmentHeaderBytes
        && BinaryPrimitives.ReadUInt64LittleEndian(header) == SegmentMagic
        && BinaryPrimitives.ReadInt32LittleEndian(header[8..]) == SegmentVersion;

    /// <summary>Writes one record (header + payload) and returns its size.</summary>
    public static int Write(Span<byte> destination, long sequence, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], sequence);
        payload.CopyTo(destination[RecordHeaderBytes..]);
        var size = RecordHeaderBytes + payload.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Checksum(destination[4..size]));
        return size;
    }

    public static uint Checksum(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>Why the bytes at a position are not a valid record.</summary>
    public enum Defect
    {
        None,
        Truncated,
        BadLength,
        BadChecksum,
        BadSequence,
    }

    /// <summary>Decodes the record at the start of <paramref name="data"/> if it is whole, well-formed, has a
    /// matching checksum and (when <paramref name="expectedSequence"/> &gt; 0) the expected sequence number.</summary>
    public static Defect TryRead(ReadOnlySpan<byte> data, long expectedSequence, out long sequence, out int length)
    {
        sequence = 0;
        length = 0;
        if (data.Length < RecordHeaderBytes)
        {
            return Defect.Truncated;
        }
        length = BinaryPrimitives.ReadInt32LittleEndian(data[4..]);
        if (length <= 0 || length > RecordPayloadBytesMax)
        {
            return Defect.BadLength;
        }
        if (data.Length < RecordHeaderBytes + length)
        {
            return Defect.Truncated;
        }
        sequence = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(data) != Checksum(data[4..(RecordHeaderBytes + length)]))
        {
            return Defect.BadChecksum;
        }
        return expectedSequence > 0 && sequence != expectedSequence ? Defect.BadSequence : Defect.None;
    }
}
