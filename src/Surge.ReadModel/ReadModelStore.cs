using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;
using Surge.Core;

namespace Surge.ReadModel;

/// <summary>
/// The read model's database: one writer connection that applies the projectors' batches (one transaction each, the
/// partition's position in the same transaction), and pooled connections for queries, which never wait for a
/// partition's turn. Every change is idempotent and ordered by journal sequence — a placed order is inserted once, a
/// status is applied only from a record at least as new as the row's last change, and a SKU day moves only when a
/// change makes a seller order count as sold or stop counting — so a projector that repeats records after a crash, or
/// a second one that still runs after its partition moved, changes nothing that a newer record already set. No
/// statement depends on another's result, so a database reached over the network (PostgreSQL) gets a commit's
/// statements pipelined in batches (<see cref="BatchStatementsMax"/>) rather than one round trip each.
/// </summary>
public sealed class ReadModelStore : IDisposable
{
    /// <summary>Page cache of the writer's connection, in bytes.</summary>
    public const long WriterCacheBytes = 256L * 1024 * 1024;

    /// <summary>Statements sent to a batching database (PostgreSQL) in one round trip.</summary>
    public const int BatchStatementsMax = 2_048;

    private readonly Func<DbConnection> _connect;
    private readonly DbConnection _writer;
    private readonly Lock _gate = new();
    private readonly Statement _insertOrder, _insertLine, _insertHistory, _moveSold, _updateStatus, _insertMoveHistory, _upsertPosition;
    private readonly Statement[] _statements;
    private DbBatch? _batch; // while a commit runs on a batching database: the statements not sent yet
    private bool _disposed;

    private ReadModelStore(Func<DbConnection> connect, string description, SchemaDialect dialect, Action<DbConnection> prepare)
    {
        _connect = connect;
        Description = description;
        _writer = connect();
        try
        {
            _writer.Open();
            prepare(_writer);
            Schema.Migrate(_writer, dialect);
            _insertOrder = Command("""
                INSERT INTO rm_seller_orders (order_id, parent_id, partition, seller_id, buyer_id, status, cancel_reason, placed_at_ms,
                    updated_at_ms, units, amount_minor, currency, last_sequence)
                VALUES (@order, @parent, @partition, @seller, @buyer, @status, 0, @placed, @placed, @units, @amount, @currency, @sequence)
                ON CONFLICT (order_id) DO NOTHING
                """, "@order", "@parent", "@partition", "@seller", "@buyer", "@status", "@placed", "@units", "@amount", "@currency", "@sequence");
            _insertLine = Command("""
                INSERT INTO rm_order_lines (order_id, line, seller_id, sku, warehouse, quantity, unit_price_minor)
                VALUES (@order, @line, @seller, @sku, @warehouse, @quantity, @price) ON CONFLICT (order_id, line) DO NOTHING
                """, "@order", "@line", "@seller", "@sku", "@warehouse", "@quantity", "@price");
            _insertHistory = Command("""
                INSERT INTO rm_status_history (order_id, status, cancel_reason, at_ms, sequence) VALUES (@order, @status, @reason, @at, @sequence)
                ON CONFLICT (order_id, sequence, status) DO NOTHING
                """, "@order", "@status", "@reason", "@at", "@sequence");
            // Moves the order's units and revenue into (+1) or out of (-1) its SKU days when the change makes it start or stop
            // counting as sold: only if its status now is on the other side (not sold: none, pending payment, cancelled)
            // and no newer record changed it. Runs before the status update, which it reads.
            _moveSold = Command("""
                INSERT INTO rm_sku_days (seller_id, sku, day, units, revenue_minor)
                SELECT l.seller_id, l.sku, o.placed_at_ms / 86400000, @sign * SUM(l.quantity), @sign * SUM(l.quantity * l.unit_price_minor)
                FROM rm_order_lines l JOIN rm_seller_orders o ON o.order_id = l.order_id
                WHERE l.order_id = @order AND o.last_sequence <= @sequence
                    AND (CASE WHEN o.status IN (0, 1, 8) THEN 0 ELSE 1 END) = @was_sold
                GROUP BY l.seller_id, l.sku, o.placed_at_ms
                ON CONFLICT (seller_id, sku, day) DO UPDATE SET units = rm_sku_days.units + excluded.units,
                    revenue_minor = rm_sku_days.revenue_minor + excluded.revenue_minor
                """, "@sign", "@order", "@sequence", "@was_sold");
            _updateStatus = Command("""
                UPDATE rm_seller_orders SET status = @status, cancel_reason = @reason, updated_at_ms = @at, last_sequence = @sequence
                WHERE order_id = @order AND last_sequence <= @sequence AND status <> @status
                """, "@status", "@reason", "@at", "@sequence", "@order");
            // The history row of a status change that the update applied (the row now carries this record's sequence and
            // status): a change from an older record, or to the status the order has, leaves none.
            _insertMoveHistory = Command("""
                INSERT INTO rm_status_history (order_id, status, cancel_reason, at_ms, sequence)
                SELECT @order, @status, @reason, @at, @sequence
                WHERE EXISTS (SELECT 1 FROM rm_seller_orders WHERE order_id = @order AND last_sequence = @sequence AND status = @status)
                ON CONFLICT (order_id, sequence, status) DO NOTHING
                """, "@order", "@status", "@reason", "@at", "@sequence");
            _upsertPosition = Command("""
                INSERT INTO rm_positions (partition, sequence, record_at_ms) VALUES (@partition, @sequence, @at)
                ON CONFLICT (partition) DO UPDATE SET sequence = excluded.sequence, record_at_ms = excluded.record_at_ms
                WHERE rm_positions.sequence < excluded.sequence
                """, "@partition", "@sequence", "@at");
            _statements = [_insertOrder, _insertLine, _insertHistory, _moveSold, _updateStatus, _insertMoveHistory, _upsertPosition];
        }
        catch
        {
            _writer.Dispose();
            throw;
        }
    }

