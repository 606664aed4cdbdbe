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
