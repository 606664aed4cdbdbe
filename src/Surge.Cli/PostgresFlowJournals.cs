using System.Globalization;
using Npgsql;
using Surge.Flow;
using Surge.Journal;
using Surge.Journal.Postgres;

namespace Surge.Cli;

/// <summary>
/// A cluster's downstream state in PostgreSQL, beside the partitions' journals, so that it follows a partition to
/// whichever silo hosts it: each partition's stores are <see cref="PostgresJournal"/> streams of their own (opening one
/// fences out the silo that had it, as for the partition's journal), its stage's checkpoints are rows of
/// <see cref="PostgresFileStorage"/>. Stream numbers: the partitions' journals are 0…1023 (at most 2^10 partitions);
/// store k of partition p is <c>(k + 1) · 2^16 + p</c>.
/// </summary>
public sealed class PostgresFlowJournals(NpgsqlDataSource source, string owner) : IFlowJournals
{
    private const int StreamStride = 1 << 16;

    private static readonly string[] Stores = ["shipments", "notifications"];

    public static async Task EnsureSchemaAsync(NpgsqlDataSource source, CancellationToken cancellationToken) =>
        await PostgresFileStorage.EnsureSchemaAsync(source, cancellationToken).ConfigureAwait(false);

    public IJournal OpenStore(int partition, string name)
    {
        var index = Array.IndexOf(Stores, name);
        if (index < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(name), name, $"stores are {string.Join(", ", Stores)}");
        }
        return PostgresJournal.Open(source, (index + 1) * StreamStride + partition, owner);
    }

    public IJournalStorage Checkpoints(int partition) =>
        new PostgresFileStorage(source, "fulfillment/" + partition.ToString("D4", CultureInfo.InvariantCulture));
}
