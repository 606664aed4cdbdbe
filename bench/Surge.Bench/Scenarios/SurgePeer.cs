using System.Text.Json;
using Surge.Cli.Load;
using Surge.Server;

namespace Surge.Bench.Scenarios;

/// <summary>
/// Surge through its HTTP API: an embedded server on loopback (in the bench's process, so it shares the two
/// cores with the load generator — the peers run in their own processes), orders sent one per request
/// (<c>POST /v1/orders</c>) or in batches (<c>POST /v1/orders/batch</c>) over the same raw keep-alive HTTP/1.1
/// connections as <c>bench http</c>. An order is acknowledged once its partition's journal record is durable (the node's shared group commit, or
/// with <c>sharedCommit: false</c> the partition's own fdatasync).
/// </summary>
public sealed class SurgePeer : IOrderSystem
{
    private readonly SurgeServer _server;
    private readonly string _directory;
    private string[] _sellers = [];
    private string[] _keys = [];

    private readonly bool _sharedCommit;

    private SurgePeer(SurgeServer server, string directory, int ordersPerRequest, bool sharedCommit) =>
        (_server, _directory, OrdersPerRequest, _sharedCommit) = (server, directory, ordersPerRequest, sharedCommit);

    public string Key => (OrdersPerRequest == 1 ? "surge" : "surge-batch") + (_sharedCommit ? "" : "-partition-sync");

    public string Name => (OrdersPerRequest == 1 ? "Surge (single)" : $"Surge (batch {OrdersPerRequest})") + (_sharedCommit ? "" : ", fdatasync per partition");

    public string Durability => (OrdersPerRequest == 1 ? "HTTP, one order per request" : $"HTTP, {OrdersPerRequest} orders per request")
        + (_sharedCommit ? "; the node's group commit (every partition's journal written, one device flush) before the answer: an acknowledged order is on disk"
            : "; group commit + fdatasync of the partition's own journal before the answer: an acknowledged order is on disk");

    public int OrdersPerRequest { get; }

