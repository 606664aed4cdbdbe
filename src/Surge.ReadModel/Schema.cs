using System.Data.Common;
using System.Globalization;

namespace Surge.ReadModel;

/// <summary>Which database a read model is in: the embedded SQLite file, or a cluster's PostgreSQL.</summary>
public enum SchemaDialect
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The read model's tables, as numbered migrations applied in order, each once, in one transaction with its row in
/// <c>rm_migrations</c>. The SQL is the common dialect of SQLite (3.35+) and PostgreSQL — the same schema serves the
/// embedded file and a cluster's database. A migration is never edited once released; a change is a new one.
/// </summary>
public static class Schema
{
    /// <summary>One migration: its number (1, 2, …), what it does, and its statements.</summary>
    public sealed record Migration(int Version, string Description, string[] Statements);

    public static IReadOnlyList<Migration> Migrations { get; } =
    [
        new(1, "orders, lines, status history, SKU days, positions",
        [
            // How far the read model is in each partition's journal: the last record projected and that record's time.
            """
            CREATE TABLE rm_positions (
                partition INTEGER PRIMARY KEY,
                sequence BIGINT NOT NULL,
                record_at_ms BIGINT NOT NULL)
            """,
            // One row per seller order. last_sequence: the journal record of its last change; a change from an older
            // record is not applied (a projector that repeats records after a restart changes nothing).
            """
            CREATE TABLE rm_seller_orders (
                order_id BIGINT PRIMARY KEY,
                parent_id BIGINT NOT NULL,
                partition INTEGER NOT NULL,
                seller_id BIGINT NOT NULL,
                buyer_id BIGINT NOT NULL,
                status INTEGER NOT NULL,
                cancel_reason INTEGER NOT NULL,
                placed_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                units INTEGER NOT NULL,
                amount_minor BIGINT NOT NULL,
                currency TEXT NOT NULL,
                last_sequence BIGINT NOT NULL)
            """,
            "CREATE INDEX rm_seller_orders_by_seller ON rm_seller_orders (seller_id, placed_at_ms, order_id)",
            "CREATE INDEX rm_seller_orders_by_seller_status ON rm_seller_orders (seller_id, status, placed_at_ms, order_id)",
            "CREATE INDEX rm_seller_orders_by_buyer ON rm_seller_orders (buyer_id, placed_at_ms, order_id)",
            "CREATE INDEX rm_seller_orders_by_parent ON rm_seller_orders (parent_id)",
            """
            CREATE TABLE rm_order_lines (
                order_id BIGINT NOT NULL,
                line INTEGER NOT NULL,
                seller_id BIGINT NOT NULL,
                sku TEXT NOT NULL,
                warehouse TEXT NOT NULL,
                quantity INTEGER NOT NULL,
                unit_price_minor BIGINT NOT NULL,
                PRIMARY KEY (order_id, line))
            """,
            "CREATE INDEX rm_order_lines_by_sku ON rm_order_lines (seller_id, sku, order_id)",
            """
            CREATE TABLE rm_status_history (
                order_id BIGINT NOT NULL,
                status INTEGER NOT NULL,
                cancel_reason INTEGER NOT NULL,
                at_ms BIGINT NOT NULL,
                sequence BIGINT NOT NULL,
                PRIMARY KEY (order_id, sequence, status))
            """,
            // Units and revenue of paid seller orders (paid or further, not cancelled) by SKU and by the UTC day the
            // order was placed: the forecasting input. A seller order counts from its payment; a cancellation after
            // payment takes it out again.
            """
            CREATE TABLE rm_sku_days (
                seller_id BIGINT NOT NULL,
                sku TEXT NOT NULL,
                day INTEGER NOT NULL,
                units BIGINT NOT NULL,
                revenue_minor BIGINT NOT NULL,
                PRIMARY KEY (seller_id, sku, day))
            """,
        ]),
    ];

    /// <summary>The newest schema version this build knows.</summary>
    public static int Latest => Migrations[^1].Version;

    /// <summary>Key of the PostgreSQL advisory lock that silos starting together take to migrate one at a time.</summary>
    private const long MigrationLockKey = 0x5375_7267_6552_4d31; // "SurgeRM1"

    /// <summary>Applies every migration newer than the database's version; returns the version it is at. A database of
    /// a newer version than this build knows is refused (an older binary must not write a newer schema). In PostgreSQL,
    /// under a session advisory lock: of silos starting together, one migrates and the others find it done.</summary>
    public static int Migrate(DbConnection connection, SchemaDialect dialect = SchemaDialect.Sqlite)
    {
        if (dialect != SchemaDialect.Postgres)
        {
            return MigrateNow(connection);
        }
        Execute(connection, null, $"SELECT pg_advisory_lock({MigrationLockKey})");
        try
        {
            return MigrateNow(connection);
        }
        finally
        {
            Execute(connection, null, $"SELECT pg_advisory_unlock({MigrationLockKey})");
        }
    }

    private static int MigrateNow(DbConnection connection)
    {
        Execute(connection, null, "CREATE TABLE IF NOT EXISTS rm_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)");
        var current = Version(connection);
        if (current > Latest)
        {
            throw new InvalidOperationException($"the read model's schema is version {current}; this build knows up to {Latest} (run a newer Surge)");
        }
        foreach (var migration in Migrations.Where(m => m.Version > current))
        {
            using var transaction = connection.BeginTransaction();
            foreach (var statement in migration.Statements)
            {
                Execute(connection, transaction, statement);
            }
            using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = "INSERT INTO rm_migrations (version, description, applied_at_ms) VALUES (@v, @d, @t)";
            Parameter(record, "@v", migration.Version);
            Parameter(record, "@d", migration.Description);
            Parameter(record, "@t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            record.ExecuteNonQuery();
            transaction.Commit();
            current = migration.Version;
        }
        return current;
    }

    /// <summary>The version the database is at (0: none applied).</summary>
    public static int Version(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM rm_migrations";
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    internal static void Execute(DbConnection connection, DbTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    internal static DbParameter Parameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter;
    }
}