    /// <summary>Where the read model lives (for logs and errors).</summary>
    public string Description { get; }

    /// <summary>The embedded read model: a SQLite file (created with its schema when missing). Write-ahead log, and every
    /// commit synced (synchronous=FULL): a projector's position never survives a crash without the rows it covers.</summary>
    public static ReadModelStore OpenSqlite(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
        return new ReadModelStore(() => new SqliteConnection(connectionString), path, SchemaDialect.Sqlite, writer =>
        {
            Schema.Execute(writer, null, "PRAGMA journal_mode=WAL");
            Schema.Execute(writer, null, "PRAGMA synchronous=FULL");
            // The writer touches the tails of five B-trees (orders, lines, history, SKU days and their indexes) at random
            // depths: with SQLite's default 2 MB page cache they are read back from the file over and over.
            Schema.Execute(writer, null, $"PRAGMA cache_size=-{WriterCacheBytes / 1024}");
        });
    }

    /// <summary>A cluster's read model: a PostgreSQL database shared by the silos (each projects the partitions it
    /// hosts; the schema is migrated by whichever starts first, under an advisory lock). <paramref name="source"/> is
    /// the caller's (an NpgsqlDataSource), pooled, and stays the caller's to dispose.</summary>
    public static ReadModelStore OpenPostgres(DbDataSource source, string description) =>
        new(source.CreateConnection, description, SchemaDialect.Postgres, _ => { });

    /// <summary>One of the writer's statements: prepared once for a database that runs them one by one (SQLite, in
    /// process), or text and parameter names to add to the commit's batch.</summary>
    private sealed record Statement(DbCommand Command, string Sql, string[] Names);

