using Microsoft.Data.Sqlite;
using Npgsql;
using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.ReadModel.Tests;

/// <summary>One partition's journal projected into a read model — the embedded SQLite file and a cluster's PostgreSQL,
/// the same tests for both: what each change writes, what a repeat, a restart, a stale writer and a journal compacted
/// before the read model existed do to it.</summary>
public abstract class OrderProjectorTests : IAsyncDisposable
{
    private const long SellerA = 3, SellerB = 4;
    private const long DayMs = 24L * 3600 * 1000;
    private static readonly long T0 = new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(); // a Monday
    private static readonly int Day0 = (int)(T0 / DayMs);
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 512, PreallocateSegments = false }; // a few records each

    private readonly SimulatedStorage _partitionDisk = new(seed: 21);
    private readonly SimulatedStorage _checkpoints = new(seed: 22);
    private readonly CommandWriter _writer = new();
    private readonly List<ReadModelStore> _stores = [];
    private DurablePartition? _partition;

    private DurablePartition Partition => _partition ??= DurablePartition.Recover(SegmentJournal.Open(_partitionDisk, Options));

    /// <summary>Opens (creating when new) the read model called <paramref name="name"/>: a file, or a database.</summary>
    protected abstract ReadModelStore Open(string name);

    private ReadModelStore OpenStore(string name = "orders")
    {
        var store = Open(name);
        _stores.Add(store);
        return store;
    }

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
        if (_partition is not null)
        {
            await _partition.Journal.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    private async Task SubmitAsync(long nowMs, Action<CommandWriter> commands)
    {
        commands(_writer.Begin(nowMs));
        await Partition.Submit(_writer.Written).Durable;
    }

    // SKU references in order of upsert: 0 mug (A, 9,000), 1 milk (A, 3,000), 2 pen (B, 500); one warehouse.
    private async Task CatalogAsync() =>
        await SubmitAsync(T0 - DayMs, w => w
            .UpsertWarehouse("wh-seoul", "kr-seoul", "KR")
            .UpsertSku(new SkuDefinition(SellerA, "mug", "Mug", "kitchen", 400, 120, 90, 100, TemperatureClass.Ambient, false, 9_000, "KRW"))
            .UpsertSku(new SkuDefinition(SellerA, "milk", "Milk", "food", 1_000, 100, 100, 200, TemperatureClass.Chilled, false, 3_000, "KRW"))
            .UpsertSku(new SkuDefinition(SellerB, "pen", "Pen", "office", 10, 150, 10, 10, TemperatureClass.Ambient, false, 500, "KRW"))
            .ReceiveStock(0, 0, 1_000)
            .ReceiveStock(1, 0, 1_000)
            .ReceiveStock(2, 0, 1_000));

    private Task PlaceAsync(long at, long order, long buyer, long seller, params OrderLine[] lines) =>
        SubmitAsync(at, w => w.PlaceOrder(order, order >> 6, buyer, seller, at + 600_000, 0, CountryCode.Pack("KR"), lines));

    /// <summary>The story every test starts from (sellers A and B, buyers 900 and 901):
    /// 64: A, buyer 900, 2 mugs on day 0, paid, then carried to delivered;
    /// 128: A, buyer 901, 1 milk on day 1, left unpaid: its hold expires (payment timeout) at the next batch, a day later;
    /// 192: A, buyer 900, 1 mug + 3 milk on day 2, paid, then cancelled (a refund);
    /// 256: B, buyer 900, 5 pens on day 2, cancelled before payment;
    /// 320: A, buyer 901, 4 mugs on day 3, paid.</summary>
    private async Task StoryAsync()
    {
        await CatalogAsync();
        await PlaceAsync(T0, 64, 900, SellerA, new OrderLine(0, 2));
        await SubmitAsync(T0 + 1_000, w => w.ConfirmPayment(64));
        foreach (var status in new[] { OrderStatus.Allocated, OrderStatus.Dispatched, OrderStatus.InTransit, OrderStatus.Delivered })
        {
            await SubmitAsync(T0 + 2_000 + (int)status, w => w.AdvanceStatus(64, status));
        }
        await PlaceAsync(T0 + DayMs, 128, 901, SellerA, new OrderLine(1, 1));
        await PlaceAsync(T0 + 2 * DayMs, 192, 900, SellerA, new OrderLine(0, 1), new OrderLine(1, 3));
        await SubmitAsync(T0 + 2 * DayMs + 1_000, w => w.ConfirmPayment(192));
        await PlaceAsync(T0 + 2 * DayMs, 256, 900, SellerB, new OrderLine(2, 5));
        await SubmitAsync(T0 + 2 * DayMs + 2_000, w => w.CancelOrder(192, CancelReason.Buyer).CancelOrder(256, CancelReason.Buyer));
        await PlaceAsync(T0 + 3 * DayMs, 320, 901, SellerA, new OrderLine(0, 4));
        await SubmitAsync(T0 + 3 * DayMs + 1_000, w => w.ConfirmPayment(320));
    }

    private OrderProjector Projector(ReadModelStore store, IJournalStorage? checkpoints = null, int recordsPerStep = 3) =>
        new(0, Partition.Journal, checkpoints ?? _checkpoints, store, new ProjectorOptions { RecordsPerStep = recordsPerStep, SeedOrdersPerCommit = 2 });

    private static void Drain(OrderProjector projector)
    {
        for (var steps = 0; steps < 10_000 && projector.Step() > 0; steps++)
        {
        }
        Assert.Equal(0, projector.Lag(0).Records);
    }

    private static long[] Ids(OrderPage page) => [.. page.Orders.Select(o => o.OrderId)];

    [Fact]
    public async Task EveryOrder_StatusAndSale_IsProjected_AndTheFiltersSelectFromThem()
    {
        await StoryAsync();
        var store = OpenStore();
        using var projector = Projector(store);
        Drain(projector);

        var all = store.SellerOrders(SellerA, new OrderFilter(), null, 100);
        Assert.Equal([64L, 128, 192, 320], Ids(all));
        Assert.Null(all.Next);
        Assert.Equal([OrderStatus.Delivered, OrderStatus.Cancelled, OrderStatus.Cancelled, OrderStatus.Paid], all.Orders.Select(o => o.Status));
        Assert.Equal(CancelReason.PaymentTimeout, all.Orders[1].CancelReason);
        var refunded = all.Orders[2];
        Assert.Equal((CancelReason.Buyer, 4, 9_000 + 3 * 3_000L, "KRW"), (refunded.CancelReason, refunded.Units, refunded.AmountMinor, refunded.Currency));
        Assert.Equal([new OrderLineRow("mug", "wh-seoul", 1, 9_000), new OrderLineRow("milk", "wh-seoul", 3, 3_000)], refunded.Lines);

        Assert.Equal([64L], Ids(store.SellerOrders(SellerA, new OrderFilter(Status: OrderStatus.Delivered), null, 100)));
        Assert.Equal([64L, 192], Ids(store.SellerOrders(SellerA, new OrderFilter(BuyerId: 900), null, 100)));
        Assert.Equal([128L, 192], Ids(store.SellerOrders(SellerA, new OrderFilter(Sku: "milk"), null, 100)));
        Assert.Equal([128L, 192], Ids(store.SellerOrders(SellerA, new OrderFilter(FromMs: T0 + DayMs, ToMs: T0 + 3 * DayMs), null, 100)));
        Assert.Equal([256L], Ids(store.SellerOrders(SellerB, new OrderFilter(), null, 100)));
        Assert.Equal([64L, 192, 256], Ids(store.BuyerOrders(900, null, 100)));
        Assert.Equal([64L], store.OrdersOfParent(1).Select(o => o.OrderId));

        Assert.Equal([OrderStatus.PendingPayment, OrderStatus.Paid, OrderStatus.Allocated, OrderStatus.Dispatched, OrderStatus.InTransit, OrderStatus.Delivered],
            store.History(64).Select(s => s.Status));
        Assert.Equal([OrderStatus.PendingPayment, OrderStatus.Paid, OrderStatus.Cancelled], store.History(192).Select(s => s.Status));
        Assert.Equal([OrderStatus.PendingPayment, OrderStatus.Cancelled], store.History(128).Select(s => s.Status));

        // Sold: paid or further, not cancelled, by placement day — 64 (2 mugs, day 0) and 320 (4 mugs, day 3); 192 was
        // refunded, 128 never paid, 256 cancelled unpaid.
        var sold = store.SkuDays(SellerA, Day0, Day0 + 7).Where(d => d.Units != 0).ToList();
        Assert.Equal([new SkuDay("mug", Day0, 2, 18_000), new SkuDay("mug", Day0 + 3, 4, 36_000)], sold);
        Assert.DoesNotContain(store.SkuDays(SellerB, Day0, Day0 + 7), d => d.Units != 0);

        Assert.Equal(Partition.Journal.DurableSequence, store.Position(0).Sequence);
    }

    [Fact]
    public async Task RepeatingEveryRecord_ChangesNothing()
    {
        await StoryAsync();
        var store = OpenStore();
        using (var projector = Projector(store))
        {
            Drain(projector); // and crashed before any checkpoint: the next one starts from record 1 again
        }
        var before = Dump(store);

        using var again = Projector(store, new SimulatedStorage(seed: 23));
        Assert.Equal(0, again.Position);
        Drain(again);

        Assert.Equal(before, Dump(store));
    }

    [Fact]
    public async Task OneCommitForTheWholeJournal_WritesTheSameRows_AsACommitPerRecord()
    {
        await StoryAsync();
        await SubmitAsync(T0 + 4 * DayMs, w => w
            .PlaceOrder(384, 6, 900, SellerA, T0 + 4 * DayMs + 600_000, 0, CountryCode.Pack("KR"), [new OrderLine(0, 1), new OrderLine(1, 2)])
            .ConfirmPayment(384)
            .AdvanceStatus(384, OrderStatus.Allocated)); // placed, paid and allocated in one record
        var perRecord = OpenStore("per-record");
        using (var projector = Projector(perRecord, new SimulatedStorage(seed: 24), recordsPerStep: 1))
        {
            Drain(projector);
        }
        var whole = OpenStore("whole");
        using (var projector = Projector(whole, new SimulatedStorage(seed: 25), recordsPerStep: 10_000))
        {
            Assert.Equal(Partition.Journal.DurableSequence, projector.Step()); // every record in one commit
            Drain(projector);
        }

        // The same rows, but for SKU days at zero: one commit nets a payment refunded in it without writing the day.
        Assert.Equal(Dump(perRecord, withoutZeroDays: true), Dump(whole, withoutZeroDays: true));
        Assert.Equal([OrderStatus.PendingPayment, OrderStatus.Paid, OrderStatus.Allocated], whole.History(384).Select(s => s.Status));
        Assert.Equal([new SkuDay("milk", Day0 + 4, 2, 6_000), new SkuDay("mug", Day0 + 4, 1, 9_000)],
            whole.SkuDays(SellerA, Day0 + 4, Day0 + 5));
    }

    [Fact]
    public async Task ARestart_ContinuesFromItsCheckpoint_AndLosesNothing()
    {
        await CatalogAsync();
        await PlaceAsync(T0, 64, 900, SellerA, new OrderLine(0, 1));
        var store = OpenStore();
        long saved;
        using (var projector = Projector(store))
        {
            Drain(projector);
            projector.Checkpoint();
            saved = projector.Position;
        }
        await SubmitAsync(T0 + 1_000, w => w.ConfirmPayment(64));
        await PlaceAsync(T0 + 2_000, 128, 901, SellerA, new OrderLine(0, 2));

        using var next = Projector(store);
        Assert.Equal(saved, next.Position);
        Drain(next);

        Assert.Equal([OrderStatus.Paid, OrderStatus.PendingPayment], store.SellerOrders(SellerA, new OrderFilter(), null, 10).Orders.Select(o => o.Status));
        Assert.Equal([new SkuDay("mug", Day0, 1, 9_000)], store.SkuDays(SellerA, Day0, Day0 + 1));
    }

    [Fact]
    public async Task AChangeFromAnOlderRecord_ThanTheRowsLast_IsIgnored()
    {
        await StoryAsync();
        var store = OpenStore();
        using var projector = Projector(store);
        Drain(projector);
        var before = Dump(store);

        // A projector that still runs after its partition moved, writing what it read long ago.
        store.Commit(new ProjectionBatch(0, 3, T0, [OrderChange.To(3, T0 + 1_000, 64, OrderStatus.Paid, CancelReason.None),
            OrderChange.To(3, T0 + 1_000, 192, OrderStatus.Paid, CancelReason.None)]));

        Assert.Equal(before, Dump(store));
    }

    [Fact]
    public async Task ANewReadModel_OverAJournalCompactedPastItsStart_IsSeededFromTheSnapshot()
    {
        await StoryAsync();
        await Partition.SnapshotAsync(TestContext.Current.CancellationToken);
        Assert.Throws<JournalGapException>(() => Partition.Journal.OpenReader(0).Dispose());
        await PlaceAsync(T0 + 4 * DayMs, 384, 900, SellerA, new OrderLine(1, 2)); // after the snapshot

        var store = OpenStore();
        using var projector = Projector(store);
        Drain(projector);

        var orders = store.SellerOrders(SellerA, new OrderFilter(), null, 100).Orders;
        Assert.Equal([64L, 128, 192, 320, 384], orders.Select(o => o.OrderId));
        Assert.Equal([OrderStatus.Delivered, OrderStatus.Cancelled, OrderStatus.Cancelled, OrderStatus.Paid, OrderStatus.PendingPayment],
            orders.Select(o => o.Status));
        Assert.Equal([new SkuDay("mug", Day0, 2, 18_000), new SkuDay("mug", Day0 + 3, 4, 36_000)],
            store.SkuDays(SellerA, Day0, Day0 + 7).Where(d => d.Units != 0));
    }

    [Fact]
    public async Task AReadModelRebuiltFromScratch_BehindTheCheckpoint_IsSeededAgain()
    {
        await StoryAsync();
        using (var projector = Projector(OpenStore()))
        {
            Drain(projector);
            projector.Checkpoint();
        }
        var rebuilt = OpenStore("rebuilt"); // the database was deleted: the checkpoint is ahead of it

        using var next = Projector(rebuilt);
        Drain(next);

        Assert.Equal([64L, 128, 192, 320], Ids(rebuilt.SellerOrders(SellerA, new OrderFilter(), null, 100)));
        Assert.Equal([new SkuDay("mug", Day0, 2, 18_000), new SkuDay("mug", Day0 + 3, 4, 36_000)],
            rebuilt.SkuDays(SellerA, Day0, Day0 + 7).Where(d => d.Units != 0));
        Assert.Equal(Partition.Journal.DurableSequence, rebuilt.Position(0).Sequence);
    }

    [Fact]
    public async Task Pages_CoverEveryOrderOnce_EvenWhenOrdersShareTheirPlacementTime()
    {
        await CatalogAsync();
        await SubmitAsync(T0, w =>
        {
            for (var i = 1; i <= 50; i++)
            {
                w.PlaceOrder(i * 64L, i, 900 + i % 3, SellerA, T0 + 600_000, 0, CountryCode.Pack("KR"), [new OrderLine(i % 2, 1)]);
            }
        });
        var store = OpenStore();
        using var projector = Projector(store);
        Drain(projector);

        var seen = new List<long>();
        OrderCursor? cursor = null;
        do
        {
            var page = store.SellerOrders(SellerA, new OrderFilter(), cursor, 7);
            Assert.InRange(page.Orders.Count, 1, 7);
            seen.AddRange(Ids(page));
            cursor = page.Next is { } next && OrderCursor.TryParse(next.ToString(), out var parsed) ? parsed : null;
        }
        while (cursor is not null);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => i * 64L), seen);
    }

    [Fact]
    public void TheSchema_IsMigratedOnce_AndANewerOneIsRefused()
    {
        OpenStore("schema").Dispose();
        using (var store = OpenStore("schema")) // a second open applies nothing
        using (var connection = store.Connect())
        {
            Assert.Equal(Schema.Latest, Schema.Version(connection));
            using var count = connection.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM rm_migrations";
            Assert.Equal((long)Schema.Migrations.Count, (long)count.ExecuteScalar()!);
            using var newer = connection.CreateCommand();
            newer.CommandText = $"INSERT INTO rm_migrations (version, description, applied_at_ms) VALUES ({Schema.Latest + 1}, 'from the future', 0)";
            newer.ExecuteNonQuery();
        }
        var refused = Assert.Throws<InvalidOperationException>(() => OpenStore("schema"));
        Assert.Contains($"version {Schema.Latest + 1}", refused.Message);
    }

    /// <summary>Every row of every table, in a stable order, as text.</summary>
    private static string Dump(ReadModelStore store, bool withoutZeroDays = false)
    {
        using var connection = store.Connect();
        var text = new System.Text.StringBuilder();
        foreach (var (table, order) in new[]
        {
            ("rm_seller_orders", "order_id"), ("rm_order_lines", "order_id, line"), ("rm_status_history", "order_id, sequence, status"),
            ("rm_sku_days", "seller_id, sku, day"), ("rm_positions", "partition"),
        })
        {
            using var command = connection.CreateCommand();
            var where = withoutZeroDays && table == "rm_sku_days" ? " WHERE units <> 0 OR revenue_minor <> 0" : "";
            command.CommandText = $"SELECT * FROM {table}{where} ORDER BY {order}";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                text.Append(table);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    text.Append('|').Append(reader.GetValue(i));
                }
                text.Append('\n');
            }
        }
        return text.ToString();
    }
}

