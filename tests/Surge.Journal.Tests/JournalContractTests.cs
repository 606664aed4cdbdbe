using System.Text;
using Surge.Journal;

namespace Surge.Journal.Tests;

/// <summary>
/// The contract every <see cref="IJournal"/> backend must pass. A backend's test class derives from this
/// and says how to open (and reopen) a journal on the same durable store.
/// </summary>
public abstract class JournalContractTests : IAsyncLifetime
{
    private IJournal? _journal;

    /// <summary>Opens the journal over the backend's store, which outlives each journal instance.</summary>
    protected abstract IJournal OpenJournal();

    protected IJournal Journal => _journal ??= OpenJournal();

    protected async Task<IJournal> ReopenAsync()
    {
        if (_journal is not null)
        {
            await _journal.DisposeAsync();
        }
        _journal = OpenJournal();
        return _journal;
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_journal is not null)
        {
            await _journal.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    protected static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"record-{i}-" + new string('x', i % 50));

    protected static List<(long Sequence, byte[] Payload)> ReadAll(IJournal journal, long after = 0)
    {
        var records = new List<(long, byte[])>();
        journal.Replay(after, (sequence, payload) => records.Add((sequence, payload.ToArray())));
        return records;
    }

    protected async Task AppendAllAsync(int count, int start = 1)
    {
        var tickets = Enumerable.Range(start, count).Select(i => Journal.Append(Payload(i))).ToList();
        await Task.WhenAll(tickets.Select(t => t.Durable));
    }

    [Fact]
    public async Task Append_ThenReplay_ReturnsEveryRecordInOrder()
    {
        await AppendAllAsync(100);

        var records = ReadAll(Journal);

        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.All(records, r => Assert.Equal(Payload((int)r.Sequence), r.Payload));
        Assert.Equal(100, Journal.LastSequence);
        Assert.Equal(100, Journal.DurableSequence);
    }

    [Fact]
    public async Task Replay_AfterASequence_SkipsTheEarlierRecords()
    {
        await AppendAllAsync(20);

        Assert.Equal(Enumerable.Range(16, 5).Select(i => (long)i), ReadAll(Journal, after: 15).Select(r => r.Sequence));
        Assert.Empty(ReadAll(Journal, after: 20));
    }

    [Fact]
    public async Task Reopen_KeepsEveryDurableRecordAndContinuesTheSequence()
    {
        await AppendAllAsync(30);

        var reopened = await ReopenAsync();
        var next = reopened.Append(Payload(31));
        await next.Durable;

        Assert.Equal(31, next.Sequence);
        Assert.Equal(31, ReadAll(reopened).Count);
    }

