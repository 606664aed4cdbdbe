using Npgsql;
using Surge.Journal.Postgres;
using Surge.Testing;

namespace Surge.Journal.Tests;

/// <summary>One PostgreSQL server (Debian's, started on loopback in a temporary directory) for a test class.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private LocalPostgres? _server;

    public NpgsqlDataSource Source { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LocalPostgres.StartAsync();
        Source = NpgsqlDataSource.Create(_server.ConnectionString);
        await PostgresJournal.EnsureSchemaAsync(Source);
    }

    public async ValueTask DisposeAsync()
    {
        await Source.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private static int _partitions;

    /// <summary>A partition no other test uses: each test gets its own journal in the shared database.</summary>
    public static int NewPartition() => Interlocked.Increment(ref _partitions);
}

/// <summary>The journal contract on PostgreSQL: each test on its own partition; reopening takes the partition over.</summary>
public sealed class PostgresJournalContractTests(PostgresFixture postgres) : JournalContractTests, IClassFixture<PostgresFixture>
{
    private readonly int _partition = PostgresFixture.NewPartition();

    protected override IJournal OpenJournal() => PostgresJournal.Open(postgres.Source, _partition, "test");
}

/// <summary>Fencing: an instance that lost the partition (a zombie) can never append after the new owner took over.</summary>
public sealed class PostgresJournalFencingTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task AnOlderInstance_IsFencedOut_AndWritesNothingAfterTheTakeover()
    {
        var partition = PostgresFixture.NewPartition();
        await using var old = PostgresJournal.Open(postgres.Source, partition, "node-a");
        for (var i = 1; i <= 10; i++)
        {
            await old.Append([(byte)i]).Durable;
        }

        await using var taker = PostgresJournal.Open(postgres.Source, partition, "node-b");
        Assert.True(taker.Epoch > old.Epoch);
        Assert.Equal(10, taker.LastSequence);

        var zombie = old.Append([99]);
        await Assert.ThrowsAsync<JournalFencedException>(() => zombie.Durable);
        Assert.Throws<JournalUnavailableException>(() => old.Append([100]));

        var next = taker.Append([11]);
        await next.Durable;
        Assert.Equal(11, next.Sequence);
        var records = new List<(long Sequence, byte Value)>();
        taker.Replay(0, (sequence, payload) => records.Add((sequence, payload[0])));
        Assert.Equal(Enumerable.Range(1, 11).Select(i => ((long)i, (byte)i)), records);
        await Assert.ThrowsAsync<JournalFencedException>(() => old.WriteSnapshotAsync(10, s => s.WriteByte(1), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ACommitInFlight_FinishesBeforeTheTakeover_AndTheNewOwnerSeesIt()
    {
        var partition = PostgresFixture.NewPartition();
        await using var old = PostgresJournal.Open(postgres.Source, partition, "node-a");
        var tickets = Enumerable.Range(1, 2000).Select(i => old.Append(BitConverter.GetBytes(i))).ToList();

        await using var taker = PostgresJournal.Open(postgres.Source, partition, "node-b");

        // Every record the old owner was told is durable is in the new owner's journal; the rest were refused.
        var durable = 0;
        foreach (var ticket in tickets)
        {
            try
            {
                await ticket.Durable;
                durable++;
            }
            catch (JournalFencedException)
            {
            }
        }
        Assert.Equal(durable, taker.LastSequence);
        var count = 0;
        taker.Replay(0, (_, _) => count++);
        Assert.Equal(durable, count);
    }
}

/// <summary>The database going away: what was durable stays acknowledged, what was not fails, and the journal
/// refuses further appends instead of pretending.</summary>
public sealed class PostgresJournalFailureTests
{
    [Fact]
    public async Task ServerStops_PendingAppendsFail_AndTheJournalRefusesMore()
    {
        var server = await LocalPostgres.StartAsync();
        await using var source = NpgsqlDataSource.Create(server.ConnectionString + ";Timeout=5;Command Timeout=5");
        await PostgresJournal.EnsureSchemaAsync(source, TestContext.Current.CancellationToken);
        await using var journal = PostgresJournal.Open(source, 1, "node-a");
        await journal.Append([1]).Durable;

        await server.DisposeAsync(); // the database is gone

        var lost = journal.Append([2]);
        var failure = await Assert.ThrowsAnyAsync<JournalException>(() => lost.Durable);
        Assert.IsType<JournalWriteException>(failure);
        Assert.Throws<JournalUnavailableException>(() => journal.Append([3]));
        Assert.Equal(1, journal.DurableSequence);
    }
}

/// <summary>Silos of a new cluster start together and each creates the tables.</summary>
public sealed class PostgresSchemaTests
{
    [Fact]
    public async Task SilosCreatingTheSchemaAtOnce_AllSucceed_AndTheTablesExist()
    {
        await using var server = await LocalPostgres.StartAsync();
        await using var source = NpgsqlDataSource.Create(server.ConnectionString);
        var token = TestContext.Current.CancellationToken;
        using var start = new Barrier(8);
        var silos = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            start.SignalAndWait(token);
            await PostgresJournal.EnsureSchemaAsync(source, token);
            await PostgresControlLog.EnsureSchemaAsync(source, token);
            await PostgresFileStorage.EnsureSchemaAsync(source, token);
        }, token));
        await Task.WhenAll(silos);

        await using var count = source.CreateCommand(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('surge_partitions', 'surge_records', 'surge_snapshots', 'surge_control', 'surge_files')");
        Assert.Equal(5L, await count.ExecuteScalarAsync(token));
    }
}

