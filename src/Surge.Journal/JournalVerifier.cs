namespace Surge.Journal;

public sealed record SegmentReport(string Name, long FirstSequence, long LastSequence, int Records, long Bytes, string? Problem);

public sealed record VerifyReport(
    IReadOnlyList<SegmentReport> Segments,
    IReadOnlyList<SnapshotInfo> Snapshots,
    long Records,
    long FirstSequence,
    long LastSequence,
    long TornTailBytes,
    IReadOnlyList<string> Errors)
{
    public bool Ok => Errors.Count == 0;
}

/// <summary>Checks every record and snapshot of a journal without changing anything (the open path would
/// cut a torn tail; the verifier only reports it).</summary>
public static class JournalVerifier
{
    public static VerifyReport Verify(IJournalStorage storage, Action<string, long, long>? progress = null)
    {
        var errors = new List<string>();
        var files = storage.ListFiles();
        var snapshots = new List<SnapshotInfo>();
        foreach (var name in files.Where(f => SnapshotFiles.TryParseName(f, out _)))
        {
            var info = SnapshotFiles.Validate(storage, name, out var problem);
            if (info is null)
            {
                errors.Add($"{storage.Describe(name)}: {problem}");
            }
            else
            {
                snapshots.Add(info);
            }
        }
        var names = files.Where(f => SegmentScanner.TryParseSegmentName(f, out _)).ToList();
        var segments = new List<SegmentReport>();
        long tornTail = 0, records = 0, expected = 0;
        for (var i = 0; i < names.Count; i++)
        {
            progress?.Invoke(names[i], i, names.Count);
            var report = VerifySegment(storage, names[i], i == names.Count - 1, expected, ref tornTail);
            segments.Add(report);
            records += report.Records;
            if (report.Problem is not null)
            {
                errors.Add($"{storage.Describe(names[i])}: {report.Problem}");
            }
            expected = report.LastSequence + 1;
        }
        var first = segments.FirstOrDefault(s => s.Records > 0)?.FirstSequence ?? 0;
        var last = segments.LastOrDefault(s => s.Records > 0)?.LastSequence ?? 0;
        return new VerifyReport(segments, snapshots, records, first, last, tornTail, errors);
    }

    private static SegmentReport VerifySegment(IJournalStorage storage, string name, bool isLast, long expected, ref long tornTail)
    {
        _ = SegmentScanner.TryParseSegmentName(name, out var firstSequence);
        var image = SegmentJournal.ReadAll(storage, name);
        if (expected > 0 && firstSequence != expected)
        {
            return new SegmentReport(name, firstSequence, firstSequence - 1, 0, image.Length,
                $"starts at sequence {firstSequence}, expected {expected}");
        }
        if (!RecordFormat.IsSegmentHeader(image))
        {
            return new SegmentReport(name, firstSequence, firstSequence - 1, 0, image.Length, "bad segment header at offset 0");
        }
        var scan = SegmentScanner.Scan(image, firstSequence);
        var last = scan.Records > 0 ? scan.LastSequence : firstSequence - 1;
        string? problem = null;
        if (scan.Defect != RecordFormat.Defect.None)
        {
            if (isLast && !scan.ValidRecordAfterDefect)
            {
                tornTail = image.AsSpan().LastIndexOfAnyExcept((byte)0) + 1 - scan.ValidBytes;
            }
            else
            {
                problem = $"{scan.Defect} at byte offset {scan.DefectOffset} (after sequence {last})";
            }
        }
        return new SegmentReport(name, firstSequence, last, scan.Records, image.Length, problem);
    }
}