/// <summary>The tests on the embedded read model: a SQLite file in a temporary directory.</summary>
public sealed class SqliteOrderProjectorTests : OrderProjectorTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-read-model-").FullName;

    protected override ReadModelStore Open(string name) => ReadModelStore.OpenSqlite(Path.Combine(_directory, name + ".db"));

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>A PostgreSQL server for the tests of one class (started once; each test uses databases of its own).</summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private int _databases;

    public LocalPostgres? Server { get; private set; }

    public async ValueTask InitializeAsync() => Server = await LocalPostgres.StartAsync();

    /// <summary>A new, empty database's connection string.</summary>
    public string NewDatabase()
    {
        var name = "rm_test_" + Interlocked.Increment(ref _databases).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var source = NpgsqlDataSource.Create(Server!.ConnectionString);
        using var create = source.CreateCommand($"CREATE DATABASE {name}");
        create.ExecuteNonQuery();
        return new NpgsqlConnectionStringBuilder(Server.ConnectionString) { Database = name }.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

/// <summary>The tests on a cluster's read model: PostgreSQL, each read model a database of its own (its statements sent
/// in batches); and silos starting together migrate its schema once.</summary>
public sealed class PostgresOrderProjectorTests(PostgresServer postgres) : OrderProjectorTests, IClassFixture<PostgresServer>
{
    private readonly Dictionary<string, NpgsqlDataSource> _sources = [];

    protected override ReadModelStore Open(string name)
    {
        if (!_sources.TryGetValue(name, out var source))
        {
            _sources[name] = source = NpgsqlDataSource.Create(postgres.NewDatabase());
        }
        return ReadModelStore.OpenPostgres(source, name);
    }

    [Fact]
    public async Task SilosOpeningANewDatabaseTogether_MigrateItOnce()
    {
        using var source = NpgsqlDataSource.Create(postgres.NewDatabase());
        var stores = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => ReadModelStore.OpenPostgres(source, $"silo {i}"),
            TestContext.Current.CancellationToken)));
        foreach (var store in stores)
        {
            store.Dispose();
        }
        await using var connection = await source.OpenConnectionAsync(TestContext.Current.CancellationToken);
        await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM rm_migrations", connection);
        Assert.Equal((long)Schema.Migrations.Count, (long)(await count.ExecuteScalarAsync(TestContext.Current.CancellationToken))!);
    }

    [Fact]
    public void AWriterWhoseSessionTheServerEnded_OpensANewOne_AtTheNextCommit()
    {
        var store = Open("ended");
        try
        {
            store.Commit(new ProjectionBatch(0, 1, 1_000, []));
            using (var connection = store.Connect())
            using (var end = connection.CreateCommand())
            {
                end.CommandText = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
                end.ExecuteNonQuery();
            }

            Assert.ThrowsAny<Exception>(() => store.Commit(new ProjectionBatch(0, 2, 2_000, []))); // the ended session
            store.Commit(new ProjectionBatch(0, 2, 2_000, []));

            Assert.Equal(2, store.Position(0).Sequence);
        }
        finally
        {
            store.Dispose();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var source in _sources.Values)
        {
            await source.DisposeAsync();
        }
    }
}
