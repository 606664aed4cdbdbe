using Npgsql;

namespace Surge.Journal.Postgres;

/// <summary>Creates Surge's tables. Silos of a new cluster start together and each creates them: <c>CREATE TABLE IF
/// NOT EXISTS</c> run concurrently can still fail on PostgreSQL's catalog (a duplicate key in pg_type), so the DDL runs
/// in a transaction that first takes one cluster-wide advisory lock, one silo after the other.</summary>
public static class PostgresSchema
{
    private const long SchemaLockKey = 0x5375_7267_6544_444C; // "SurgeDDL"

    public static async Task EnsureAsync(NpgsqlDataSource source, string ddl, CancellationToken cancellationToken = default)
    {
        await using var connection = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            take.Parameters.Add(new NpgsqlParameter<long> { TypedValue = SchemaLockKey });
            await take.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var create = new NpgsqlCommand(ddl, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
