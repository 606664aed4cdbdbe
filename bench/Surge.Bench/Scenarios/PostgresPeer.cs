using Npgsql;
using NpgsqlTypes;
using Surge.Testing;

namespace Surge.Bench.Scenarios;

/// <summary>
/// PostgreSQL as the usual way of taking orders: Debian's server started by the bench in a temporary data
/// directory on loopback, the settings below, and one transaction per order through Npgsql (pooled, prepared):
/// a PL/pgSQL function that does a guarded decrement per line (<c>UPDATE … SET available = available − q WHERE
/// sku = $1 AND available ≥ q</c>, lines in SKU order so concurrent carts cannot deadlock), records the per-buyer
/// limit of a flash-sale SKU under a primary key, and inserts the order and its lines. A shortage on the first
/// line answers without writing (so a sold-out answer needs no WAL flush); a shortage on a later line raises,
/// rolling back the earlier decrements. Synchronous commit is on: an acknowledged order is on disk.
/// </summary>
public sealed class PostgresPeer : IOrderSystem
{
    /// <summary>The settings written to postgresql.conf after <see cref="LocalPostgres.BaseSettings"/> (fsync,
    /// synchronous_commit and full_page_writes on, loopback only); both are reported with the figures.</summary>
    public static readonly IReadOnlyList<(string Name, string Value)> Settings =
    [
        ("wal_level", "minimal"),
        ("max_wal_senders", "0"),
        ("shared_buffers", "2GB"),
        ("wal_buffers", "64MB"),
        ("max_wal_size", "8GB"),
        ("checkpoint_timeout", "30min"),
        ("max_connections", "300"),
    ];

    private const string Schema = """
        CREATE TABLE stock (sku text PRIMARY KEY, available bigint NOT NULL, limited boolean NOT NULL);
        CREATE TABLE orders (id bigserial PRIMARY KEY, buyer text NOT NULL, status smallint NOT NULL); -- 0 pending, 1 paid, 2 cancelled
        CREATE TABLE order_lines (order_id bigint NOT NULL, sku text NOT NULL, quantity int NOT NULL, PRIMARY KEY (order_id, sku));
        CREATE TABLE buyer_limits (sku text NOT NULL, buyer text NOT NULL, PRIMARY KEY (sku, buyer));

        CREATE FUNCTION place_order(p_buyer text, p_skus text[], p_qty int[]) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
          v_id bigint;
          v_limited boolean;
        BEGIN
          FOR i IN 1 .. array_length(p_skus, 1) LOOP
            UPDATE stock SET available = available - p_qty[i] WHERE sku = p_skus[i] AND available >= p_qty[i]
              RETURNING limited INTO v_limited;
            IF NOT FOUND THEN
              IF i = 1 THEN RETURN -1; END IF; -- nothing written yet: a plain answer
              RAISE EXCEPTION 'sold_out';      -- rolls back the earlier lines
            END IF;
            IF v_limited THEN
              INSERT INTO buyer_limits VALUES (p_skus[i], p_buyer) ON CONFLICT DO NOTHING;
              IF NOT FOUND THEN RAISE EXCEPTION 'limit_reached'; END IF;
            END IF;
          END LOOP;
          INSERT INTO orders (buyer, status) VALUES (p_buyer, 0) RETURNING id INTO v_id;
          INSERT INTO order_lines (order_id, sku, quantity) SELECT v_id, s, q FROM unnest(p_skus, p_qty) AS u(s, q);
          RETURN v_id;
        END $$;

        CREATE FUNCTION cancel_order(p_id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
        DECLARE
          v_buyer text;
          line record;
        BEGIN
          UPDATE orders SET status = 2 WHERE id = p_id AND status = 0 RETURNING buyer INTO v_buyer;
          IF NOT FOUND THEN RETURN false; END IF;
          FOR line IN SELECT sku, quantity FROM order_lines WHERE order_id = p_id ORDER BY sku LOOP
            UPDATE stock SET available = available + line.quantity WHERE sku = line.sku;
            DELETE FROM buyer_limits WHERE sku = line.sku AND buyer = v_buyer;
          END LOOP;
          RETURN true;
        END $$;
        """;

    private readonly LocalPostgres _server;
    private readonly NpgsqlDataSource _source;

