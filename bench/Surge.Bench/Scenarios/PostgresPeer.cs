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
/// rolling back the earlier decrements. Synchronous commit is on: an acknowledged order is on disk. As
/// <c>postgres-batch</c> a whole batch of orders goes in one call and one transaction (<c>place_orders</c>).
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

        -- A batch of orders in one transaction (one WAL flush for all of them, like Surge's batch API and its group
        -- commit): the batch's SKUs are locked first, in SKU order, so concurrent batches cannot deadlock; then each
        -- order is applied in turn, all or nothing on its own (a shortage undoes its earlier lines, whose rows this
        -- transaction holds). p_counts says how many consecutive entries of p_skus/p_qty belong to each order.
        -- Answers one code per order: the new id, -1 sold out, -2 limit reached.
        CREATE FUNCTION place_orders(p_buyers text[], p_counts int[], p_skus text[], p_qty int[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
        DECLARE
          v_codes bigint[] := '{}';
          v_at int := 1;
          v_done int;
          v_code bigint;
          v_limited boolean;
        BEGIN
          PERFORM 1 FROM stock WHERE sku = ANY (p_skus) ORDER BY sku FOR UPDATE;
          FOR o IN 1 .. array_length(p_buyers, 1) LOOP
            v_code := 0;
            v_done := 0;
            FOR i IN v_at .. v_at + p_counts[o] - 1 LOOP
              UPDATE stock SET available = available - p_qty[i] WHERE sku = p_skus[i] AND available >= p_qty[i]
                RETURNING limited INTO v_limited;
              IF NOT FOUND THEN v_code := -1; EXIT; END IF;
              v_done := v_done + 1;
              IF v_limited THEN
                INSERT INTO buyer_limits VALUES (p_skus[i], p_buyers[o]) ON CONFLICT DO NOTHING;
                IF NOT FOUND THEN v_code := -2; EXIT; END IF;
              END IF;
            END LOOP;
            IF v_code < 0 THEN
              FOR i IN v_at .. v_at + v_done - 1 LOOP
                UPDATE stock SET available = available + p_qty[i] WHERE sku = p_skus[i] RETURNING limited INTO v_limited;
                -- the line that hit the limit inserted no row of its own; the others did
                IF v_limited AND NOT (v_code = -2 AND i = v_at + v_done - 1) THEN
                  DELETE FROM buyer_limits WHERE sku = p_skus[i] AND buyer = p_buyers[o];
                END IF;
              END LOOP;
            ELSE
              INSERT INTO orders (buyer, status) VALUES (p_buyers[o], 0) RETURNING id INTO v_code;
              INSERT INTO order_lines (order_id, sku, quantity) SELECT v_code, p_skus[k], p_qty[k] FROM generate_series(v_at, v_at + p_counts[o] - 1) AS g(k);
            END IF;
            v_codes := v_codes || v_code;
            v_at := v_at + p_counts[o];
          END LOOP;
          RETURN v_codes;
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
    private readonly int _batch;

    private PostgresPeer(LocalPostgres server, NpgsqlDataSource source, int batch) => (_server, _source, _batch) = (server, source, batch);

    public string Key => _batch > 1 ? "postgres-batch" : "postgres";

    public string Name => "PostgreSQL" + (_batch > 1 ? $", {_batch} orders per transaction" : "");

    public string Durability => "synchronous_commit=on, fsync: an acknowledged order is on disk";

    public int OrdersPerRequest => _batch;

    /// <summary>Starts a server (<see cref="LocalPostgres"/>) with <see cref="Settings"/> and creates the schema; each
    /// request places <paramref name="batch"/> orders (one transaction for all of them when more than one).</summary>
    public static async Task<PostgresPeer> StartAsync(int workers, int batch = 1)
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
            return new PostgresPeer(server, source, batch);
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

    public Task<IOrderClient> ConnectAsync() => Task.FromResult<IOrderClient>(new Client(_source, _batch));

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

    private sealed class Client(NpgsqlDataSource source, int batch) : IOrderClient
    {
        public async Task PlaceAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references)
        {
            if (batch > 1)
            {
                await PlaceBatchAsync(orders, offset, count, outcomes, references);
                return;
            }
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

        private async Task PlaceBatchAsync(ScenarioOrder[] orders, int offset, int count, Outcome[] outcomes, string?[] references)
        {
            var slice = orders.AsSpan(offset, count).ToArray();
            await using var command = source.CreateCommand("SELECT place_orders($1, $2, $3, $4)");
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = slice.Select(o => o.Buyer).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = slice.Select(o => o.Lines.Length).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = slice.SelectMany(o => o.Lines.Select(l => l.Sku)).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = slice.SelectMany(o => o.Lines.Select(l => l.Quantity)).ToArray() });
            long[] codes;
            try
            {
                codes = (long[])(await command.ExecuteScalarAsync())!;
            }
            catch (PostgresException)
            {
                Array.Fill(outcomes, Outcome.Rejected, 0, count); // the transaction rolled back: nothing of the batch written
                return;
            }
            for (var i = 0; i < count; i++)
            {
                (outcomes[i], references[i]) = PlacementCode.Read(codes[i]);
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
