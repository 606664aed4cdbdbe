using Surge.Journal;
using Surge.Testing;

namespace Surge.Journal.Tests;

/// <summary>The contract on a real directory, with fdatasync.</summary>
public sealed class DirectoryJournalContractTests : JournalContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-journal-").FullName;

    protected override IJournal OpenJournal() =>
        SegmentJournal.Open(new DirectoryStorage(_directory), new JournalOptions { SegmentBytesMax = 4096 });

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

/// <summary>The contract on the simulated disk the simulation uses.</summary>
public sealed class SimulatedJournalContractTests : JournalContractTests
{
    private readonly SimulatedStorage _storage = new(seed: 1);

    protected override IJournal OpenJournal() => SegmentJournal.Open(_storage, new JournalOptions { SegmentBytesMax = 2048 });
}

/// <summary>The contract on a real directory, its group commits made by a node's shared committer.</summary>
public sealed class CommittedDirectoryJournalContractTests : JournalContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-journal-").FullName;
    private readonly GroupCommitter _committer = new();

    protected override IJournal OpenJournal() =>
        SegmentJournal.Open(new DirectoryStorage(_directory), new JournalOptions { SegmentBytesMax = 4096, Committer = _committer });

    public void Dispose()
    {
        _committer.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>The contract on the simulated disk, with a shared committer and segments that are not preallocated (every
/// group grows its file, so the committer syncs it on its own).</summary>
public sealed class CommittedSimulatedJournalContractTests : JournalContractTests, IDisposable
{
    private readonly SimulatedStorage _storage = new(seed: 2);
    private readonly GroupCommitter _committer = new();

    protected override IJournal OpenJournal() =>
        SegmentJournal.Open(_storage, new JournalOptions { SegmentBytesMax = 2048, PreallocateSegments = false, Committer = _committer });

    public void Dispose() => _committer.Dispose();
}

/// <summary>Readers against a disk whose syncs can be held.</summary>
public sealed class JournalReaderTests
{
    [Fact]
    public async Task Reader_NeverSeesARecordBeforeItIsDurable()
    {
        using var storage = new GatedStorage(new SimulatedStorage(seed: 7));
        await using var journal = SegmentJournal.Open(storage, new JournalOptions { SegmentBytesMax = 2048, PreallocateSegments = false });
        await journal.Append([1]).Durable;
        using var reader = journal.OpenReader(afterSequence: 0);

        storage.Hold();
        var held = journal.Append([2]);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!storage.Waiting && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
        }
        Assert.True(storage.Waiting, "the writer should be waiting on the held sync");

        var seen = new List<long>();
        reader.Read(10, (sequence, _) => seen.Add(sequence));
        Assert.Equal([1L], seen);

        storage.Release();
        await held.Durable;
        reader.Read(10, (sequence, _) => seen.Add(sequence));
        Assert.Equal([1L, 2L], seen);
    }
}