    [Fact]
    public async Task ConcurrentAppenders_GetUniqueContiguousSequences()
    {
        const int threads = 8, perThread = 500;
        var sequences = new long[threads][];
        var journal = Journal;
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            var mine = new long[perThread];
            for (var i = 0; i < perThread; i++)
            {
                var ticket = journal.Append(Payload(t * perThread + i));
                mine[i] = ticket.Sequence;
                if (i % 50 == 0)
                {
                    await ticket.Durable;
                }
            }
            sequences[t] = mine;
        })));
        await Journal.Append(Payload(0)).Durable;

        var all = sequences.SelectMany(s => s).Order().ToArray();
        Assert.Equal(Enumerable.Range(1, threads * perThread).Select(i => (long)i), all);
        Assert.All(sequences, s => Assert.True(s.SequenceEqual(s.Order()), "one appender's sequences increase"));
        Assert.Equal(threads * perThread + 1, ReadAll(Journal).Count);
    }

    [Fact]
    public void Append_EmptyOrOversizedPayload_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Journal.Append([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Journal.Append(new byte[RecordFormat.RecordPayloadBytesMax + 1]));
        Assert.Equal(0, Journal.LastSequence);
    }

    [Fact]
    public async Task Snapshot_IsFoundAfterReopenWithItsBytes()
    {
        await AppendAllAsync(10);
        var state = Encoding.UTF8.GetBytes("state after ten records");
        await Journal.WriteSnapshotAsync(10, s => s.Write(state), TestContext.Current.CancellationToken);

        var reopened = await ReopenAsync();
        var snapshot = reopened.LatestSnapshot;

        Assert.NotNull(snapshot);
        Assert.Equal(10, snapshot.Sequence);
        using var stream = reopened.OpenSnapshot(snapshot);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        Assert.Equal(state, copy.ToArray());
    }

    [Fact]
    public async Task Snapshot_OfARecordNotYetDurable_IsRefused()
    {
        await AppendAllAsync(3);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Journal.WriteSnapshotAsync(4, _ => { }, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Compact_DropsWhatTheSnapshotsMadeUnnecessary_AndReplayFromThemStillWorks()
    {
        for (var round = 0; round < 4; round++)
        {
            await AppendAllAsync(200, start: round * 200 + 1);
            await Journal.WriteSnapshotAsync(Journal.DurableSequence, s => s.WriteByte((byte)round), TestContext.Current.CancellationToken);
            Journal.Compact();
        }
        await AppendAllAsync(5, start: 801);

        var fallback = 600; // the snapshot before the newest is kept as a fallback
        Assert.Equal(Enumerable.Range(fallback + 1, 205).Select(i => (long)i), ReadAll(Journal, after: fallback).Select(r => r.Sequence));
        Assert.Throws<JournalGapException>(() => ReadAll(Journal, after: 0));

        var reopened = await ReopenAsync();
        Assert.Equal(800, reopened.LatestSnapshot!.Sequence);
        Assert.Equal(805, reopened.LastSequence);
        Assert.Equal(5, ReadAll(reopened, after: 800).Count);
    }

    protected static List<long> ReadSome(IJournalReader reader, int maxRecords, List<byte[]>? payloads = null)
    {
        var sequences = new List<long>();
        reader.Read(maxRecords, (sequence, payload) =>
        {
            sequences.Add(sequence);
            payloads?.Add(payload.ToArray());
        });
        return sequences;
    }

    [Fact]
    public async Task Reader_VisitsEveryDurableRecordInOrder_AcrossSegments_ThenFollowsNewAppends()
    {
        await AppendAllAsync(100);
        using var reader = Journal.OpenReader(afterSequence: 0);

        var seen = new List<long>();
        var payloads = new List<byte[]>();
        for (var round = 0; round < 20 && seen.Count < 100; round++)
        {
            var batch = ReadSome(reader, 7, payloads);
            Assert.InRange(batch.Count, 1, 7);
            seen.AddRange(batch);
        }
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), seen);
        Assert.Equal(Enumerable.Range(1, 100).Select(Payload), payloads);
        Assert.Empty(ReadSome(reader, 10));
        Assert.Equal(100, reader.Position);

        await AppendAllAsync(30, start: 101);
        Assert.Equal(Enumerable.Range(101, 30).Select(i => (long)i), ReadSome(reader, 1000));
    }

    [Fact]
    public async Task Reader_OpenedAfterASequence_StartsAfterIt_AndCarriesRecordsLargerThanItsBuffer()
    {
        await AppendAllAsync(20);
        var large = new byte[1024 * 1024 + 3];
        Random.Shared.NextBytes(large);
        await Journal.Append(large).Durable;
        await AppendAllAsync(1, start: 22);
        using var reader = Journal.OpenReader(afterSequence: 15);

        var payloads = new List<byte[]>();
        Assert.Equal(Enumerable.Range(16, 7).Select(i => (long)i), ReadSome(reader, 100, payloads));
        Assert.Equal(large, payloads[5]);
        Assert.Equal(Payload(22), payloads[6]);
    }

    [Fact]
    public async Task Compact_KeepsWhatAnOpenReaderHasNotReleased()
    {
        using var reader = Journal.OpenReader(afterSequence: 0);
        for (var round = 0; round < 4; round++)
        {
            await AppendAllAsync(200, start: round * 200 + 1);
            await Journal.WriteSnapshotAsync(Journal.DurableSequence, s => s.WriteByte((byte)round), TestContext.Current.CancellationToken);
            Journal.Compact();
        }

        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), ReadSome(reader, 300));
        reader.Release(250);
        Journal.Compact();

        Assert.Throws<JournalGapException>(() => Journal.OpenReader(afterSequence: 0).Dispose());
        Assert.Equal(Enumerable.Range(301, 500).Select(i => (long)i), ReadSome(reader, 1000));
        using var late = Journal.OpenReader(afterSequence: 250);
        Assert.Equal(251, ReadSome(late, 1).Single());
    }

    [Fact]
    public async Task Append_AfterDispose_IsRefused()
    {
        var journal = Journal;
        await journal.DisposeAsync();
        Assert.ThrowsAny<Exception>(() => journal.Append(Payload(1)));
    }
}