    public static async Task<SurgePeer> StartAsync(int ordersPerRequest, bool sharedCommit = true)
    {
        var directory = Directory.CreateTempSubdirectory("surge-bench-scenario-").FullName;
        try
        {
            var server = await SurgeServer.StartAsync(new ServerOptions
            {
                DataDirectory = directory, Http = new() { Port = 0 }, Storage = new() { SharedCommit = sharedCommit },
            });
            return new SurgePeer(server, directory, ordersPerRequest, sharedCommit);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public async Task SetupAsync(Catalog catalog)
    {
        using var api = new SurgeClient(_server.BaseAddress, _server.AdminKey);
        await api.CreateWarehouseAsync(new WarehouseBody("wh-1", "seoul", "KR"));
        var ids = new string[catalog.Sellers];
        var keys = new string[catalog.Sellers];
        for (var s = 0; s < catalog.Sellers; s++)
        {
            var created = await api.CreateSellerAsync($"scenario seller {s}");
            (ids[s], keys[s]) = (created.Id, created.ApiKey);
        }
        foreach (var group in catalog.Skus.GroupBy(s => s.Seller))
        {
            foreach (var chunk in group.Chunk(1000))
            {
                var skus = chunk.Select(s => new SkuBody(s.Sku, $"Item {s.Sku}", 1000, "KRW", 100, "ambient", Category: "general")).ToArray();
                var answer = await api.WithKey(keys[group.Key]).UpsertSkusAsync(skus);
                if (answer.Results.FirstOrDefault(r => r.Status is not (200 or 201)) is { } refused)
                {
                    throw new InvalidOperationException($"Surge refused a SKU of the catalog: {refused.Sku} {refused.Problem?.Code} {refused.Problem?.Detail}");
                }
            }
        }
        await Parallel.ForEachAsync(catalog.Skus, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (sku, token) =>
        {
            var owner = api.WithKey(keys[sku.Seller]);
            await owner.ReceiveStockAsync(sku.Sku, "wh-1", checked((int)sku.Units), cancellationToken: token);
            if (sku.LimitedToOnePerBuyer)
            {
                await owner.ConfigureFlashSaleAsync(sku.Sku, DateTimeOffset.UtcNow.AddSeconds(-1), perBuyerLimit: 1, cancellationToken: token);
            }
        });
        (_sellers, _keys) = (ids, keys);
    }

    public async Task<IOrderClient> ConnectAsync() => new Client(this, await RawHttpConnection.OpenAsync(_server.BaseAddress));

    public async Task<Audit> AuditAsync(Catalog catalog)
    {
        using var api = new SurgeClient(_server.BaseAddress, _server.AdminKey);
        var available = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        long held = 0;
        await Parallel.ForEachAsync(catalog.Skus, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (sku, token) =>
        {
            var stock = await api.WithKey(_keys[sku.Seller]).GetStockAsync(sku.Sku, token);
            available[sku.Sku] = stock.Available;
            Interlocked.Add(ref held, stock.Reserved + stock.Sold);
        });
        return new Audit(available, LiveOrders: null, HeldUnits: held);
    }

    private sealed class Client(SurgePeer peer, RawHttpConnection connection) : IOrderClient
    {
        public async Task PlaceAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references)
        {
            IEnumerable<(string, string, int)> Lines(ScenarioOrder order) => order.Lines.Select(l => (peer._sellers[l.Seller], l.Sku, l.Quantity));
            if (peer.OrdersPerRequest == 1)
            {
                for (var i = 0; i < count; i++)
                {
                    var order = orders[offset + i];
                    var request = RawHttpConnection.Post(peer._server.BaseAddress, "/v1/orders", peer._server.AdminKey,
                        OrderBodies.Single(order.Buyer, "KR", "seoul", Lines(order)));
                    var (status, body) = await connection.SendAsync(request);
                    (outcomes[i], references[i]) = status == 201 ? (Outcome.Accepted, ReadString(body.Span, "id"u8)) : (Classify(status, ReadString(body.Span, "code"u8)), null);
                }
                return;
            }
            var batch = RawHttpConnection.Post(peer._server.BaseAddress, "/v1/orders/batch", peer._server.AdminKey,
                OrderBodies.Batch(count, (json, i) => OrderBodies.Write(json, orders[offset + i].Buyer, "KR", "seoul", Lines(orders[offset + i]))));
            var (batchStatus, answer) = await connection.SendAsync(batch);
            if (batchStatus != 200)
            {
                Array.Fill(outcomes, Classify(batchStatus, null), 0, count);
                return;
            }
            var answers = OrderBodies.ReadBatchAnswer(answer.Span);
            for (var i = 0; i < count; i++)
            {
                var a = i < answers.Count ? answers[i] : new OrderAnswer(0, null, null);
                (outcomes[i], references[i]) = a.Status == 201 ? (Outcome.Accepted, a.Id) : (Classify(a.Status, a.Code), null);
            }
        }

        private static Outcome Classify(int status, string? code) => code switch
        {
            "insufficient_stock" => Outcome.SoldOut,
            "limit_exceeded" => Outcome.LimitReached,
            _ => status == 0 ? Outcome.Failed : Outcome.Rejected,
        };

        public async Task<bool> PayAsync(string reference) =>
            (await connection.SendAsync(RawHttpConnection.Post(peer._server.BaseAddress, $"/v1/orders/{reference}/payment", peer._server.AdminKey, []))).Status == 200;

        public async Task<bool> CancelAsync(string reference) =>
            (await connection.SendAsync(RawHttpConnection.Post(peer._server.BaseAddress, $"/v1/orders/{reference}/cancel", peer._server.AdminKey, []))).Status == 200;

        public ValueTask DisposeAsync()
        {
            connection.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A top-level string property of a JSON body (the order id, or a problem's code).</summary>
    private static string? ReadString(ReadOnlySpan<byte> body, ReadOnlySpan<byte> name)
    {
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals(name))
            {
                reader.Read();
                return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
