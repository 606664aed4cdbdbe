using Npgsql;

namespace Surge.Journal.Postgres;

/// <summary>
/// The control log of a cluster in PostgreSQL: one row per line, numbered in commit order. A write takes a
/// transaction-scoped advisory lock, reads what others appended, decides and inserts in the same transaction, so
/// writers on every silo are serialized and each decides with the whole log in view.
/// </summary>
public sealed class PostgresControlLog(NpgsqlDataSource source) : IControlLog
{
    private const string Schema = "CREATE TABLE IF NOT EXISTS surge_control (seq bigint PRIMARY KEY, line text NOT NULL);";

    /// <summary>The advisory lock key of control writes (any constant unique to this use).</summary>
    private const long WriteLockKey = 0x5375_7267_6543_746C; // "SurgeCtl"

    private readonly Lock _gate = new();
    private long _seen;

    public static async Task EnsureSchemaAsync(NpgsqlDataSource source, CancellationToken cancellationToken = default)
    {
        await PostgresSchema.EnsureAsync(source, Schema, cancellationToken).ConfigureAwait(false);
    }

    public IReadOnlyList<string> ReadNew()
    {
        lock (_gate)
        {
            using var connection = source.OpenConnection();
            return ReadAfter(connection, null);
        }
    }

    public void Write(Func<IReadOnlyList<string>, string?> decide)
    {
        lock (_gate)
        {
            using var connection = source.OpenConnection();
            using var transaction = connection.BeginTransaction();
            using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
            {
                lockCommand.Parameters.AddWithValue("key", WriteLockKey);
                lockCommand.ExecuteNonQuery();
            }
            // The lines read are handed to decide (and applied by the caller) even if the insert fails below.
            var lines = ReadAfter(connection, transaction);
            if (decide(lines) is { } line)
            {
                using var insert = new NpgsqlCommand("INSERT INTO surge_control (seq, line) VALUES (@seq, @line)", connection, transaction);
                insert.Parameters.AddWithValue("seq", _seen + 1);
                insert.Parameters.AddWithValue("line", line);
                insert.ExecuteNonQuery();
                transaction.Commit();
                _seen++;
                return;
            }
            transaction.Commit();
        }
    }

    private List<string> ReadAfter(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        using var command = new NpgsqlCommand("SELECT seq, line FROM surge_control WHERE seq > @after ORDER BY seq", connection, transaction);
        command.Parameters.AddWithValue("after", _seen);
        using var reader = command.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            _seen = reader.GetInt64(0);
            lines.Add(reader.GetString(1));
        }
        return lines;
    }

    public void Dispose()
    {
    }
}
