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
    /// <summary>Rows one multi-row insert carries (a new order's row, lines, history steps, SKU days).</summary>
    public const int RowsPerStatement = 64;

    private readonly SchemaDialect _dialect;
    private readonly Action<DbConnection> _prepare;
    private readonly Statement _insertOrder, _insertLine, _insertHistory, _moveSold, _updateStatus, _insertMoveHistory, _upsertPosition;
    private readonly List<Statement> _statements = [];
    private readonly MultiRow _orderRows, _lineRows, _historyRows, _skuDayRows;
    // While a commit runs: its transaction, the statements not sent yet (a batching database), and the orders placed in
    // it, whose later changes in it are applied in memory and written with them as multi-row inserts.
    private DbTransaction? _transaction;
    private DbBatch? _batch;
    private readonly Dictionary<long, NewOrder> _placed = [];
    private readonly Dictionary<(long Seller, string Sku, long Day), (long Units, long Revenue)> _sold = [];
    private bool _disposed;

    private ReadModelStore(Func<DbConnection> connect, string description, SchemaDialect dialect, Action<DbConnection> prepare)
    {
        _connect = connect;
        _dialect = dialect;
        Description = description;
        _writer = connect();
        try
        {
            _writer.Open();
            _prepare = prepare;
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
            _orderRows = new MultiRow(this, """
                INSERT INTO rm_seller_orders (order_id, parent_id, partition, seller_id, buyer_id, status, cancel_reason, placed_at_ms,
                    updated_at_ms, units, amount_minor, currency, last_sequence)
                """, 13, "ON CONFLICT (order_id) DO NOTHING");
            _lineRows = new MultiRow(this, "INSERT INTO rm_order_lines (order_id, line, seller_id, sku, warehouse, quantity, unit_price_minor)", 7,
                "ON CONFLICT (order_id, line) DO NOTHING");
            _historyRows = new MultiRow(this, "INSERT INTO rm_status_history (order_id, status, cancel_reason, at_ms, sequence)", 5,
                "ON CONFLICT (order_id, sequence, status) DO NOTHING");
            _skuDayRows = new MultiRow(this, "INSERT INTO rm_sku_days (seller_id, sku, day, units, revenue_minor)", 5, """
                ON CONFLICT (seller_id, sku, day) DO UPDATE SET units = rm_sku_days.units + excluded.units,
                    revenue_minor = rm_sku_days.revenue_minor + excluded.revenue_minor
                """);
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
        new(source.CreateConnection, description, SchemaDialect.Postgres, writer =>
            // A silo paused in the middle of a commit (SIGSTOP, a long GC) holds its partitions' position rows: the
            // server ends its transaction after this long, so the silo that took the partitions over can write.
            Schema.Execute(writer, null, $"SET idle_in_transaction_session_timeout = {(long)IdleInTransactionMax.TotalMilliseconds}"));

    /// <summary>Longest a PostgreSQL writer may sit idle inside a commit before the server ends its session.</summary>
    public static readonly TimeSpan IdleInTransactionMax = TimeSpan.FromSeconds(10);

    /// <summary>One of the writer's statements: its text and parameter names (added to the commit's batch on a batching
    /// database), and on SQLite the statement prepared once.</summary>
    private sealed record Statement(string Sql, string[] Names, SqliteStatement? Native);

    private Statement Command(string sql, params string[] parameters)
    {
        SqliteStatement? native = null;
        if (_writer is SqliteConnection sqlite)
        {
            native = new SqliteStatement(sqlite.Handle!, sql, parameters);
        }
        else if (!_writer.CanCreateBatch)
        {
            throw new NotSupportedException($"{_writer.GetType().Name}: the read model's writer needs SQLite or a database with batches (PostgreSQL)");
        }
        var statement = new Statement(sql, parameters, native);
        _statements.Add(statement);
        return statement;
    }

    /// <summary>
    /// A SQLite statement of the writer, prepared once and bound by position. Microsoft.Data.Sqlite binds each parameter
    /// by name, and SQLite finds a name by a linear search: quadratic in a statement's parameters — 43 % of the writer's
    /// time with multi-row inserts (perf, `bench soak`). This binds each value to the index its name was given once.
    /// </summary>
    private sealed class SqliteStatement : IDisposable
    {
        private readonly SQLitePCL.sqlite3 _db;
        private readonly SQLitePCL.sqlite3_stmt _statement;
        private readonly int[] _indexes;

        public SqliteStatement(SQLitePCL.sqlite3 db, string sql, string[] names)
        {
            _db = db;
            Check(SQLitePCL.raw.sqlite3_prepare_v2(db, sql, out _statement));
            _indexes = [.. names.Select(n => SQLitePCL.raw.sqlite3_bind_parameter_index(_statement, n))];
        }

        public void Execute(object[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                var rc = values[i] switch
                {
                    long l => SQLitePCL.raw.sqlite3_bind_int64(_statement, _indexes[i], l),
                    int n => SQLitePCL.raw.sqlite3_bind_int(_statement, _indexes[i], n),
                    string text => SQLitePCL.raw.sqlite3_bind_text(_statement, _indexes[i], text),
                    var other => throw new ArgumentException($"no SQLite binding for {other?.GetType().Name ?? "null"}"),
                };
                Check(rc);
            }
            var step = SQLitePCL.raw.sqlite3_step(_statement);
            SQLitePCL.raw.sqlite3_reset(_statement);
            if (step != SQLitePCL.raw.SQLITE_DONE)
            {
                Check(step);
            }
        }

        private void Check(int rc)
        {
            if (rc != SQLitePCL.raw.SQLITE_OK)
            {
                throw new SqliteException(SQLitePCL.raw.sqlite3_errmsg(_db).utf8_to_string(), rc);
            }
        }

        public void Dispose() => _statement.Dispose();
    }

    /// <summary>An insert of up to <see cref="RowsPerStatement"/> rows of <paramref name="columns"/> values each: one
    /// statement per row count, made when first needed.</summary>
    private sealed class MultiRow(ReadModelStore store, string head, int columns, string tail)
    {
        private readonly Statement?[] _byRows = new Statement?[RowsPerStatement + 1];
        private readonly List<object> _values = [];

        public int Columns => columns;

        /// <summary>Adds a row's values (<see cref="Columns"/> of them); a full statement is run at once.</summary>
        public void Add(params object[] row)
        {
            _values.AddRange(row);
            if (_values.Count == RowsPerStatement * columns)
            {
                Flush();
            }
        }

        /// <summary>Runs the rows added so far.</summary>
        public void Flush()
        {
            var rows = _values.Count / columns;
            if (rows == 0)
            {
                return;
            }
            var statement = _byRows[rows] ??= Make(rows);
            store.Run(statement, [.. _values]);
            _values.Clear();
        }

        public void Clear() => _values.Clear();

        private Statement Make(int rows)
        {
            var names = new string[rows * columns];
            var sql = new StringBuilder(head).Append(" VALUES ");
            for (var r = 0; r < rows; r++)
            {
                sql.Append(r == 0 ? "(" : ", (");
                for (var c = 0; c < columns; c++)
                {
                    names[r * columns + c] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"@v{r}_{c}");
                    sql.Append(c == 0 ? "" : ", ").Append(names[r * columns + c]);
                }
                sql.Append(')');
            }
            return store.Command(sql.Append(' ').Append(tail).ToString(), names);
        }
    }

    /// <summary>A seller order placed in the commit being applied: its row as it will be written (its later changes in the
    /// same commit applied here) and its history.</summary>
    private sealed class NewOrder(int partition, long sequence, PlacedOrder order)
    {
        public int Partition { get; } = partition;
        public PlacedOrder Order { get; } = order;
        public OrderStatus Status { get; private set; } = OrderStatus.PendingPayment;
        public CancelReason Reason { get; private set; }
        public long UpdatedAtMs { get; private set; } = order.PlacedAtMs;
        public long LastSequence { get; private set; } = sequence;
        public List<(OrderStatus Status, CancelReason Reason, long AtMs, long Sequence)> History { get; } =
            [(OrderStatus.PendingPayment, CancelReason.None, order.PlacedAtMs, sequence)];

        /// <summary>The rule of the status update and its history row, on the row in memory.</summary>
        public void Apply(OrderChange change)
        {
            if (change.Sequence >= LastSequence && change.Status != Status)
            {
                (Status, Reason, UpdatedAtMs, LastSequence) = (change.Status, change.Reason, change.AtMs, change.Sequence);
                History.Add((change.Status, change.Reason, change.AtMs, change.Sequence));
            }
        }
    }

    /// <summary>Runs a statement now, or adds it to the commit's batch (sent when full and at the commit).</summary>
    private void Run(Statement statement, params object[] values)
    {
        if (statement.Native is { } native)
        {
            native.Execute(values);
            return;
        }
        var batch = _batch!;
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
    /// sync of the database for all of them). A change from a record at or before its partition's position (read, and in
    /// PostgreSQL locked, in the transaction) is in the read model already and skipped — a repeated record costs nothing
    /// and a late writer of a partition that moved cannot apply anything twice. An order placed in the commit is written
    /// once, with its later changes in the commit already applied: at a backlog, where a commit covers seconds of
    /// records, most orders' first steps are one multi-row insert instead of a statement per change.</summary>
    public void Commit(IReadOnlyList<ProjectionBatch> batches)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_writer.State != System.Data.ConnectionState.Open && _writer is not SqliteConnection)
            {
                // A network database's connection breaks (a timeout, the server ended the session): a new one.
                _writer.Close();
                _writer.Open();
                _prepare(_writer);
            }
            using var transaction = _writer.BeginTransaction();
            _transaction = transaction;
            if (_writer is not SqliteConnection)
            {
                _batch = _writer.CreateBatch();
                _batch.Transaction = transaction;
            }
            try
            {
                var floors = LockPositions([.. batches.Select(b => b.Partition).Distinct()]);
                Apply(batches, floors);
                WritePlaced();
                Send();
            }
            finally
            {
                _placed.Clear();
                _sold.Clear();
                foreach (var rows in new[] { _orderRows, _lineRows, _historyRows, _skuDayRows })
                {
                    rows.Clear();
                }
                _batch?.Dispose();
                _batch = null;
                _transaction = null;
            }
            transaction.Commit();
        }
    }

    /// <summary>The positions of <paramref name="partitions"/> in the read model (0 for one never written), each row
    /// locked for the rest of the transaction in PostgreSQL (SQLite has one writer).</summary>
    private Dictionary<int, long> LockPositions(int[] partitions)
    {
        var floors = new Dictionary<int, long>(partitions.Length);
        if (partitions.Length == 0)
        {
            return floors;
        }
        var names = partitions.Select((_, i) => "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        using (var create = _writer.CreateCommand())
        {
            create.Transaction = _transaction;
            create.CommandText = "INSERT INTO rm_positions (partition, sequence, record_at_ms) VALUES "
                + string.Join(", ", names.Select(n => $"({n}, 0, 0)")) + " ON CONFLICT (partition) DO NOTHING";
            for (var i = 0; i < partitions.Length; i++)
            {
                Schema.Parameter(create, names[i], partitions[i]);
            }
            create.ExecuteNonQuery();
        }
        using var read = _writer.CreateCommand();
        read.Transaction = _transaction;
        read.CommandText = $"SELECT partition, sequence FROM rm_positions WHERE partition IN ({string.Join(", ", names)})"
            + (_dialect == SchemaDialect.Postgres ? " FOR UPDATE" : "");
        for (var i = 0; i < partitions.Length; i++)
        {
            Schema.Parameter(read, names[i], partitions[i]);
        }
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            floors[reader.GetInt32(0)] = reader.GetInt64(1);
        }
        return floors;
    }

    private void Apply(IReadOnlyList<ProjectionBatch> batches, Dictionary<int, long> floors)
    {
        foreach (var batch in batches)
        {
            var floor = floors.GetValueOrDefault(batch.Partition);
            foreach (var change in batch.Changes)
            {
                if (change.Seeded)
                {
                    // A seed: an engine's state, possibly written before by a seed cut short — each row guarded.
                    if (change.Placed is { } seeded)
                    {
                        Place(batch.Partition, change.Sequence, seeded);
                    }
                    else
                    {
                        Move(change);
                    }
                }
                else if (change.Sequence <= floor)
                {
                    continue; // in the read model already
                }
                else if (change.Placed is { } placed)
                {
                    _placed[placed.OrderId] = new NewOrder(batch.Partition, change.Sequence, placed);
                }
                else if (_placed.TryGetValue(change.OrderId, out var order))
                {
                    order.Apply(change);
                }
                else
                {
                    Move(change);
                }
            }
            floors[batch.Partition] = Math.Max(floor, batch.Sequence);
            Run(_upsertPosition, batch.Partition, batch.Sequence, batch.RecordAtMs);
        }
    }

    /// <summary>The orders placed in this commit, as they are at its end: rows, lines, history steps, and the SKU days of
    /// those that count as sold, in multi-row inserts.</summary>
    private void WritePlaced()
    {
        const long dayMs = 86_400_000;
        foreach (var o in _placed.Values)
        {
            var order = o.Order;
            long units = 0, amount = 0;
            foreach (var line in order.Lines)
            {
                units += line.Quantity;
                amount += line.Quantity * line.UnitPriceMinor;
            }
            _orderRows.Add(order.OrderId, order.ParentId, o.Partition, order.SellerId, order.BuyerId, (int)o.Status, (int)o.Reason, order.PlacedAtMs,
                o.UpdatedAtMs, units, amount, order.Currency, o.LastSequence);
            for (var i = 0; i < order.Lines.Length; i++)
            {
                var line = order.Lines[i];
                _lineRows.Add(order.OrderId, i, order.SellerId, line.Sku, line.Warehouse, line.Quantity, line.UnitPriceMinor);
                if (SoldStatuses.Counts(o.Status))
                {
                    var key = (order.SellerId, line.Sku, order.PlacedAtMs / dayMs);
                    var (sold, revenue) = _sold.GetValueOrDefault(key);
                    _sold[key] = (sold + line.Quantity, revenue + line.Quantity * line.UnitPriceMinor);
                }
            }
            foreach (var step in o.History)
            {
                _historyRows.Add(order.OrderId, (int)step.Status, (int)step.Reason, step.AtMs, step.Sequence);
            }
        }
        foreach (var ((seller, sku, day), (units, revenue)) in _sold)
        {
            _skuDayRows.Add(seller, sku, (int)day, units, revenue);
        }
        foreach (var rows in new[] { _orderRows, _lineRows, _historyRows, _skuDayRows })
        {
            rows.Flush();
        }
    }

    /// <summary>A placed seller order, row by row: its row, lines and first status, each inserted only if not there (a
    /// seed repeated after a crash adds nothing).</summary>
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

    /// <summary>A new status of a seller order placed before this commit (or seeded): its SKU days first (only a payment,
    /// a cancellation or a seeded status can change whether it counts as sold: every other step goes from sold to sold),
    /// then the row, then the history — each a no-op when a newer record changed the order already or it is in that
    /// status.</summary>
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
                statement.Native?.Dispose();
            }
            _writer.Dispose();
        }
    }
}