    private Statement Command(string sql, params string[] parameters)
    {
        var command = _writer.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            Schema.Parameter(command, name, DBNull.Value);
        }
        return new Statement(command, sql, parameters);
    }

    /// <summary>Runs a statement now, or adds it to the commit's batch (sent when full and at the commit).</summary>
    private void Run(Statement statement, params object[] values)
    {
        if (_batch is not { } batch)
        {
            for (var i = 0; i < values.Length; i++)
            {
                statement.Command.Parameters[i].Value = values[i];
            }
            statement.Command.ExecuteNonQuery();
            return;
        }
        var command = batch.CreateBatchCommand();
        command.CommandText = statement.Sql;
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = statement.Names[i];
            parameter.Value = values[i];
            command.Parameters.Add(parameter);
        }
        batch.BatchCommands.Add(command);
        if (batch.BatchCommands.Count >= BatchStatementsMax)
        {
            Send();
        }
    }

    /// <summary>Sends the batched statements (in the commit's transaction).</summary>
    private void Send()
    {
        if (_batch is { BatchCommands.Count: > 0 } batch)
        {
            batch.ExecuteNonQuery();
            batch.BatchCommands.Clear();
        }
    }

    /// <summary>Applies a projector's batch and moves its partition's position, in one transaction.</summary>
    public void Commit(ProjectionBatch batch) => Commit([batch]);

    /// <summary>Applies the batches of several partitions' projectors and moves their positions, in one transaction (one
    /// sync of the database for all of them).</summary>
    public void Commit(IReadOnlyList<ProjectionBatch> batches)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var transaction = _writer.BeginTransaction();
            foreach (var statement in _statements)
            {
                statement.Command.Transaction = transaction;
            }
            if (_writer.CanCreateBatch)
            {
                _batch = _writer.CreateBatch();
                _batch.Transaction = transaction;
            }
            try
            {
                Apply(batches);
                Send();
            }
            finally
            {
                _batch?.Dispose();
                _batch = null;
            }
            transaction.Commit();
        }
    }

    private void Apply(IReadOnlyList<ProjectionBatch> batches)
    {
        foreach (var batch in batches)
        {
            foreach (var change in batch.Changes)
            {
                if (change.Placed is { } placed)
                {
                    Place(batch.Partition, change.Sequence, placed);
                }
                else
                {
                    Move(change);
                }
            }
            Run(_upsertPosition, batch.Partition, batch.Sequence, batch.RecordAtMs);
        }
    }

    /// <summary>A placed seller order: its row, lines and first status, each inserted only if not there (a repeated
    /// record adds nothing).</summary>
    private void Place(int partition, long sequence, PlacedOrder order)
    {
        long units = 0, amount = 0;
        foreach (var line in order.Lines)
        {
            units += line.Quantity;
            amount += line.Quantity * line.UnitPriceMinor;
        }
        Run(_insertOrder, order.OrderId, order.ParentId, partition, order.SellerId, order.BuyerId, (int)OrderStatus.PendingPayment, order.PlacedAtMs,
            units, amount, order.Currency, sequence);
        for (var i = 0; i < order.Lines.Length; i++)
        {
            var line = order.Lines[i];
            Run(_insertLine, order.OrderId, i, order.SellerId, line.Sku, line.Warehouse, line.Quantity, line.UnitPriceMinor);
        }
        Run(_insertHistory, order.OrderId, (int)OrderStatus.PendingPayment, (int)CancelReason.None, order.PlacedAtMs, sequence);
    }

    /// <summary>A seller order's new status: its SKU days first (only a payment, a cancellation or a seeded status can
    /// change whether it counts as sold: every other step goes from sold to sold), then the row, then the history — each
    /// a no-op when a newer record changed the order already or it is in that status.</summary>
    private void Move(OrderChange change)
    {
        if (change.Status is OrderStatus.Paid or OrderStatus.Cancelled || change.Seeded)
        {
            var sold = SoldStatuses.Counts(change.Status);
            Run(_moveSold, sold ? 1 : -1, change.OrderId, change.Sequence, sold ? 0 : 1);
        }
        Run(_updateStatus, (int)change.Status, (int)change.Reason, change.AtMs, change.Sequence, change.OrderId);
        Run(_insertMoveHistory, change.OrderId, (int)change.Status, (int)change.Reason, change.AtMs, change.Sequence);
    }

    /// <summary>How far the read model is in every partition it has seen.</summary>
    public IReadOnlyList<ProjectionPosition> Positions()
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT partition, sequence, record_at_ms FROM rm_positions ORDER BY partition";
        using var reader = command.ExecuteReader();
        var positions = new List<ProjectionPosition>();
        while (reader.Read())
        {
            positions.Add(new ProjectionPosition(reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        return positions;
    }

    /// <summary>Seller orders in the read model.</summary>
    public long CountOrders()
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM rm_seller_orders";
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The position of one partition (sequence 0 before its first batch).</summary>
    public ProjectionPosition Position(int partition) =>
        Positions().FirstOrDefault(p => p.Partition == partition) is { Sequence: > 0 } found ? found : new ProjectionPosition(partition, 0, 0);

    private const string OrderColumns =
        "order_id, parent_id, partition, seller_id, buyer_id, status, cancel_reason, placed_at_ms, updated_at_ms, units, amount_minor, currency";

    /// <summary>A seller's orders matching <paramref name="filter"/>, oldest first, after <paramref name="after"/>.</summary>
    public OrderPage SellerOrders(long sellerId, OrderFilter filter, OrderCursor? after, int limit)
    {
        var sql = new StringBuilder($"SELECT {OrderColumns} FROM rm_seller_orders WHERE seller_id = @seller");
        var parameters = new List<(string, object)> { ("@seller", sellerId) };
        if (filter.Status is { } status)
        {
            sql.Append(" AND status = @status");
            parameters.Add(("@status", (int)status));
        }
        if (filter.FromMs is { } from)
        {
            sql.Append(" AND placed_at_ms >= @from");
            parameters.Add(("@from", from));
        }
        if (filter.ToMs is { } to)
        {
            sql.Append(" AND placed_at_ms < @to");
            parameters.Add(("@to", to));
        }
        if (filter.BuyerId is { } buyer)
        {
            sql.Append(" AND buyer_id = @buyer");
            parameters.Add(("@buyer", buyer));
        }
        if (filter.Sku is { } sku)
        {
            sql.Append(" AND order_id IN (SELECT order_id FROM rm_order_lines WHERE seller_id = @seller AND sku = @sku)");
            parameters.Add(("@sku", sku));
        }
        return Page(sql, parameters, after, limit);
    }

    /// <summary>A buyer's seller orders (every seller), oldest first, after <paramref name="after"/>.</summary>
    public OrderPage BuyerOrders(long buyerId, OrderCursor? after, int limit) =>
        Page(new StringBuilder($"SELECT {OrderColumns} FROM rm_seller_orders WHERE buyer_id = @buyer"), [("@buyer", buyerId)], after, limit);

    /// <summary>The seller orders of a parent order (empty when the read model has none).</summary>
    public IReadOnlyList<OrderRow> OrdersOfParent(long parentId)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {OrderColumns} FROM rm_seller_orders WHERE parent_id = @parent ORDER BY order_id";
        Schema.Parameter(command, "@parent", parentId);
        return WithLines(connection, ReadOrders(command));
    }

    /// <summary>A seller order's status history, oldest first.</summary>
    public IReadOnlyList<StatusStep> History(long orderId)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT status, cancel_reason, at_ms FROM rm_status_history WHERE order_id = @order ORDER BY sequence, status";
        Schema.Parameter(command, "@order", orderId);
        using var reader = command.ExecuteReader();
        var steps = new List<StatusStep>();
        while (reader.Read())
        {
            steps.Add(new StatusStep((OrderStatus)reader.GetInt32(0), (CancelReason)reader.GetInt32(1), reader.GetInt64(2)));
        }
        return steps;
    }

    /// <summary>Units and revenue per SKU per day of a seller, for days in [<paramref name="fromDay"/>, <paramref name="toDay"/>).</summary>
    public IReadOnlyList<SkuDay> SkuDays(long sellerId, int fromDay, int toDay)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT sku, day, units, revenue_minor FROM rm_sku_days WHERE seller_id = @seller AND day >= @from AND day < @to
            ORDER BY sku, day
            """;
        Schema.Parameter(command, "@seller", sellerId);
        Schema.Parameter(command, "@from", fromDay);
        Schema.Parameter(command, "@to", toDay);
        using var reader = command.ExecuteReader();
        var days = new List<SkuDay>();
        while (reader.Read())
        {
            days.Add(new SkuDay(reader.GetString(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3)));
        }
        return days;
    }

    private OrderPage Page(StringBuilder sql, List<(string Name, object Value)> parameters, OrderCursor? after, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (after is { } cursor)
        {
            sql.Append(" AND (placed_at_ms > @after_at OR (placed_at_ms = @after_at AND order_id > @after_id))");
            parameters.Add(("@after_at", cursor.PlacedAtMs));
            parameters.Add(("@after_id", cursor.OrderId));
        }
        sql.Append(" ORDER BY placed_at_ms, order_id LIMIT @limit");
        parameters.Add(("@limit", limit + 1));
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql.ToString();
        foreach (var (name, value) in parameters)
        {
            Schema.Parameter(command, name, value);
        }
        var orders = ReadOrders(command);
        var more = orders.Count > limit;
        if (more)
        {
            orders.RemoveAt(limit);
        }
        var page = WithLines(connection, orders);
        return new OrderPage(page, more ? new OrderCursor(page[^1].PlacedAtMs, page[^1].OrderId) : null);
    }

    private static List<OrderRow> ReadOrders(DbCommand command)
    {
        using var reader = command.ExecuteReader();
        var orders = new List<OrderRow>();
        while (reader.Read())
        {
            orders.Add(new OrderRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4),
                (OrderStatus)reader.GetInt32(5), (CancelReason)reader.GetInt32(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt32(9),
                reader.GetInt64(10), reader.GetString(11), []));
        }
        return orders;
    }

    private static List<OrderRow> WithLines(DbConnection connection, List<OrderRow> orders)
    {
        if (orders.Count == 0)
        {
            return orders;
        }
        using var command = connection.CreateCommand();
        var names = new string[orders.Count];
        for (var i = 0; i < orders.Count; i++)
        {
            names[i] = "@o" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Schema.Parameter(command, names[i], orders[i].OrderId);
        }
        command.CommandText = $"SELECT order_id, sku, warehouse, quantity, unit_price_minor FROM rm_order_lines WHERE order_id IN ({string.Join(", ", names)}) ORDER BY order_id, line";
        var lines = new Dictionary<long, List<OrderLineRow>>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var id = reader.GetInt64(0);
                if (!lines.TryGetValue(id, out var list))
                {
                    lines[id] = list = [];
                }
                list.Add(new OrderLineRow(reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt64(4)));
            }
        }
        return [.. orders.Select(o => o with { Lines = lines.TryGetValue(o.OrderId, out var l) ? l : [] })];
    }

    /// <summary>An open connection to the read model (the caller disposes it).</summary>
    internal DbConnection Connect()
    {
        var connection = _connect();
        connection.Open();
        return connection;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (var statement in _statements)
            {
                statement.Command.Dispose();
            }
            _writer.Dispose();
        }
    }
}
