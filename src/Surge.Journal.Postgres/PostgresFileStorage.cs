using Npgsql;

namespace Surge.Journal.Postgres;

/// <summary>
/// A few small named files in PostgreSQL, as an <see cref="IJournalStorage"/>: one row per file of a bucket. A file is
/// read whole when opened, changed in memory and written whole on <see cref="IStorageFile.Sync"/> (a committed
/// upsert); a rename replaces the target in one transaction. Made for checkpoints (a downstream stage's follower
/// snapshot, written every few seconds through temp file, sync, rename), which must be readable by whichever silo
/// hosts the partition next — not for journals, which have <see cref="PostgresJournal"/>.
/// </summary>
public sealed class PostgresFileStorage(NpgsqlDataSource source, string bucket) : IJournalStorage
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS surge_files (
          bucket text NOT NULL,
          name text NOT NULL,
          content bytea NOT NULL,
          PRIMARY KEY (bucket, name));
        """;

    public static async Task EnsureSchemaAsync(NpgsqlDataSource source, CancellationToken cancellationToken = default)
    {
        await PostgresSchema.EnsureAsync(source, Schema, cancellationToken).ConfigureAwait(false);
    }

    public IReadOnlyList<string> ListFiles()
    {
        using var command = source.CreateCommand("SELECT name FROM surge_files WHERE bucket = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bucket });
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public IStorageFile Open(string name, bool create)
    {
        using var command = source.CreateCommand("SELECT content FROM surge_files WHERE bucket = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bucket });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        var content = command.ExecuteScalar() as byte[];
        if (content is null && !create)
        {
            throw new FileNotFoundException($"{Describe(name)} does not exist", name);
        }
        return new RowFile(this, name, content ?? []);
    }

    public void Delete(string name)
    {
        using var command = source.CreateCommand("DELETE FROM surge_files WHERE bucket = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bucket });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        command.ExecuteNonQuery();
    }

    public void Rename(string from, string to)
    {
        using var connection = source.OpenConnection();
        using var transaction = connection.BeginTransaction();
        using (var delete = new NpgsqlCommand("DELETE FROM surge_files WHERE bucket = $1 AND name = $2", connection, transaction))
        {
            delete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bucket });
            delete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = to });
            delete.ExecuteNonQuery();
        }
        using (var rename = new NpgsqlCommand("UPDATE surge_files SET name = $3 WHERE bucket = $1 AND name = $2", connection, transaction))
        {
            rename.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bucket });
            rename.Parameters.Add(new NpgsqlParameter<string> { TypedValue = from });
            rename.Parameters.Add(new NpgsqlParameter<string> { TypedValue = to });
            if (rename.ExecuteNonQuery() != 1)
            {
                throw new FileNotFoundException($"{Describe(from)} does not exist (a file exists here only once synced)", from);
            }
        }
        transaction.Commit();
    }

    /// <summary>Nothing to do: a file's row exists once it is synced.</summary>
    public void SyncDirectory()
    {
    }

    public string Describe(string name) => $"postgres surge_files {bucket}/{name}";

    private void Store(string name, ReadOnlySpan<byte> content)
    {
        using var command = source.CreateCommand("""
            INSERT INTO surge_files (bucket, name, content) VALUES ($1, $2, $3)
            ON CONFLICT (bucket, name) DO UPDATE SET content = EXCLUDED.content
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bucket });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = content.ToArray() });
        command.ExecuteNonQuery();
    }

    /// <summary>A file held in memory between open and sync.</summary>
    private sealed class RowFile(PostgresFileStorage storage, string name, byte[] content) : IStorageFile
    {
        private byte[] _bytes = content;
        private long _length = content.Length;

        public long Length => _length;

        public int Read(long offset, Span<byte> destination)
        {
            if (offset >= _length)
            {
                return 0;
            }
            var n = (int)Math.Min(destination.Length, _length - offset);
            _bytes.AsSpan((int)offset, n).CopyTo(destination);
            return n;
        }

        public void Write(long offset, ReadOnlySpan<byte> source)
        {
            var end = offset + source.Length;
            if (end > Array.MaxLength)
            {
                throw new IOException($"{storage.Describe(name)}: a file here is at most {Array.MaxLength} bytes");
            }
            Grow(end);
            source.CopyTo(_bytes.AsSpan((int)offset));
            _length = Math.Max(_length, end);
        }

        public void Sync() => storage.Store(name, _bytes.AsSpan(0, (int)_length));

        public void SetLength(long length)
        {
            Grow(length);
            if (length < _length)
            {
                _bytes.AsSpan((int)length, (int)(_length - length)).Clear();
            }
            _length = length;
        }

        private void Grow(long length)
        {
            if (length > _bytes.Length)
            {
                Array.Resize(ref _bytes, (int)Math.Min(Array.MaxLength, Math.Max(length, 2L * _bytes.Length)));
            }
        }

        public void Dispose()
        {
        }
    }
}
