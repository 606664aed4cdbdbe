using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Surge.Testing;

namespace Surge.Server.Tests;

/// <summary>
/// Cluster mode with `surge serve` processes as silos (Orleans membership in Redis, journals and control data in
/// PostgreSQL — both started by the test on loopback). The partitions spread over the silos as they join (each reads
/// out which it hosts on /metrics); a silo hosting some is lost: killed with SIGKILL under load (three silos), or
/// paused with SIGSTOP long enough to be declared dead and resumed after its partitions moved (a zombie). Sellers, keys, warehouses and SKUs are created through
/// different silos and orders go through every silo's API. Checked each time: every acknowledged order is present,
/// each seller's reserved units are at least its acknowledged units and at most those plus the orders left in doubt
/// (no answer, or a 5xx after the command was sent: a commit may land while its answer is lost) — nothing lost,
/// nothing oversold, nothing held that nobody asked for — and the partitions serve again within a bound.
/// </summary>
[Collection(ClusterProcesses.Name)]
public sealed class ClusterFailoverTests
{
    private const string AdminKey = "ak_cluster_failover_test_key_0123456789";

    /// <summary>How long the partitions may take to serve again after the kill (the goal is about 2 s;
    /// the bound leaves room for a loaded CI machine).</summary>
    private static readonly TimeSpan FailoverBound = TimeSpan.FromSeconds(15);

    private const int Sellers = 12;

    private const int Partitions = 8;

    /// <summary>Units of each seller's SKU; the first seller has few, so that the load sells it out.</summary>
    private static int StockOf(int seller) => seller == 0 ? 15 : 100_000;

    [Fact]
    public async Task KillingASiloUnderLoad_TheOthersServeItsPartitions_AndNothingAcknowledgedIsLostOrOversold()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var (host, second, third) = (cluster.Silos[0], cluster.Silos[1], cluster.Silos[2]);
        var shop = await Shop.CreateAsync(cluster);
        await cluster.SpreadAsync(cluster.Silos);

