using System.Text;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Journal.Tests;

public class RecoveryTests
{
    private static readonly JournalOptions SmallSegments = new() { SegmentBytesMax = 1024 };
    private static readonly JournalOptions OneSegment = new() { SegmentBytesMax = 64 * 1024 };

    private static List<string> Segments(SimulatedStorage storage) =>
        storage.ListFiles().Where(f => f.EndsWith(".seg", StringComparison.Ordinal)).ToList();

    /// <summary>Where the records of a preallocated segment end (the zero fill starts).</summary>
    private static int RecordsEnd(byte[] segment) => segment.AsSpan().LastIndexOfAnyExcept((byte)0) + 1;

    private static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"payload {i:D4}");

    private static async Task<SimulatedStorage> StorageWithRecords(int count, JournalOptions? options = null)
    {
        var storage = new SimulatedStorage(seed: 3);
        await using var journal = SegmentJournal.Open(storage, options ?? SmallSegments);
        for (var i = 1; i <= count; i++)
        {
            await journal.Append(Payload(i)).Durable;
        }
        return storage;
    }

    private static long[] Sequences(SegmentJournal journal)
    {
        var sequences = new List<long>();
        journal.Replay(0, (s, _) => sequences.Add(s));
        return sequences.ToArray();
    }

    [Fact]
    public void Crc32C_MatchesTheCastagnoliCheckValue() =>
        Assert.Equal(0xE3069283u, RecordFormat.Checksum("123456789"u8));

    [Fact]
    public async Task TornTail_CutAtEveryByteOfTheLastRecord_IsDetectedAndCut()
    {
        var storage = await StorageWithRecords(3, OneSegment);
        var segment = Segments(storage).Single();
        var whole = storage.Contents(segment)[..RecordsEnd(storage.Contents(segment))];
        var lastRecordStart = whole.Length - (RecordFormat.RecordHeaderBytes + Payload(3).Length);

        for (var cut = lastRecordStart; cut < whole.Length; cut++)
        {
            var torn = new SimulatedStorage(seed: 4);
            using (var file = torn.Open(segment, create: true))
            {
                file.Write(0, whole.AsSpan(0, cut));
                file.Sync();
            }
            torn.SyncDirectory();

            await using (var journal = SegmentJournal.Open(torn, OneSegment))
            {
                Assert.Equal([1L, 2L], Sequences(journal));
                var next = journal.Append("written again"u8);
                await next.Durable;
                Assert.Equal(3, next.Sequence);
            }
            await using var reopened = SegmentJournal.Open(torn, OneSegment);
            var payloads = new List<string>();
            reopened.Replay(0, (_, p) => payloads.Add(Encoding.UTF8.GetString(p)));
            Assert.Equal([Encoding.UTF8.GetString(Payload(1)), Encoding.UTF8.GetString(Payload(2)), "written again"], payloads);
        }
    }

    [Fact]
    public async Task GarbageAtTheTail_IsCut()
    {
        var storage = await StorageWithRecords(5, OneSegment);
        var segment = Segments(storage).Single();
        using (var file = storage.Open(segment, create: false))
        {
            file.Write(RecordsEnd(storage.Contents(segment)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
            file.Sync();
        }

        await using var journal = SegmentJournal.Open(storage, OneSegment);

        Assert.Equal(5, Sequences(journal).Length);
    }

    [Fact]
    public async Task CorruptRecordInTheMiddle_StopsStartUpNamingFileAndOffset()
    {
        var storage = await StorageWithRecords(5, OneSegment);
        var segment = Segments(storage).Single();
        var secondRecord = RecordFormat.SegmentHeaderBytes + RecordFormat.RecordHeaderBytes + Payload(1).Length;
        storage.Corrupt(segment, secondRecord + RecordFormat.RecordHeaderBytes + 2);

        var e = Assert.Throws<JournalCorruptException>(() => SegmentJournal.Open(storage, OneSegment));

        Assert.Equal(storage.Describe(segment), e.File);
        Assert.Equal(secondRecord, e.Offset);
        Assert.Contains(segment, e.Message);
        Assert.Contains(secondRecord.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public async Task CorruptLastRecordOfAnEarlierSegment_StopsRecovery()
    {
        var storage = await StorageWithRecords(200);
        var segments = Segments(storage);
        Assert.True(segments.Count >= 3);
        storage.Corrupt(segments[0], RecordsEnd(storage.Contents(segments[0])) - 1);
        await using var journal = SegmentJournal.Open(storage, SmallSegments);

        var e = Assert.Throws<JournalCorruptException>(() => Sequences(journal));
        Assert.Equal(storage.Describe(segments[0]), e.File);
        Assert.False(JournalVerifier.Verify(storage).Ok);
    }

    [Fact]
    public async Task Segments_RollAndReplayAcrossThem()
    {
        var storage = await StorageWithRecords(200);
        var segments = Segments(storage);
        Assert.True(segments.Count > 3);
        Assert.Equal("00000000000000000001.seg", segments[0]);

        await using var journal = SegmentJournal.Open(storage, SmallSegments);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), Sequences(journal));
    }

    [Fact]
    public async Task DiskFull_FailsThePendingAppends_AndReopenShowsOnlyAcknowledgedRecords()
    {
        var storage = new SimulatedStorage(seed: 5);
        var journal = SegmentJournal.Open(storage, OneSegment);
        await journal.Append(Payload(1)).Durable;
        storage.DiskFullAtByte = storage.BytesWritten + 10;

        var failing = journal.Append(Payload(2));
        var e = await Assert.ThrowsAsync<JournalWriteException>(() => failing.Durable);
        Assert.Contains("No space left", e.Message);
        Assert.Throws<JournalUnavailableException>(() => journal.Append(Payload(3)));
        await journal.DisposeAsync();

        storage.DiskFullAtByte = null;
        await using var reopened = SegmentJournal.Open(storage, OneSegment);
        Assert.Equal([1L], Sequences(reopened));
    }

    [Fact]
    public async Task FsyncFailure_FailsTheGroupAndNothingUnsyncedIsReplayed()
    {
        var storage = new SimulatedStorage(seed: 6);
        var journal = SegmentJournal.Open(storage, OneSegment);
        await journal.Append(Payload(1)).Durable;
        storage.FailSyncOfSuffix = ".seg";
        storage.FailNextSync = true;

        await Assert.ThrowsAsync<JournalWriteException>(() => journal.Append(Payload(2)).Durable);
        await journal.DisposeAsync();

        await using var reopened = SegmentJournal.Open(storage, OneSegment);
        Assert.Equal([1L], Sequences(reopened));
    }

    [Fact]
    public async Task CorruptSnapshot_StopsRecoveryWhenRead()
    {
        var storage = await StorageWithRecords(4, OneSegment);
        await using (var journal = SegmentJournal.Open(storage, OneSegment))
        {
            await journal.WriteSnapshotAsync(4, s => s.Write(new byte[100]), TestContext.Current.CancellationToken);
        }
        var snapshot = storage.ListFiles().Single(f => f.EndsWith(".snap", StringComparison.Ordinal));
        storage.Corrupt(snapshot, SnapshotFiles.HeaderBytes + 50);

        await using var reopened = SegmentJournal.Open(storage, OneSegment);
        using var stream = reopened.OpenSnapshot(reopened.LatestSnapshot!);
        var e = Assert.Throws<JournalCorruptException>(() => stream.CopyTo(Stream.Null));
        Assert.Contains("checksum", e.Message);
        Assert.False(JournalVerifier.Verify(storage).Ok);
    }

    [Fact]
    public async Task PreallocatedSegment_IsZeroFilledAheadAndRecordsOverwriteIt()
    {
        var storage = await StorageWithRecords(3, OneSegment);

        var segment = Segments(storage).Single();
        Assert.Equal(OneSegment.SegmentBytesMax, storage.Contents(segment).Length);
        Assert.Contains("next-segment.tmp", storage.ListFiles());
        await using var journal = SegmentJournal.Open(storage, OneSegment);
        Assert.Equal([1L, 2L, 3L], Sequences(journal));
        Assert.DoesNotContain(storage.ListFiles(), f => f.EndsWith(".tmp", StringComparison.Ordinal) && f != "next-segment.tmp");
    }

    [Fact]
    public async Task CompactedSegments_AreReused_AndTheirStaleRecordsNeverReplay()
    {
        var storage = new SimulatedStorage(seed: 8);
        var options = new JournalOptions { SegmentBytesMax = 1024, FreeSegmentsMax = 2 };
        await using (var journal = SegmentJournal.Open(storage, options))
        {
            for (var i = 1; i <= 90; i++)
            {
                await journal.Append(Payload(i)).Durable;
                if (i % 30 == 0)
                {
                    await journal.WriteSnapshotAsync(i, s => s.WriteByte(1), TestContext.Current.CancellationToken);
                    journal.Compact();
                }
            }
            var free = storage.ListFiles().Where(f => f.EndsWith(".free", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(free);
            for (var i = 91; i <= 160; i++)
            {
                await journal.Append(Payload(i)).Durable;
            }
            Assert.Contains(free, f => !storage.ListFiles().Contains(f)); // renamed into a new segment
        }

        await using var reopened = SegmentJournal.Open(storage, options);
        var records = new List<(long, string)>();
        reopened.Replay(90, (s, p) => records.Add((s, System.Text.Encoding.UTF8.GetString(p))));
        Assert.Equal(Enumerable.Range(91, 70).Select(i => (long)i), records.Select(r => r.Item1));
        Assert.All(records, r => Assert.Equal($"payload {r.Item1:D4}", r.Item2));
        Assert.True(JournalVerifier.Verify(storage).Ok);
        var next = reopened.Append(Payload(161));
        await next.Durable;
        Assert.Equal(161, next.Sequence);
    }

    [Fact]
    public async Task SegmentStartedByACrashWithATornHeader_IsDropped()
    {
        var storage = await StorageWithRecords(200);
        var next = SegmentScanner.SegmentName(201);
        using (var file = storage.Open(next, create: true))
        {
            file.Write(0, [0xAB, 0xCD, 0xEF]);
            file.Write(3, new byte[1021]);
            file.Sync();
        }
        storage.SyncDirectory();

        await using var journal = SegmentJournal.Open(storage, SmallSegments);

        Assert.Equal(200, journal.LastSequence);
        Assert.DoesNotContain(next, storage.ListFiles());
        var ticket = journal.Append(Payload(201));
        await ticket.Durable;
        Assert.Equal(201, ticket.Sequence);
    }

    [Fact]
    public async Task LastSegmentWithADamagedHeaderAndFirstRecordBeforeValidRecords_StopsStartUp()
    {
        var storage = await StorageWithRecords(200);
        var last = Segments(storage)[^1];
        storage.Corrupt(last, 2);
        storage.Corrupt(last, RecordFormat.SegmentHeaderBytes + 5);

        var e = Assert.Throws<JournalCorruptException>(() => SegmentJournal.Open(storage, SmallSegments));
        Assert.Equal(0, e.Offset);
    }

    [Fact]
    public async Task Backpressure_RefusesAppendsBeyondThePendingBound()
    {
        var storage = new SimulatedStorage(seed: 7);
        await using var journal = SegmentJournal.Open(storage, OneSegment with { PendingBytesMax = 64 });

        journal.Append(new byte[40]);
        Assert.Throws<JournalBackpressureException>(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                journal.Append(new byte[40]);
            }
        });
    }

    [Fact]
    public async Task Verify_ReportsRecordsAndTheTornTailWithoutChangingAnything()
    {
        var storage = await StorageWithRecords(50);
        var last = Segments(storage)[^1];
        using (var file = storage.Open(last, create: false))
        {
            file.Write(RecordsEnd(storage.Contents(last)), [9, 9, 9]);
            file.Sync();
        }
        var before = storage.Contents(last);

        var report = JournalVerifier.Verify(storage);

        Assert.Equal(50, report.Records);
        Assert.Equal(1, report.FirstSequence);
        Assert.Equal(50, report.LastSequence);
        Assert.Equal(3, report.TornTailBytes);
        Assert.Empty(report.Errors);
        Assert.Equal(before, storage.Contents(last));
    }

    [Fact]
    public async Task Verify_ReportsCorruptionAsAnError()
    {
        var storage = await StorageWithRecords(50);
        storage.Corrupt(Segments(storage)[0], RecordFormat.SegmentHeaderBytes + 3);

        var report = JournalVerifier.Verify(storage);

        Assert.NotEmpty(report.Errors);
        Assert.Contains(Segments(storage)[0], report.Errors[0]);
    }
}
