using System.Collections.Concurrent;
using Surge.Core;
using Surge.Journal;

namespace Surge.Server;

/// <summary>
/// Owns the partitions' journals in this process: opens (recovers) a partition when its grain activates and
/// closes every journal at shutdown. Each partition has its own directory under <c>partitions/</c>, or its own
/// journal from <see cref="ServerOptions.JournalFactory"/>.
/// </summary>
public sealed class PartitionHost(ServerOptions options) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<int, DurablePartition> _open = new();
    // One shared group commit per device: a slow or stalled device holds up only the partitions that live on it.
    private readonly ConcurrentDictionary<object, Lazy<GroupCommitter>> _committers = new();

    public ServerOptions Options { get; } = options;

    /// <summary>The partitions open in this process, by index.</summary>
    public IEnumerable<KeyValuePair<int, DurablePartition>> Partitions => _open;

    /// <summary>Called once per partition right after it recovered, before it takes a command (downstream
    /// stages open their journal readers here).</summary>
    public Action<int, DurablePartition>? Opened { get; set; }

    /// <summary>Called before a partition's journal closes here (its downstream stops and closes its stores first).</summary>
    public Func<int, Task>? Closing { get; set; }

    /// <summary>The downstream of the partitions open here (a grain answers its partition's downstream calls from it).</summary>
    public Application.Downstream? Flow { get; set; }

    /// <summary>The read model's projectors of the partitions open here (a grain answers how far its partition's is).</summary>
    public ReadModel.ReadModelProjection? ReadModel { get; set; }

    public DurablePartition Open(int index)
    {
        if (index < 0 || index >= Options.Partitions)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"partitions are 0..{Options.Partitions - 1}");
        }
        return _open.GetOrAdd(index, i =>
        {
            var journal = Options.Storage.JournalFactory?.Invoke(i) ?? OpenLocal(
                Options.Storage.StorageFactory?.Invoke(i) ?? new DirectoryStorage(Path.Combine(Options.DataDirectory, "partitions", i.ToString("D4"))));
            var partition = DurablePartition.Recover(journal, new EngineOptions(ExpectedSkus: 1024, ExpectedOrders: 64 * 1024));
            partition.Policy = new SnapshotPolicy(Options.Storage.SnapshotEveryBytes);
            ConfigureRetention(partition);
            Opened?.Invoke(i, partition);
            return partition;
        });
    }

    /// <summary>Journals the retention of final orders when the partition's differs from the node's (once per change;
    /// the engine keeps it in its state). Not awaited: every later batch is acknowledged only once it is durable, and
    /// this record is before them.</summary>
    private void ConfigureRetention(DurablePartition partition)
    {
        var wanted = Options.RetentionMs;
        if (partition.Engine.RetentionMs != wanted || (wanted != Engine.RetainForever && partition.Engine.IdBlockBits != Application.Ids.ChildIdBlockBits))
        {
            var writer = new CommandWriter().Begin(Options.Clock.GetUtcNow().ToUnixTimeMilliseconds());
            partition.Submit(writer.ConfigureRetention(wanted, Application.Ids.ChildIdBlockBits).Written);
        }
    }

    private SegmentJournal OpenLocal(IJournalStorage storage) => SegmentJournal.Open(storage, new JournalOptions
    {
        SegmentBytesMax = Options.Storage.SegmentBytesMax,
        Committer = Options.Storage.SharedCommit ? _committers.GetOrAdd(storage.Device, _ => new Lazy<GroupCommitter>(() => new GroupCommitter())).Value : null,
    });

    /// <summary>Forgets a partition whose activation left this silo (in a cluster it may come back here later, or
    /// live on elsewhere) and closes its journal; a no-op if the partition was already opened again.</summary>
    public async Task CloseAsync(int index, DurablePartition partition)
    {
        if (_open.TryRemove(new KeyValuePair<int, DurablePartition>(index, partition)))
        {
            if (Closing is { } closing)
            {
                await closing(index).ConfigureAwait(false);
            }
            await partition.Journal.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var partition in _open.Values)
        {
            await partition.Journal.DisposeAsync().ConfigureAwait(false);
        }
        _open.Clear();
        foreach (var committer in _committers.Values)
        {
            committer.Value.Dispose();
        }
        _committers.Clear();
    }
}