        // Load: 6 workers, orders round-robin through every silo still meant to be up.
        using var stop = new CancellationTokenSource();
        var killed = false;
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var silos = Volatile.Read(ref killed) ? new[] { second, third } : cluster.Silos.ToArray();
                await shop.TryPlaceAsync(silos[i % silos.Length], (w * 7 + i) % Sellers, $"buyer-{w}-{i}");
            }
        })).ToArray();
        await Poll.UntilAsync(() => Task.FromResult(shop.Acknowledged.Count >= 200), "the load is flowing through the cluster", 30);

        host.Process.Kill(); // SIGKILL
        Volatile.Write(ref killed, true);
        var clock = Stopwatch.StartNew();
        var recovered = await shop.EverySellerServedAgainAsync([second, third], FailoverBound);
        TestContext.Current.SendDiagnosticMessage($"kill -9 under load: every partition served again {recovered.TotalSeconds:F2} s after the kill");
        var afterRecovery = shop.Acknowledged.Count;
        await Poll.UntilAsync(() => Task.FromResult(shop.Acknowledged.Count >= afterRecovery + 200), "the load goes on after the failover", 30);
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        await shop.AssertEverythingAccountedForAsync(third);
        Assert.True(shop.SoldOut > 0, "the small stock sold out during the run (so 'no oversell' was put to the test)");
        await cluster.SpreadAsync([second, third]); // the lost silo's partitions now live on the two others

        // The operator dashboard's cluster view on a survivor: two silos, every partition placed once, the moves seen.
        var view = await Poll.UntilAsync(() => DashboardAsync(third, "/dashboard/cluster"),
            v => v["silos"]!.AsArray().Count == 2, "the dashboard's cluster view shows the two silos left");
        Assert.True(view["cluster"]!.GetValue<bool>());
        Assert.Equal(Enumerable.Range(0, Partitions), view["silos"]!.AsArray().SelectMany(s => s!["partitions"]!.AsArray().Select(p => p!.GetValue<int>())).Order());
        Assert.Single(view["silos"]!.AsArray(), s => s!["local"]!.GetValue<bool>());
        Assert.NotEmpty(view["moves"]!.AsArray()); // the dead silo's partitions were given to the others
    }

    /// <summary>A dashboard JSON route of a silo, signed in with the admin key as the login form does.</summary>
    private static async Task<JsonNode> DashboardAsync(Silo silo, string path)
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = silo.Api.BaseAddress };
        using var form = new FormUrlEncodedContent([new KeyValuePair<string, string>("key", AdminKey)]);
        using var login = await http.PostAsync(new Uri("/login", UriKind.Relative), form, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return JsonNode.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken))!;
    }

    [Fact]
    public async Task APausedSiloDeclaredDead_CannotAppendAfterItsPartitionsMoved_AndWhatItAnswersIsTrue()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var (zombie, survivor) = (cluster.Silos[0], cluster.Silos[1]);
        var shop = await Shop.CreateAsync(cluster);
        await cluster.SpreadAsync(cluster.Silos);
        for (var s = 0; s < Sellers; s++)
        {
            Assert.True(await shop.TryPlaceAsync(cluster.Silos[s % 2], s, $"before-{s}"));
        }

        cluster.Signal(zombie, "STOP");
        // Requests to the paused silo wait in its socket; it takes them when it wakes up, after its partitions moved.
        var toZombie = Enumerable.Range(0, Sellers).Select(s => shop.TryPlaceAsync(zombie, s, $"to-zombie-{s}")).ToArray();
        var recovered = await shop.EverySellerServedAgainAsync([survivor], FailoverBound);
        TestContext.Current.SendDiagnosticMessage($"SIGSTOP: every partition served again on the other silo {recovered.TotalSeconds:F2} s after the pause");
        for (var s = 0; s < Sellers; s++)
        {
            await shop.TryPlaceAsync(survivor, s, $"after-{s}");
        }

        cluster.Signal(zombie, "CONT");
        var zombieAnswers = await Task.WhenAll(toZombie);
        TestContext.Current.SendDiagnosticMessage($"the resumed silo acknowledged {zombieAnswers.Count(a => a)} of {toZombie.Length} orders sent to it while paused");
        for (var s = 0; s < Sellers; s++)
        {
            await shop.TryPlaceAsync(survivor, s, $"after-resume-{s}");
        }

        // Whatever the zombie acknowledged is in the journal the survivor serves; nothing it did not acknowledge holds stock.
        await shop.AssertEverythingAccountedForAsync(survivor);
    }

    [Fact]
    public async Task OrdersRetriedWithTheirKeys_ThroughAnotherSilo_AfterAKillNine_AreEachPlacedExactlyOnce()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var (victim, survivor) = (cluster.Silos[0], cluster.Silos[1]);
        var shop = await Shop.CreateAsync(cluster);
        await cluster.SpreadAsync(cluster.Silos);

        // Keyed orders through the victim from four clients; it is killed while some are in flight, so some were made
        // durable and never answered.
        var sent = new ConcurrentQueue<(string Key, int Seller, string Buyer)>();
        var answered = new ConcurrentDictionary<string, string>();
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !victim.Process.HasExited; i++)
            {
                var (key, s, buyer) = ($"key-{w}-{i}", 1 + (w * 7 + i) % (Sellers - 1), $"buyer-{w}-{i}");
                sent.Enqueue((key, s, buyer));
                if (await shop.TryPlaceKeyedAsync(victim, s, buyer, key) is { } id)
                {
                    answered[key] = id;
                }
            }
        })).ToArray();
        await Poll.UntilAsync(() => Task.FromResult(answered.Count >= 150), "keyed orders flow through the first silo", 30);
        victim.Process.Kill(); // SIGKILL
        await Task.WhenAll(workers);

        // Every client retries with its key through the other silo until it gets an answer.
        var perSeller = new int[Sellers];
        foreach (var (key, s, buyer) in sent)
        {
            var id = await shop.PlaceKeyedUntilAnsweredAsync(survivor, s, buyer, key, FailoverBound);
            if (answered.TryGetValue(key, out var first))
            {
                Assert.Equal(first, id); // the answer the victim gave, not a second order
            }
            perSeller[s]++;
        }
        TestContext.Current.SendDiagnosticMessage(
            $"kill -9 with keyed orders in flight: {sent.Count} keys, {answered.Count} answered before the kill, every key one order after the retries");
        for (var s = 1; s < Sellers; s++)
        {
            Assert.Equal(perSeller[s], await shop.ReservedAsync(survivor, s)); // one order, one unit, per key: no key placed twice
        }
    }

    /// <summary>One `surge serve` process of the cluster and a client of its API.</summary>
    private sealed record Silo(Process Process, ApiClient Api);

    private sealed class Cluster : IAsyncDisposable
    {
        private readonly LocalRedis _redis;
        private readonly LocalPostgres _postgres;
        private readonly string _directory;

        private Cluster(LocalRedis redis, LocalPostgres postgres, string directory) => (_redis, _postgres, _directory) = (redis, postgres, directory);

        public List<Silo> Silos { get; } = [];

        public static async Task<Cluster> StartAsync(int silos)
        {
            var redis = await LocalRedis.StartAsync([]);
            var postgres = await LocalPostgres.StartAsync();
            var cluster = new Cluster(redis, postgres, Directory.CreateTempSubdirectory("surge-cluster-test-").FullName);
            try
            {
                // One at a time: the first activates every partition at start; each that joins takes its share.
                for (var i = 0; i < silos; i++)
                {
                    var port = LocalProcess.FreePort();
                    var process = await CliProcess.StartAsync(["serve", "--data", Path.Combine(cluster._directory, $"silo-{i}"),
                        "--port", port.ToString(CultureInfo.InvariantCulture), "--partitions", Partitions.ToString(CultureInfo.InvariantCulture),
                        "--cluster-redis", $"127.0.0.1:{redis.Port}", "--journal-postgres", postgres.ConnectionString],
                        "surge: ready", new Dictionary<string, string> { ["SURGE_ADMIN_KEY"] = AdminKey });
                    cluster.Silos.Add(new Silo(process, new ApiClient(new Uri($"http://127.0.0.1:{port}"), AdminKey)));
                }
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }

        public Task SpreadAsync(IReadOnlyList<Silo> silos) => PartitionSpread.WaitAsync(silos.Select(s => s.Api).ToArray(), Partitions);

        public void Signal(Silo silo, string signal) => LocalProcess.Run("kill", "-" + signal, silo.Process.Id.ToString(CultureInfo.InvariantCulture));

        public async ValueTask DisposeAsync()
        {
            foreach (var silo in Silos)
            {
                if (!silo.Process.HasExited)
                {
                    LocalProcess.Run("kill", "-CONT", silo.Process.Id.ToString(CultureInfo.InvariantCulture)); // a paused one cannot die
                    silo.Process.Kill();
                    await silo.Process.WaitForExitAsync();
                }
                silo.Process.Dispose();
            }
            await _postgres.DisposeAsync();
            await _redis.DisposeAsync();
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>Sellers, their SKU and stock, created through different silos; every order placed and every
    /// acknowledgement received, for the checks at the end.</summary>
    private sealed class Shop
    {
        private readonly string[] _sellerIds = new string[Sellers];
        private readonly string[] _sellerKeys = new string[Sellers];
        private readonly ConcurrentDictionary<int, int> _units = new();
        private readonly ConcurrentDictionary<int, int> _inDoubt = new();
        private int _soldOut;

        public ConcurrentBag<string> Acknowledged { get; } = [];
        public int SoldOut => Volatile.Read(ref _soldOut);

        public static async Task<Shop> CreateAsync(Cluster cluster)
        {
            var shop = new Shop();
            var silos = cluster.Silos;
            // The warehouse through the first silo, each seller through the next one, its SKU and stock through the one after.
            Assert.Equal(HttpStatusCode.Created, (await silos[0].Api.PostAsync("/v1/warehouses", new { id = "wh-1", region = "seoul", country = "KR" })).Status);
            for (var s = 0; s < Sellers; s++)
            {
                var created = await silos[(s + 1) % silos.Count].Api.PostAsync("/v1/sellers", new { name = $"seller {s}" });
                Assert.Equal(HttpStatusCode.Created, created.Status);
                shop._sellerIds[s] = created.Json!["id"]!.GetValue<string>();
                shop._sellerKeys[s] = created.Json!["api_key"]!.GetValue<string>();
                var seller = new ApiClient(silos[(s + 2) % silos.Count].Api.BaseAddress, shop._sellerKeys[s]);
                Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", TestServer.Sku("item"))).Status);
                Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/receipts", new { sku = "item", warehouse_id = "wh-1", quantity = StockOf(s) })).Status);
            }
            return shop;
        }

        /// <summary>Places one unit of seller <paramref name="s"/>'s SKU through <paramref name="silo"/>; true when
        /// acknowledged (201). A refusal, an error or no answer at all is not an acknowledgement.</summary>
        public async Task<bool> TryPlaceAsync(Silo silo, int s, string buyer)
        {
            try
            {
                var placed = await silo.Api.PostAsync("/v1/orders", TestServer.Order(buyer, (_sellerIds[s], "item", 1)));
                if (placed.Status == HttpStatusCode.Created)
                {
                    Acknowledged.Add(placed.Json!["id"]!.GetValue<string>());
                    _units.AddOrUpdate(s, 1, (_, units) => units + 1);
                    return true;
                }
                if (placed.Status == HttpStatusCode.Conflict && placed.ProblemCode == "insufficient_stock")
                {
                    Interlocked.Increment(ref _soldOut);
                }
                if ((int)placed.Status >= 500 && placed.ProblemCode is not ("partition_overloaded" or "node_saturated" or "silo_capacity" or "starting"))
                {
                    _inDoubt.AddOrUpdate(s, 1, (_, n) => n + 1);
                }
                return false;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                _inDoubt.AddOrUpdate(s, 1, (_, n) => n + 1);
                return false;
            }
        }

        /// <summary>Places one unit with an Idempotency-Key; the order id when answered 201, else null.</summary>
        public async Task<string?> TryPlaceKeyedAsync(Silo silo, int s, string buyer, string key)
        {
            try
            {
                var placed = await silo.Api.PostAsync("/v1/orders", TestServer.Order(buyer, (_sellerIds[s], "item", 1)), idempotencyKey: key);
                return placed.Status == HttpStatusCode.Created ? placed.Json!["id"]!.GetValue<string>() : null;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return null;
            }
        }

        /// <summary>Retries a keyed order until it is answered 201 (while partitions move, a retry may get 503).</summary>
        public async Task<string> PlaceKeyedUntilAnsweredAsync(Silo silo, int s, string buyer, string key, TimeSpan bound)
        {
            string? id = null;
            await Poll.UntilAsync(async () => (id = await TryPlaceKeyedAsync(silo, s, buyer, key)) is not null,
                $"the keyed order {key} is answered", (int)bound.TotalSeconds);
            return id!;
        }

        public async Task<long> ReservedAsync(Silo silo, int s) =>
            (await new ApiClient(silo.Api.BaseAddress, _sellerKeys[s]).GetAsync("/v1/skus/item/stock")).Json!["reserved"]!.GetValue<long>();

        /// <summary>Polls until an order of every seller (so every partition that holds one) is acknowledged through
        /// <paramref name="silos"/>; returns how long that took.</summary>
        public async Task<TimeSpan> EverySellerServedAgainAsync(Silo[] silos, TimeSpan bound)
        {
            var clock = Stopwatch.StartNew();
            // The seller with the small stock may be sold out: a sold-out answer also shows its partition serves.
            var waiting = Enumerable.Range(1, Sellers - 1).ToHashSet();
            var attempt = 0;
            await Poll.UntilAsync(async () =>
            {
                foreach (var s in waiting.ToList())
                {
                    if (await TryPlaceAsync(silos[attempt % silos.Length], s, $"probe-{s}-{attempt++}"))
                    {
                        waiting.Remove(s);
                    }
                }
                return waiting.Count == 0;
            }, "every partition serves again", (int)bound.TotalSeconds);
            return clock.Elapsed;
        }

        public async Task AssertEverythingAccountedForAsync(Silo silo)
        {
            var admin = silo.Api;
            foreach (var id in Acknowledged)
            {
                Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/v1/orders/{id}")).Status);
            }
            for (var s = 0; s < Sellers; s++)
            {
                var stock = (await new ApiClient(admin.BaseAddress, _sellerKeys[s]).GetAsync("/v1/skus/item/stock")).Json!;
                var (units, reserved) = (_units.GetValueOrDefault(s), stock["reserved"]!.GetValue<long>());
                Assert.InRange(reserved, units, units + _inDoubt.GetValueOrDefault(s)); // each acknowledged order holds its unit
                Assert.Equal(StockOf(s) - reserved, stock["available"]!.GetValue<long>()); // conservation
                Assert.True(stock["available"]!.GetValue<long>() >= 0); // no oversell
            }
            // The read model (PostgreSQL, written by whichever silo projects each partition; the lost silo's partitions
            // by the silo that took them over, from the checkpoint they left) holds every acknowledged order too.
            var missing = Acknowledged.ToHashSet();
            await Poll.UntilAsync(async () =>
            {
                for (var s = 0; s < Sellers && missing.Count > 0; s++)
                {
                    string? cursor = null;
                    do
                    {
                        var page = await admin.GetAsync($"/v1/sellers/{_sellerIds[s]}/orders?limit=500" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
                        Assert.Equal(HttpStatusCode.OK, page.Status);
                        foreach (var order in page.Json!["orders"]!.AsArray())
                        {
                            missing.Remove(order!["order_id"]!.GetValue<string>());
                        }
                        cursor = page.Json!["next_cursor"]?.GetValue<string>();
                    }
                    while (cursor is not null);
                }
                return missing.Count == 0;
            }, "every acknowledged order is in the cluster's read model", 60);
        }
    }
}
