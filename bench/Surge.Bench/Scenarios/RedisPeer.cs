using StackExchange.Redis;
using Surge.Testing;

namespace Surge.Bench.Scenarios;

/// <summary>
/// Redis as the usual fast way of taking orders: Debian's redis-server started by the bench on loopback with an
/// append-only file, and one atomic Lua script per order through StackExchange.Redis (EVALSHA, one multiplexed
/// connection per worker so each worker waits for its own answer, as with the other systems): check every line's
/// stock and the per-buyer limit, then decrement, record the limit and store the order. With
/// <c>appendfsync always</c> Redis fsyncs the AOF before it answers (the same promise as Surge: an acknowledged
/// order is on disk); with <c>everysec</c> it answers first and fsyncs once a second, so a power cut loses up
/// to about a second of acknowledged orders. Standalone server: the scripts touch keys they derive (a cluster
/// would need hash tags; the batch script also derives its stock and limit keys from the SKUs it is given, which
/// only a standalone server allows). As <c>redis-…-batch</c> it takes a whole batch of orders in one script call.
/// </summary>
public sealed class RedisPeer : IOrderSystem
{
    private const string PlaceScript = """
        local n = (#KEYS - 2) / 2
        for i = 1, n do
          local available = tonumber(redis.call('GET', KEYS[i]) or '-1')
          if available < tonumber(ARGV[1 + i]) then return -1 end
          if ARGV[1 + n + i] == '1' and redis.call('SISMEMBER', KEYS[n + i], ARGV[1]) == 1 then return -2 end
        end
        for i = 1, n do
          redis.call('DECRBY', KEYS[i], ARGV[1 + i])
          if ARGV[1 + n + i] == '1' then redis.call('SADD', KEYS[n + i], ARGV[1]) end
        end
        local id = redis.call('INCR', KEYS[2 * n + 2])
        redis.call('HSET', KEYS[2 * n + 1], id, ARGV[2 + 2 * n])
        return id
        """;

    // A batch of orders in one call (one AOF write, and with `always` one fsync, for all of them — what Surge's batch
    // API gets from its group commit). ARGV: the order count, then per order its buyer, its line count and per line
    // sku, quantity, limited. Each order is checked and applied on its own (all or nothing per order), in turn, so an
    // order sees the ones before it. Answers one code per order: the new id, -1 sold out, -2 limit reached.
    private const string PlaceBatchScript = """
        local results = {}
        local at = 2
        for o = 1, tonumber(ARGV[1]) do
          local buyer, n = ARGV[at], tonumber(ARGV[at + 1])
          local first = at + 2
          at = first + 3 * n
          local code = 0
          for i = 0, n - 1 do
            local sku, qty = ARGV[first + 3 * i], tonumber(ARGV[first + 3 * i + 1])
            if tonumber(redis.call('GET', 'stock:' .. sku) or '-1') < qty then code = -1 break end
            if ARGV[first + 3 * i + 2] == '1' and redis.call('SISMEMBER', 'limit:' .. sku, buyer) == 1 then code = -2 break end
          end
          if code == 0 then
            local payload = buyer
            for i = 0, n - 1 do
              local sku, qty, limited = ARGV[first + 3 * i], ARGV[first + 3 * i + 1], ARGV[first + 3 * i + 2]
              redis.call('DECRBY', 'stock:' .. sku, qty)
              if limited == '1' then redis.call('SADD', 'limit:' .. sku, buyer) end
              payload = payload .. '|' .. sku .. ':' .. qty .. ':' .. limited
            end
            code = redis.call('INCR', KEYS[2])
            redis.call('HSET', KEYS[1], code, payload)
          end
          results[o] = code
        end
        return results
        """;

