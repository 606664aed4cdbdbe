using System.Globalization;
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
/// would need hash tags).
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
    private readonly Dictionary<string, bool> _limited = new(StringComparer.Ordinal);
    private byte[] _place = [], _pay = [], _cancel = [];
    private ConnectionMultiplexer? _shared;

    private RedisPeer(LocalRedis server, string fsync) => (_server, _fsync) = (server, fsync);

    public string Key => $"redis-{_fsync}";

    public string Name => $"Redis ({_fsync})";

    public string Durability => _fsync == "always"
        ? "AOF fsync before every answer: an acknowledged order is on disk (the same promise as Surge)"
        : "AOF fsync once a second: a power cut loses up to ~1 s of acknowledged orders (a weaker promise than Surge's)";

    public int OrdersPerRequest => 1;

    /// <summary>Starts redis-server (<see cref="LocalRedis"/>) with an append-only file and loads the scripts.</summary>
    public static async Task<RedisPeer> StartAsync(string fsync)
    {
        var peer = new RedisPeer(await LocalRedis.StartAsync(Arguments(fsync)), fsync);
        try
        {
            peer._shared = await peer.ConnectionAsync();
            var admin = peer._shared.GetServer(peer._shared.GetEndPoints()[0]);
            peer._place = await admin.ScriptLoadAsync(PlaceScript);
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
                var id = (long)await _db.ScriptEvaluateAsync(peer._place, keys, args);
                (outcomes[i], references[i]) = id switch
                {
                    > 0 => (Outcome.Accepted, id.ToString(CultureInfo.InvariantCulture)),
                    -2 => (Outcome.LimitReached, null),
                    _ => (Outcome.SoldOut, null),
                };
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
