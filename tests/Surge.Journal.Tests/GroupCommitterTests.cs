using Surge.Testing;

namespace Surge.Journal.Tests;

/// <summary>Journals of one node sharing a <see cref="GroupCommitter"/>: one device flush per round must make every
/// acknowledged record of every journal durable, on every device in the round.</summary>
public sealed class GroupCommitterTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static byte[] Payload(int journal, int i) => [(byte)journal, (byte)(i >> 16), (byte)(i >> 8), (byte)i, 0x5A];

    /// <summary>Appends <paramref name="perJournal"/> records to each journal from concurrent appenders and returns, per
    /// journal, the records whose durability was acknowledged (sequence → payload).</summary>
    private static async Task<Dictionary<long, byte[]>[]> AppendEverywhereAsync(SegmentJournal[] journals, int perJournal)
    {
        var acknowledged = journals.Select(_ => new Dictionary<long, byte[]>()).ToArray();
        var appenders = journals.SelectMany((journal, j) => Enumerable.Range(0, 4).Select(a => Task.Run(async () =>
        {
            for (var i = a; i < perJournal; i += 4)
            {
                var payload = Payload(j, i);
                AppendTicket ticket;
                try
                {
                    ticket = journal.Append(payload);
                }
                catch (JournalException)
                {
                    return; // failed or closed by the crash
                }
                try
                {
                    await ticket.Durable;
                }
                catch (JournalException)
                {
                    return;
                }
                lock (acknowledged[j])
                {
                    acknowledged[j][ticket.Sequence] = payload;
                }
            }
        }))).ToArray();
        await Task.WhenAll(appenders).WaitAsync(Deadline);
        return acknowledged;
    }

    private static Dictionary<long, byte[]> ReadAll(SegmentJournal journal)
    {
        var records = new Dictionary<long, byte[]>();
        journal.Replay(0, (sequence, payload) => records.Add(sequence, payload.ToArray()));
        return records;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task PowerLossMidRound_KeepsEveryAcknowledgedRecordOfEveryJournal(int seed)
    {
        var disk = new SimulatedStorage(seed);
        var storages = new[] { disk, disk.Sibling(), disk.Sibling(), disk.Sibling() };
        // Three preallocated journals (written back, flushed once per round) and one that grows its file (synced alone).
        JournalOptions Options(int j, GroupCommitter committer) => new()
        {
            SegmentBytesMax = 4096, PreallocateSegments = j != 3, BackgroundFileWork = false, Committer = committer,
        };
        var committer = new GroupCommitter();
        var journals = storages.Select((s, j) => SegmentJournal.Open(s, Options(j, committer))).ToArray();
        disk.CrashAtByte = disk.BytesWritten + 20_000 + new Random(seed).Next(40_000);

        var acknowledged = await AppendEverywhereAsync(journals, perJournal: 4_000);

        Assert.True(disk.Crashed, "the disk should have crashed mid-run");
        Assert.True(committer.Groups > committer.Stats.Commits, "rounds should have carried several journals' groups");
        foreach (var journal in journals)
        {
            await journal.DisposeAsync();
        }
        committer.Dispose();
        disk.Restart();
        for (var j = 0; j < journals.Length; j++)
        {
            await using var reopened = SegmentJournal.Open(storages[j], new JournalOptions { SegmentBytesMax = 4096 });
            var kept = ReadAll(reopened);
            Assert.NotEmpty(acknowledged[j]);
            foreach (var (sequence, payload) in acknowledged[j])
            {
                Assert.True(kept.TryGetValue(sequence, out var found), $"journal {j}: acknowledged record {sequence} was lost");
                Assert.Equal(payload, found);
            }
        }
    }

    [Fact]
    public async Task JournalsOnTwoDevices_EachDeviceIsFlushed()
    {
        var first = new SimulatedStorage(seed: 11);
        var second = new SimulatedStorage(seed: 12);
        var committer = new GroupCommitter();
        var options = new JournalOptions { SegmentBytesMax = 4096, BackgroundFileWork = false, Committer = committer };
        var journals = new[] { SegmentJournal.Open(first, options), SegmentJournal.Open(second, options) };

        var acknowledged = await AppendEverywhereAsync(journals, perJournal: 500);
        first.Crash();
        second.Crash();
        first.Restart();
        second.Restart();

        for (var j = 0; j < 2; j++)
        {
            await using var reopened = SegmentJournal.Open(j == 0 ? first : second, new JournalOptions { SegmentBytesMax = 4096 });
            var kept = ReadAll(reopened);
            Assert.Equal(500, acknowledged[j].Count);
            Assert.All(acknowledged[j], record => Assert.Equal(record.Value, kept.GetValueOrDefault(record.Key)));
        }
        foreach (var journal in journals)
        {
            await journal.DisposeAsync(); // after the crash: closing fails nothing that was acknowledged
        }
        committer.Dispose();
    }

    [Fact]
    public async Task AFailedFlush_FailsEveryGroupItCovered_AndNoneOfThemIsReplayed()
    {
        var slow = new GatedStorage(new SimulatedStorage(seed: 21));
        var disk = new SimulatedStorage(seed: 22);
        var storages = new[] { disk, disk.Sibling(), disk.Sibling() };
        using var committer = new GroupCommitter();
        var options = new JournalOptions { SegmentBytesMax = 4096, BackgroundFileWork = false, Committer = committer };
        await using var blocker = SegmentJournal.Open(slow, options);
        var journals = storages.Select(s => SegmentJournal.Open(s, options)).ToArray();
        foreach (var journal in journals)
        {
            await journal.Append(Payload(0, 1)).Durable;
        }

        // Hold the committer in a round on the other device, so that the three journals' next groups share one round.
        slow.Hold();
        var blocked = blocker.Append(Payload(9, 1));
        var until = DateTime.UtcNow + Deadline;
        while (!slow.Waiting && DateTime.UtcNow < until)
        {
            await Task.Yield();
        }
        Assert.True(slow.Waiting, "the committer should be waiting on the held sync");
        var failing = journals.Select((j, i) => j.Append(Payload(i, 2))).ToArray();
        disk.FailNextSync = true;
        slow.Release();
        await blocked.Durable;

        foreach (var ticket in failing)
        {
            await Assert.ThrowsAsync<JournalWriteException>(() => ticket.Durable.WaitAsync(Deadline, TestContext.Current.CancellationToken));
        }
        for (var j = 0; j < journals.Length; j++)
        {
            Assert.Throws<JournalUnavailableException>(() => journals[j].Append(Payload(j, 3)));
            await journals[j].DisposeAsync();
            await using var reopened = SegmentJournal.Open(storages[j], new JournalOptions { SegmentBytesMax = 4096 });
            Assert.Equal([1L], ReadAll(reopened).Keys.Order());
        }
    }
}