    private const string PayScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
        redis.call('SADD', KEYS[2], ARGV[1])
        return 1
        """;

    // The order's payload is "buyer|sku:qty:limited|…"; cancelling returns the units and the buyer's limit.
    private const string CancelScript = """
        local payload = redis.call('HGET', KEYS[1], ARGV[1])
        if not payload or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
        local buyer = nil
        for part in string.gmatch(payload, '[^|]+') do
          if not buyer then buyer = part else
            local sku, qty, limited = string.match(part, '^(.*):(%d+):(%d)$')
            redis.call('INCRBY', 'stock:' .. sku, qty)
            if limited == '1' then redis.call('SREM', 'limit:' .. sku, buyer) end
          end
        end
        redis.call('HDEL', KEYS[1], ARGV[1])
        return 1
        """;

    private static readonly RedisKey Orders = "orders";
    private static readonly RedisKey Sequence = "order:seq";
    private static readonly RedisKey PaidSet = "orders:paid";

    private readonly LocalRedis _server;
    private readonly string _fsync;
    private readonly int _batch;
    private readonly Dictionary<string, bool> _limited = new(StringComparer.Ordinal);
    private byte[] _place = [], _placeBatch = [], _pay = [], _cancel = [];
    private ConnectionMultiplexer? _shared;

    private RedisPeer(LocalRedis server, string fsync, int batch) => (_server, _fsync, _batch) = (server, fsync, batch);

    public string Key => $"redis-{_fsync}" + (_batch > 1 ? "-batch" : "");

    public string Name => $"Redis ({_fsync})" + (_batch > 1 ? $", {_batch} orders per call" : "");

    public string Durability => _fsync == "always"
        ? "AOF fsync before every answer: an acknowledged order is on disk (the same promise as Surge)"
        : "AOF fsync once a second: a power cut loses up to ~1 s of acknowledged orders (a weaker promise than Surge's)";

    public int OrdersPerRequest => _batch;

    /// <summary>Starts redis-server (<see cref="LocalRedis"/>) with an append-only file and loads the scripts; each
    /// call places <paramref name="batch"/> orders (one script call for all of them when more than one).</summary>
    public static async Task<RedisPeer> StartAsync(string fsync, int batch = 1)
    {
        var peer = new RedisPeer(await LocalRedis.StartAsync(Arguments(fsync)), fsync, batch);
        try
        {
            peer._shared = await peer.ConnectionAsync();
            var admin = peer._shared.GetServer(peer._shared.GetEndPoints()[0]);
            peer._place = await admin.ScriptLoadAsync(PlaceScript);
            peer._placeBatch = await admin.ScriptLoadAsync(PlaceBatchScript);
            peer._pay = await admin.ScriptLoadAsync(PayScript);
            peer._cancel = await admin.ScriptLoadAsync(CancelScript);
            return peer;
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
    }

    /// <summary>The persistence arguments after <see cref="LocalRedis.BaseArguments"/>, reported with the figures.</summary>
    public static string[] Arguments(string fsync) =>
        ["--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--maxclients", "1000"];

    private Task<ConnectionMultiplexer> ConnectionAsync() => ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
    {
        EndPoints = { { "127.0.0.1", _server.Port } },
        AllowAdmin = true,
        AbortOnConnectFail = true,
        ConnectTimeout = 5000,
        SyncTimeout = 60_000,
        AsyncTimeout = 60_000,
    });

    public async Task SetupAsync(Catalog catalog)
    {
        await using var connection = await ConnectionAsync();
        var db = connection.GetDatabase();
        foreach (var chunk in catalog.Skus.Chunk(1000))
        {
            await db.StringSetAsync(chunk.Select(s => new KeyValuePair<RedisKey, RedisValue>(StockKey(s.Sku), s.Units)).ToArray());
        }
        foreach (var sku in catalog.Skus)
        {
            _limited[sku.Sku] = sku.LimitedToOnePerBuyer;
        }
    }

    private static RedisKey StockKey(string sku) => "stock:" + sku;

    public Task<IOrderClient> ConnectAsync() => Task.FromResult<IOrderClient>(new Client(this, _shared!.GetDatabase()));

    public async Task<Audit> AuditAsync(Catalog catalog)
    {
        await using var connection = await ConnectionAsync();
        var db = connection.GetDatabase();
        var available = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var chunk in catalog.Skus.Chunk(1000))
        {
            var values = await db.StringGetAsync(chunk.Select(s => StockKey(s.Sku)).ToArray());
            for (var i = 0; i < chunk.Length; i++)
            {
                available[chunk[i].Sku] = (long)values[i];
            }
        }
        return new Audit(available, await db.HashLengthAsync(Orders), HeldUnits: null);
    }

    private sealed class Client(RedisPeer peer, IDatabase db) : IOrderClient
    {
        private readonly IDatabase _db = db;

        public async Task PlaceAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references)
        {
            if (peer._batch > 1)
            {
                await PlaceBatchAsync(orders, offset, count, outcomes, references);
                return;
            }
            for (var i = 0; i < count; i++)
            {
                var order = orders[offset + i];
                var n = order.Lines.Length;
                var keys = new RedisKey[2 * n + 2];
                var args = new RedisValue[2 + 2 * n];
                args[0] = order.Buyer;
                var payload = new System.Text.StringBuilder(order.Buyer);
                for (var l = 0; l < n; l++)
                {
                    var line = order.Lines[l];
                    var limited = peer._limited.GetValueOrDefault(line.Sku);
                    keys[l] = StockKey(line.Sku);
                    keys[n + l] = "limit:" + line.Sku;
                    args[1 + l] = line.Quantity;
                    args[1 + n + l] = limited ? "1" : "0";
                    payload.Append('|').Append(line.Sku).Append(':').Append(line.Quantity).Append(':').Append(limited ? '1' : '0');
                }
                keys[2 * n] = Orders;
                keys[2 * n + 1] = Sequence;
                args[1 + 2 * n] = payload.ToString();
                (outcomes[i], references[i]) = PlacementCode.Read((long)await _db.ScriptEvaluateAsync(peer._place, keys, args));
            }
        }

        private async Task PlaceBatchAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references)
        {
            var args = new List<RedisValue>(1 + count * 8) { count };
            for (var i = 0; i < count; i++)
            {
                var order = orders[offset + i];
                args.Add(order.Buyer);
                args.Add(order.Lines.Length);
                foreach (var line in order.Lines)
                {
                    args.Add(line.Sku);
                    args.Add(line.Quantity);
                    args.Add(peer._limited.GetValueOrDefault(line.Sku) ? "1" : "0");
                }
            }
            var codes = (long[])(await _db.ScriptEvaluateAsync(peer._placeBatch, [Orders, Sequence], [.. args]))!;
            for (var i = 0; i < count; i++)
            {
                (outcomes[i], references[i]) = PlacementCode.Read(codes[i]);
            }
        }

        public async Task<bool> PayAsync(string reference) => (long)await _db.ScriptEvaluateAsync(peer._pay, [Orders, PaidSet], [reference]) == 1;

        public async Task<bool> CancelAsync(string reference) => (long)await _db.ScriptEvaluateAsync(peer._cancel, [Orders, PaidSet], [reference]) == 1;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the connection is shared
    }

    public async ValueTask DisposeAsync()
    {
        if (_shared is not null)
        {
            await _shared.DisposeAsync();
        }
        await _server.DisposeAsync();
    }
}
