using System.Buffers.Binary;

namespace Surge.Journal;

/// <summary>The result of checking the records of one segment's bytes.</summary>
public readonly record struct SegmentScan(
    int Records,
    long FirstSequence,
    long LastSequence,
    long ValidBytes,
    RecordFormat.Defect Defect,
    long DefectOffset,
    bool ValidRecordAfterDefect);

/// <summary>Walks the records of a segment image, stopping at the first defect.</summary>
public static class SegmentScanner
{
    /// <summary>Scans <paramref name="segment"/> (header included). <paramref name="expectedFirstSequence"/> is the
    /// sequence the first record must have, or 0 when any is acceptable.</summary>
    public static SegmentScan Scan(ReadOnlySpan<byte> segment, long expectedFirstSequence)
    {
        long position = RecordFormat.SegmentHeaderBytes;
        var expected = expectedFirstSequence;
        long first = 0, last = 0;
        var records = 0;
        var longest = 0;
        while (position < segment.Length)
        {
            var defect = RecordFormat.TryRead(segment[(int)position..], expected, out var sequence, out var length);
            if (defect != RecordFormat.Defect.None && IsZero(segment[(int)position..]))
            {
                break; // preallocated space: the records end here
            }
            if (defect == RecordFormat.Defect.BadSequence && sequence < expectedFirstSequence)
            {
                break; // a whole record from this file's previous life as an older segment: the records end here
            }
            if (defect != RecordFormat.Defect.None)
            {
                var after = HasValidRecordAfter(segment, position, Math.Max(last, expected - 1), Math.Max(longest, EvidenceLengthMin));
                return new SegmentScan(records, first, last, position, defect, position, after);
            }
            if (records == 0)
            {
                first = sequence;
            }
            records++;
            last = sequence;
            longest = Math.Max(longest, length);
            expected = sequence + 1;
            position += RecordFormat.RecordHeaderBytes + length;
        }
        return new SegmentScan(records, first, last, position, RecordFormat.Defect.None, -1, false);
    }

    public static bool IsZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);

    /// <summary>Whether any whole, checksummed record with a later sequence number starts after a defect.
    /// If one does, the defect is damage inside the journal, not a write torn by a crash at its end. Checks
    /// the cheap header fields before the checksum: after a reused segment's records come megabytes of stale
    /// bytes, and only a plausible header is worth a CRC.</summary>
    internal static bool HasValidRecordAfter(ReadOnlySpan<byte> segment, long defectOffset, long lastGoodSequence, int lengthMax)
    {
        var sequenceMax = lastGoodSequence + segment.Length / (RecordFormat.RecordHeaderBytes + 1);
        for (var p = (int)defectOffset + 1; p + RecordFormat.RecordHeaderBytes < segment.Length; p++)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(segment[(p + 4)..]);
            if (length <= 0 || length > lengthMax)
            {
                continue;
            }
            var sequence = BinaryPrimitives.ReadInt64LittleEndian(segment[(p + 8)..]);
            if (sequence <= lastGoodSequence || sequence > sequenceMax)
            {
                continue;
            }
            if (RecordFormat.TryRead(segment[p..], sequence, out _, out _) == RecordFormat.Defect.None)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Evidence of damage is a record no longer than the longest valid one before it (at least this
    /// long) whose sequence number could still fit in the segment: a checksum is only tried on such headers.</summary>
    internal const int EvidenceLengthMin = 64 * 1024;

    /// <summary>Parses a segment name "{first_sequence:D20}.seg".</summary>
    public static bool TryParseSegmentName(string name, out long firstSequence)
    {
        firstSequence = 0;
        return name.Length == 24 && name.EndsWith(".seg", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(0, 20), out firstSequence) && firstSequence > 0;
    }

    public static string SegmentName(long firstSequence) => $"{firstSequence:D20}.seg";
}