/// <summary>Checkpoints in PostgreSQL (<see cref="PostgresFileStorage"/>): what one silo writes through temp file, sync
/// and rename, another reads back whole; nothing unsynced is visible.</summary>
public sealed class PostgresFileStorageTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task ASnapshotWrittenByOneInstance_IsReadBackByAnother_AndOlderOnesAreReplaced()
    {
        await PostgresFileStorage.EnsureSchemaAsync(postgres.Source, TestContext.Current.CancellationToken);
        var bucket = "test/" + PostgresFixture.NewPartition();
        var writer = new PostgresFileStorage(postgres.Source, bucket);
        var payload = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31)).ToArray();
        SnapshotFiles.Write(writer, 41, s => s.Write(payload.AsSpan(0, 10)));
        SnapshotFiles.Write(writer, 42, s => s.Write(payload));
        writer.Delete(SnapshotFiles.Name(41));

        var reader = new PostgresFileStorage(postgres.Source, bucket);
        Assert.Equal([SnapshotFiles.Name(42)], reader.ListFiles());
        var info = SnapshotFiles.Validate(reader, SnapshotFiles.Name(42), out var problem);
        Assert.True(info is not null, problem);
        Assert.Equal(42, info.Sequence);
        using var stream = SnapshotFiles.OpenPayload(reader, info);
        var read = new byte[payload.Length];
        stream.ReadExactly(read);
        Assert.Equal(payload, read);
        Assert.Empty(new PostgresFileStorage(postgres.Source, bucket + "-other").ListFiles());
    }

    [Fact]
    public async Task AFileExistsForOthersOnlyOnceSynced_AndRenameReplacesTheTarget()
    {
        await PostgresFileStorage.EnsureSchemaAsync(postgres.Source, TestContext.Current.CancellationToken);
        var storage = new PostgresFileStorage(postgres.Source, "test/" + PostgresFixture.NewPartition());
        using (var old = storage.Open("target", create: true))
        {
            old.Write(0, [1, 2, 3, 4]);
            old.Sync();
        }
        using var file = storage.Open("temp", create: true);
        file.Write(0, [9, 9]);
        Assert.Throws<FileNotFoundException>(() => storage.Open("temp", create: false));
        file.Sync();
        storage.Rename("temp", "target");

        Assert.Equal(["target"], storage.ListFiles());
        using var target = storage.Open("target", create: false);
        var bytes = new byte[8];
        Assert.Equal(2, target.Read(0, bytes));
        Assert.Equal(new byte[] { 9, 9 }, bytes[..2]);
        Assert.Throws<FileNotFoundException>(() => storage.Rename("missing", "target"));
    }
}
