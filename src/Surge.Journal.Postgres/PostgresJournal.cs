using System.IO.Hashing;
using Npgsql;
using NpgsqlTypes;

namespace Surge.Journal.Postgres;

/// <summary>Bounds of a PostgreSQL journal, each with its unit.</summary>
public sealed record PostgresJournalOptions
{
    /// <summary>Most bytes appended but not yet committed; appends beyond it are refused (backpressure).</summary>
    public long PendingBytesMax { get; init; } = 64L * 1024 * 1024;

    /// <summary>Most records sent in one commit (one COPY).</summary>
    public int RecordsPerCommitMax { get; init; } = 10_000;

    /// <summary>Snapshots kept: the newest and fallbacks.</summary>
    public int SnapshotsKept { get; init; } = 2;
}

/// <summary>The partition lost its lease: another instance opened the same partition's journal since.</summary>
public sealed class JournalFencedException(string message) : JournalException(message);

/// <summary>
/// A partition's journal in PostgreSQL (see the project README): group commit as one binary COPY per
/// transaction, an epoch per open instance that fences out older instances, snapshots in a table,
/// compaction that keeps what open readers still need.
/// </summary>
public sealed class PostgresJournal : IJournal
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS surge_partitions (
          partition int PRIMARY KEY,
          epoch bigint NOT NULL,
          owner text NOT NULL,
          compacted_through bigint NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS surge_records (
          partition int NOT NULL,
          seq bigint NOT NULL,
          payload bytea NOT NULL,
          PRIMARY KEY (partition, seq));
        CREATE TABLE IF NOT EXISTS surge_snapshots (
          partition int NOT NULL,
          seq bigint NOT NULL,
          payload bytea NOT NULL,
          checksum bigint NOT NULL,
          PRIMARY KEY (partition, seq));
        """;

    private readonly NpgsqlDataSource _source;
    private readonly int _partition;
    private readonly long _epoch;
    private readonly PostgresJournalOptions _options;
    private readonly object _gate = new();
    private readonly Queue<(long Sequence, byte[] Payload, TaskCompletionSource Durable)> _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly List<Reader> _readers = [];
    private readonly Task _writer;
    private long _last;
    private long _durable;
    private long _pendingBytes;
    private long _compactedThrough;
    private SnapshotInfo? _latest;
    private Exception? _failure;
    private bool _closed;

    private PostgresJournal(NpgsqlDataSource source, int partition, long epoch, long last, long compactedThrough, SnapshotInfo? latest,
        PostgresJournalOptions options)
    {
        (_source, _partition, _epoch, _options) = (source, partition, epoch, options);
        (_last, _durable, _compactedThrough, _latest) = (last, last, compactedThrough, latest);
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>This instance's epoch: larger than every instance that opened the partition before it.</summary>
    public long Epoch => _epoch;

    public long LastSequence => Interlocked.Read(ref _last);

    public long DurableSequence => Interlocked.Read(ref _durable);

    public SnapshotInfo? LatestSnapshot => Volatile.Read(ref _latest);

    public static async Task EnsureSchemaAsync(NpgsqlDataSource source, CancellationToken cancellationToken = default)
    {
        await PostgresSchema.EnsureAsync(source, Schema, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes the partition over (a new epoch) and opens its journal where the durable records end.
    /// PostgreSQL failing to answer (too many clients while a cluster starts, a restart) is a
    /// <see cref="JournalUnavailableException"/> carrying its message only: the opening is asked again, and the
    /// exception crosses silos (the activation of a partition grain is awaited on another silo, and Npgsql's
    /// exceptions have no Orleans codec).</summary>
    public static PostgresJournal Open(NpgsqlDataSource source, int partition, string owner, PostgresJournalOptions? options = null)
    {
        try
        {
            return OpenOnce(source, partition, owner, options);
        }
        catch (NpgsqlException e)
        {
            throw new JournalUnavailableException($"partition {partition}: PostgreSQL did not open the journal: {e.Message}");
        }
    }

    private static PostgresJournal OpenOnce(NpgsqlDataSource source, int partition, string owner, PostgresJournalOptions? options)
    {
        using var connection = source.OpenConnection();
        long epoch, compacted;
        using (var take = new NpgsqlCommand("""
            INSERT INTO surge_partitions (partition, epoch, owner) VALUES ($1, 1, $2)
            ON CONFLICT (partition) DO UPDATE SET epoch = surge_partitions.epoch + 1, owner = EXCLUDED.owner
            RETURNING epoch, compacted_through
            """, connection))
        {
            take.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
            take.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
            using var reader = take.ExecuteReader();
            reader.Read();
            (epoch, compacted) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        // Read after the takeover committed: a commit of the previous owner in flight finished before it (row lock).
        long last;
        using (var max = new NpgsqlCommand("SELECT coalesce(max(seq), 0) FROM surge_records WHERE partition = $1", connection))
        {
            max.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
            last = (long)max.ExecuteScalar()!;
        }
        var latest = Latest(connection, partition);
        return new PostgresJournal(source, partition, epoch, Math.Max(last, Math.Max(compacted, latest?.Sequence ?? 0)), compacted, latest,
            options ?? new PostgresJournalOptions());
    }

    private static SnapshotInfo? Latest(NpgsqlConnection connection, int partition)
    {
        using var command = new NpgsqlCommand("SELECT seq, length(payload) FROM surge_snapshots WHERE partition = $1 ORDER BY seq DESC LIMIT 1", connection);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
        using var reader = command.ExecuteReader();
        return reader.Read() ? new SnapshotInfo(reader.GetInt64(0), reader.GetInt32(1), $"partition {partition} snapshot {reader.GetInt64(0)}") : null;
    }

    public AppendTicket Append(ReadOnlySpan<byte> payload)
    {
        if (payload.Length is 0 or > RecordFormat.RecordPayloadBytesMax)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"a record is 1 to {RecordFormat.RecordPayloadBytesMax} bytes");
        }
        var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long sequence;
        lock (_gate)
        {
            if (_closed || _failure is not null)
            {
                throw new JournalUnavailableException($"partition {_partition}'s journal is {(_closed ? "closed" : "failed")}", _failure);
            }
            if (_pendingBytes + payload.Length > _options.PendingBytesMax)
            {
                throw new JournalBackpressureException($"{_pendingBytes} bytes wait for PostgreSQL (bound {_options.PendingBytesMax})");
            }
            sequence = ++_last;
            _pendingBytes += payload.Length;
            _queue.Enqueue((sequence, payload.ToArray(), durable));
        }
        _signal.Release();
        return new AppendTicket(sequence, durable.Task);
    }

    /// <summary>The group commit: whatever is queued goes in one transaction (epoch check + COPY).</summary>
    private async Task WriteLoopAsync()
    {
        NpgsqlConnection? connection = null;
        var batch = new List<(long Sequence, byte[] Payload, TaskCompletionSource Durable)>();
        try
        {
            connection = await _source.OpenConnectionAsync();
            while (true)
            {
                await _signal.WaitAsync();
                batch.Clear();
                lock (_gate)
                {
                    while (_queue.Count > 0 && batch.Count < _options.RecordsPerCommitMax)
                    {
                        batch.Add(_queue.Dequeue());
                    }
                    if (batch.Count == 0 && _closed)
                    {
                        return;
                    }
                }
                if (batch.Count == 0)
                {
                    continue; // the signals of records an earlier batch already took
                }
                await CommitAsync(connection, batch);
                long bytes = batch.Sum(r => (long)r.Payload.Length);
                lock (_gate)
                {
                    _pendingBytes -= bytes;
                }
                Interlocked.Exchange(ref _durable, batch[^1].Sequence);
                foreach (var record in batch)
                {
                    record.Durable.TrySetResult();
                }
            }
        }
        catch (Exception e)
        {
            var failure = e as JournalException ?? new JournalWriteException($"partition {_partition}: the commit to PostgreSQL failed: {e.Message}", e);
            List<TaskCompletionSource> waiting;
            lock (_gate)
            {
                _failure = failure;
                waiting = [.. batch.Select(r => r.Durable), .. _queue.Select(r => r.Durable)];
                _queue.Clear();
            }
            foreach (var durable in waiting)
            {
                durable.TrySetException(failure);
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private async Task CommitAsync(NpgsqlConnection connection, List<(long Sequence, byte[] Payload, TaskCompletionSource Durable)> batch)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        await CheckEpochAsync(connection, transaction);
        await using (var copy = await connection.BeginBinaryImportAsync("COPY surge_records (partition, seq, payload) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (sequence, payload, _) in batch)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(_partition, NpgsqlDbType.Integer);
                await copy.WriteAsync(sequence, NpgsqlDbType.Bigint);
                await copy.WriteAsync(payload, NpgsqlDbType.Bytea);
            }
            await copy.CompleteAsync();
        }
        await transaction.CommitAsync();
    }

    /// <summary>Fails with <see cref="JournalFencedException"/> unless this instance's epoch is still the
    /// partition's; the share lock holds a takeover back until this transaction ends.</summary>
    private async Task CheckEpochAsync(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        await using var check = new NpgsqlCommand("SELECT epoch FROM surge_partitions WHERE partition = $1 FOR SHARE", connection, transaction);
        check.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
        var current = (long)(await check.ExecuteScalarAsync())!;
        if (current != _epoch)
        {
            throw new JournalFencedException($"partition {_partition} was taken over (epoch {current}, this instance {_epoch}): nothing more is written here");
        }
    }

    public void Replay(long afterSequence, RecordVisitor visitor)
    {
        if (afterSequence < Interlocked.Read(ref _compactedThrough))
        {
            throw new JournalGapException($"partition {_partition}: records up to {_compactedThrough} were compacted away");
        }
        using var connection = _source.OpenConnection();
        Visit(connection, afterSequence, DurableSequence, int.MaxValue, visitor);
    }

    private int Visit(NpgsqlConnection connection, long after, long through, int max, RecordVisitor visitor)
    {
        using var command = new NpgsqlCommand("SELECT seq, payload FROM surge_records WHERE partition = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4", connection);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = through });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = max });
        using var reader = command.ExecuteReader(System.Data.CommandBehavior.SequentialAccess);
        var visited = 0;
        var expected = after + 1;
        while (reader.Read())
        {
            var sequence = reader.GetInt64(0);
            if (sequence != expected)
            {
                throw new JournalGapException($"partition {_partition}: record {expected} is missing (found {sequence})");
            }
            visitor(sequence, reader.GetFieldValue<byte[]>(1));
            (expected, visited) = (expected + 1, visited + 1);
        }
        return visited;
    }

    public async Task WriteSnapshotAsync(long sequence, Action<Stream> write, CancellationToken cancellationToken = default)
    {
        if (sequence < 0 || sequence > DurableSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"a snapshot must follow a durable record (durable through {DurableSequence})");
        }
        using var image = new MemoryStream();
        write(image);
        var bytes = image.ToArray();
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await CheckEpochAsync(connection, transaction);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO surge_snapshots (partition, seq, payload, checksum) VALUES ($1, $2, $3, $4)
            ON CONFLICT (partition, seq) DO UPDATE SET payload = EXCLUDED.payload, checksum = EXCLUDED.checksum
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = sequence });
            insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = bytes });
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Checksum(bytes) });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        lock (_gate)
        {
            if (_latest is null || sequence >= _latest.Sequence)
            {
                _latest = new SnapshotInfo(sequence, bytes.Length, $"partition {_partition} snapshot {sequence}");
            }
        }
    }

    private static long Checksum(byte[] bytes) => (long)XxHash64.HashToUInt64(bytes);

    public Stream OpenSnapshot(SnapshotInfo snapshot)
    {
        using var connection = _source.OpenConnection();
        using var command = new NpgsqlCommand("SELECT payload, checksum FROM surge_snapshots WHERE partition = $1 AND seq = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = snapshot.Sequence });
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            throw new JournalCorruptException(snapshot.Name, 0, "the snapshot is gone (compacted away?)");
        }
        var bytes = reader.GetFieldValue<byte[]>(0);
        return new VerifiedStream(bytes, Checksum(bytes) == reader.GetInt64(1), snapshot.Name);
    }

    /// <summary>A snapshot's bytes; reading to the end throws when their checksum did not match.</summary>
    private sealed class VerifiedStream(byte[] bytes, bool valid, string name) : MemoryStream(bytes, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count) => Check(base.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Check(base.Read(buffer));

        public override int ReadByte() => Position == Length ? Check(0) - 1 : base.ReadByte();

        private int Check(int read) => read == 0 && !valid ? throw new JournalCorruptException(name, Length, "snapshot checksum mismatch") : read;
    }

    public long Compact()
    {
        using var connection = _source.OpenConnection();
        var kept = new List<long>();
        using (var list = new NpgsqlCommand("SELECT seq FROM surge_snapshots WHERE partition = $1 ORDER BY seq DESC", connection))
        {
            list.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                kept.Add(reader.GetInt64(0));
            }
        }
        if (kept.Count == 0)
        {
            return 0;
        }
        var oldestKept = kept[Math.Min(kept.Count, _options.SnapshotsKept) - 1];
        long through;
        lock (_gate)
        {
            through = Math.Min(oldestKept, DurableSequence);
            foreach (var reader in _readers)
            {
                through = Math.Min(through, reader.Released);
            }
        }
        using var transaction = connection.BeginTransaction();
        CheckEpochAsync(connection, transaction).GetAwaiter().GetResult();
        long removed = 0;
        if (through > Interlocked.Read(ref _compactedThrough))
        {
            using var delete = new NpgsqlCommand("DELETE FROM surge_records WHERE partition = $1 AND seq <= $2", connection, transaction);
            delete.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
            delete.Parameters.Add(new NpgsqlParameter<long> { TypedValue = through });
            removed = delete.ExecuteNonQuery();
            using var mark = new NpgsqlCommand("UPDATE surge_partitions SET compacted_through = $2 WHERE partition = $1", connection, transaction);
            mark.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
            mark.Parameters.Add(new NpgsqlParameter<long> { TypedValue = through });
            mark.ExecuteNonQuery();
        }
        using (var old = new NpgsqlCommand("DELETE FROM surge_snapshots WHERE partition = $1 AND seq < $2", connection, transaction))
        {
            old.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _partition });
            old.Parameters.Add(new NpgsqlParameter<long> { TypedValue = oldestKept });
            old.ExecuteNonQuery();
        }
        transaction.Commit();
        if (through > Interlocked.Read(ref _compactedThrough))
        {
            Interlocked.Exchange(ref _compactedThrough, through);
        }
        return removed;
    }

    public IJournalReader OpenReader(long afterSequence)
    {
        lock (_gate)
        {
            if (afterSequence < _compactedThrough)
            {
                throw new JournalGapException($"partition {_partition}: records up to {_compactedThrough} were compacted away");
            }
            var reader = new Reader(this, afterSequence);
            _readers.Add(reader);
            return reader;
        }
    }

    private sealed class Reader(PostgresJournal journal, long after) : IJournalReader
    {
        private long _released = after;

        public long Position { get; private set; } = after;

        public long Released => Interlocked.Read(ref _released);

        public int Read(int maxRecords, RecordVisitor visitor)
        {
            if (Position >= journal.DurableSequence)
            {
                return 0; // caught up: a follower polling an idle partition does not go to the database
            }
            using var connection = journal._source.OpenConnection();
            var visited = journal.Visit(connection, Position, journal.DurableSequence, maxRecords, (sequence, payload) =>
            {
                visitor(sequence, payload);
                Position = sequence;
            });
            return visited;
        }

        public void Release(long throughSequence)
        {
            for (var current = Released; throughSequence > current; current = Released)
            {
                if (Interlocked.CompareExchange(ref _released, throughSequence, current) == current)
                {
                    break;
                }
            }
        }

        public void Dispose()
        {
            lock (journal._gate)
            {
                journal._readers.Remove(this);
            }
        }
    }

    /// <summary>Stops taking appends, commits what is queued, and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
        }
        _signal.Release();
        await _writer;
        _signal.Dispose();
    }
}
