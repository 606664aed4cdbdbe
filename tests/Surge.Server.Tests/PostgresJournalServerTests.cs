using System.Net;
using Npgsql;
using Surge.Journal.Postgres;
using Surge.Testing;

namespace Surge.Server.Tests;

/// <summary>The server with its partitions' journals in PostgreSQL (`serve --journal-postgres`): orders and stock
/// survive a restart although the data directory holds no journal.</summary>
public sealed class PostgresJournalServerTests : IAsyncLifetime
{
    private LocalPostgres? _postgres;
    private NpgsqlDataSource? _source;

    public async ValueTask InitializeAsync()
    {
        _postgres = await LocalPostgres.StartAsync();
        _source = NpgsqlDataSource.Create(_postgres.ConnectionString);
        await PostgresJournal.EnsureSchemaAsync(_source);
        await PostgresControlLog.EnsureSchemaAsync(_source);
    }

    public async ValueTask DisposeAsync()
    {
        if (_source is not null)
        {
            await _source.DisposeAsync();
        }
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    [Fact]
    public async Task Restart_RecoversOrdersAndStockFromPostgres()
    {
        await using var server = await TestServer.StartAsync(o => o with { Storage = o.Storage with { JournalFactory = i => PostgresJournal.Open(_source!, i, "test") } });
        var (seller, sellerId) = await server.SellerWithStockAsync("lamp", units: 10);
        var first = await server.Admin.PostAsync("/v1/orders", TestServer.Order("p1", (sellerId, "lamp", 3)));
        Assert.Equal(HttpStatusCode.Created, first.Status);
        var id = first.Json!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { })).Status);
        var second = await server.Admin.PostAsync("/v1/orders", TestServer.Order("p2", (sellerId, "lamp", 2)));
        Assert.Equal(HttpStatusCode.Created, second.Status);

        await server.RestartAsync();
        seller = server.Client(seller.Key!); // the port is new

        Assert.False(Directory.Exists(Path.Combine(server.Directory, "partitions")), "no local journal was written");
        Assert.Equal(5, await seller.AvailableAsync("lamp"));
        var paid = await server.Admin.GetAsync($"/v1/orders/{id}");
        Assert.True(paid.Json!["status"]!.GetValue<string>() is "paid" or "allocated", paid.Json!["status"]!.GetValue<string>());
        var third = await server.Admin.PostAsync("/v1/orders", TestServer.Order("p3", (sellerId, "lamp", 5)));
        Assert.Equal(HttpStatusCode.Created, third.Status);
        Assert.Equal("insufficient_stock", (await server.Admin.PostAsync("/v1/orders", TestServer.Order("p4", (sellerId, "lamp", 1)))).ProblemCode);
    }

    [Fact]
    public async Task ClusterMode_OneSilo_JoinsThroughRedis_AndServesOrdersFromPostgresJournals()
    {
        await using var redis = await LocalRedis.StartAsync([]);
        var cluster = new ClusterMode($"127.0.0.1:{redis.Port}") { ClusterId = "test-cluster" };
        await using var server = await TestServer.StartAsync(o => o with
        {
            Cluster = cluster,
            Storage = o.Storage with
            {
                JournalFactory = i => PostgresJournal.Open(_source!, 100 + i, "silo-1"),
                ControlLogFactory = () => new PostgresControlLog(_source!),
            },
        });
        var (seller, sellerId) = await server.SellerWithStockAsync("kettle", units: 3);
        Assert.Equal(HttpStatusCode.Created, (await server.Admin.PostAsync("/v1/orders", TestServer.Order("c1", (sellerId, "kettle", 2)))).Status);
        Assert.Equal(1, await seller.AvailableAsync("kettle"));

        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        var keys = connection.GetServer(connection.GetEndPoints()[0]).Keys(pattern: "*").Select(k => k.ToString()).ToList();
        Assert.Contains(keys, k => k.Contains("test-cluster", StringComparison.Ordinal)); // the membership table lives in Redis
    }

    [Fact]
    public void ClusterMode_WithoutSharedJournalsOrControlLog_IsRefused()
    {
        var options = new ServerOptions { DataDirectory = "unused", Cluster = new ClusterMode("127.0.0.1:6379") };
        Assert.Contains("journals every silo can reach", Assert.Throws<ArgumentException>(options.Validate).Message);
        options = options with { Storage = options.Storage with { JournalFactory = i => throw new InvalidOperationException() } };
        Assert.Contains("control log every silo shares", Assert.Throws<ArgumentException>(options.Validate).Message);
    }

    [Fact]
    public async Task SharedControlLog_WhatOneNodeCreatesTheOtherKnows_AndConcurrentWritersNeverShareAnId()
    {
        using var first = ControlStore.OpenShared(new PostgresControlLog(_source!));
        using var second = ControlStore.OpenShared(new PostgresControlLog(_source!));
        var (seller, key) = first.CreateSeller("made on the first node");
        Assert.Equal(new Principal(Role.Seller, seller.Id), second.Authenticate(key, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())); // a miss re-reads the log
        Assert.Equal(seller, second.FindSeller(seller.Id));
        Assert.True(second.AddWarehouse(new Warehouse("wh-shared", "seoul", "KR"), out var created) && created);
        Assert.False(first.AddWarehouse(new Warehouse("wh-shared", "busan", "KR"), out _)); // decided with the other node's line in view
        Assert.Equal(first.TrackingSecret(null), second.TrackingSecret(null)); // tracking tokens verify on every node

        // Both nodes create sellers and lease parent-id blocks at once: every id and every block is distinct.
        var made = await Task.WhenAll(new[] { first, second }.Select(store => Task.Run(() =>
            Enumerable.Range(0, 20).Select(i => (store.CreateSeller($"s{i}").Seller.Id, store.LeaseSequenceBlock(0))).ToList())));
        var all = made.SelectMany(m => m).ToList();
        Assert.Equal(all.Count, all.Select(m => m.Item1).Distinct().Count());
        var blocks = all.Select(m => m.Item2).OrderBy(b => b.First).ToList();
        Assert.All(blocks.Zip(blocks.Skip(1)), pair => Assert.True(pair.First.Last < pair.Second.First));
        Assert.True(first.LeaseSequenceBlock(floor: 10 * ControlStore.SequenceBlockSize).First > 10 * ControlStore.SequenceBlockSize,
            "a block starts above the largest sequence the partitions hold");
    }

    [Fact]
    public async Task ASubscriptionMadeOnOneNode_IsSeenByAnother_ForEveryFactAfterIt()
    {
        using var first = ControlStore.OpenShared(new PostgresControlLog(_source!));
        using var second = ControlStore.OpenShared(new PostgresControlLog(_source!));
        second.Refresh();
        var before = second.Subscriptions.Count;
        var made = first.CreateSubscription(new Principal(Role.Admin, 0), "http://127.0.0.1:9/hook", null, "en", ["order.placed"]);
        var factAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1;

        Assert.Equal(before, second.Subscriptions.Count); // the periodic re-read has not come yet
        var seen = await second.SubscriptionsAsOfAsync(factAt);
        Assert.Contains(seen, s => s.Id == made.Id);
    }

    [Fact]
    public async Task UnreachableRedis_StopsTheStart_InOneLine_WithExit6()
    {
        // Port 1 (nothing listens there), not a port just freed: another test's Redis could take that one, and a cluster
        // id of its own, so this silo can never join another test's cluster.
        var data = Path.Combine(Path.GetTempPath(), "surge-hosting-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var (exit, output) = await CliProcess.RunAsync(["serve", "--data", data, "--port", "0", "--partitions", "1", "--no-categories",
                "--journal-postgres", _postgres!.ConnectionString, "--cluster-redis", "127.0.0.1:1", "--cluster-advertise", "127.0.0.1", "--cluster-id", "unreachable-" + Guid.NewGuid().ToString("N")], TimeSpan.FromMinutes(2));

            Assert.Equal(6, exit);
            Assert.Contains("surge serve: Redis: ", output);
            Assert.DoesNotContain("   at ", output);
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }
}