    private PostgresPeer(LocalPostgres server, NpgsqlDataSource source) => (_server, _source) = (server, source);

    public string Key => "postgres";

    public string Name => "PostgreSQL";

    public string Durability => "synchronous_commit=on, fsync: an acknowledged order is on disk";

    public int OrdersPerRequest => 1;

    /// <summary>Starts a server (<see cref="LocalPostgres"/>) with <see cref="Settings"/> and creates the schema.</summary>
    public static async Task<PostgresPeer> StartAsync(int workers)
    {
        var server = await LocalPostgres.StartAsync(Settings);
        try
        {
            var source = new NpgsqlDataSourceBuilder(
                $"{server.ConnectionString};Pooling=true;Minimum Pool Size={Math.Min(workers, 100)};Maximum Pool Size={workers + 4};"
                + "Max Auto Prepare=16;Auto Prepare Min Usages=2;No Reset On Close=true;Timeout=30;Command Timeout=60").Build();
            await using (var command = source.CreateCommand(Schema))
            {
                await command.ExecuteNonQueryAsync();
            }
            return new PostgresPeer(server, source);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async Task SetupAsync(Catalog catalog)
    {
        await using var connection = await _source.OpenConnectionAsync();
        await using (var import = await connection.BeginBinaryImportAsync("COPY stock (sku, available, limited) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var sku in catalog.Skus)
            {
                await import.StartRowAsync();
                await import.WriteAsync(sku.Sku, NpgsqlDbType.Text);
                await import.WriteAsync(sku.Units, NpgsqlDbType.Bigint);
                await import.WriteAsync(sku.LimitedToOnePerBuyer, NpgsqlDbType.Boolean);
            }
            await import.CompleteAsync();
        }
        await using var analyze = new NpgsqlCommand("ANALYZE; CHECKPOINT;", connection);
        await analyze.ExecuteNonQueryAsync();
    }

    public Task<IOrderClient> ConnectAsync() => Task.FromResult<IOrderClient>(new Client(_source));

    public async Task<Audit> AuditAsync(Catalog catalog)
    {
        await using var connection = await _source.OpenConnectionAsync();
        var available = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT sku, available FROM stock", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                available[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        await using var live = new NpgsqlCommand("SELECT count(*) FROM orders WHERE status <> 2", connection);
        return new Audit(available, (long)(await live.ExecuteScalarAsync())!, HeldUnits: null);
    }

    private sealed class Client(NpgsqlDataSource source) : IOrderClient
    {
        public async Task PlaceAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references)
        {
            for (var i = 0; i < count; i++)
            {
                var order = orders[offset + i];
                await using var command = source.CreateCommand("SELECT place_order($1, $2, $3)");
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = order.Buyer });
                command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = order.Lines.Select(l => l.Sku).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = order.Lines.Select(l => l.Quantity).ToArray() });
                try
                {
                    var id = (long)(await command.ExecuteScalarAsync())!;
                    (outcomes[i], references[i]) = id > 0 ? (Outcome.Accepted, id.ToString(System.Globalization.CultureInfo.InvariantCulture)) : (Outcome.SoldOut, null);
                }
                catch (PostgresException e) when (e.MessageText is "sold_out" or "limit_reached")
                {
                    outcomes[i] = e.MessageText == "sold_out" ? Outcome.SoldOut : Outcome.LimitReached;
                }
                catch (PostgresException)
                {
                    outcomes[i] = Outcome.Rejected; // e.g. a deadlock or serialization failure: refused, nothing written
                }
            }
        }

        public async Task<bool> PayAsync(string reference)
        {
            await using var command = source.CreateCommand("UPDATE orders SET status = 1 WHERE id = $1 AND status = 0");
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = long.Parse(reference, System.Globalization.CultureInfo.InvariantCulture) });
            return await command.ExecuteNonQueryAsync() == 1;
        }

        public async Task<bool> CancelAsync(string reference)
        {
            await using var command = source.CreateCommand("SELECT cancel_order($1)");
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = long.Parse(reference, System.Globalization.CultureInfo.InvariantCulture) });
            return (bool)(await command.ExecuteScalarAsync())!;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _source.DisposeAsync();
        await _server.DisposeAsync();
    }
}
