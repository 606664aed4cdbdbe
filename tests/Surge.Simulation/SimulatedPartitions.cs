using Surge.Application;
using Surge.Core;
using Surge.Journal;
using Surge.Runtime;
using Surge.Testing;

namespace Surge.Simulation;

/// <summary>
/// <see cref="IPartitions"/> over real engines and real segment journals on simulated disks, one per partition, all
/// in one simulated process. A command is applied and appended when it is submitted (so the saga's concurrent steps
/// are several appends in flight) and answered when its record is durable. The process can be made to die at the
/// n-th submit: before it is appended, while it is written (a torn write), or after it is durable but before the
/// answer — from then on every disk has lost power and every submit fails, until <see cref="Restart"/>.
/// It is also the saga's archive of retired seller orders (what the read model is in a server): the last final state
/// each seller order reached, answered once its partition no longer holds it.
/// </summary>
public sealed class SimulatedPartitions : IPartitions, ISkuCatalog, IOrderArchive
{
    private static readonly JournalOptions Journal = new() { SegmentBytesMax = 16 * 1024, BackgroundFileWork = false };

    private readonly SimulatedStorage[] _disks;
    private readonly DurablePartition?[] _partitions;
    private readonly TimeProvider _clock;
    private readonly Random _random;
    // The last final state of every seller order that reached one (by id, with its partition): what a read model holds.
    private readonly Dictionary<long, (int Partition, OrderSnapshot Order, SellerOrderState State)> _final = [];

    public SimulatedPartitions(int count, int seed, TimeProvider clock)
    {
        _disks = [.. Enumerable.Range(0, count).Select(p => new SimulatedStorage(seed * 31 + p))];
        _partitions = new DurablePartition?[count];
        _clock = clock;
        _random = new Random(seed);
        Restart();
    }

    /// <summary>The process dies at this submit (counted from 1 since the start), or never.</summary>
    public long? DieAtSubmit { get; set; }

    public long Submits { get; private set; }

    public bool Dead { get; private set; }

    public int Count => _disks.Length;

    public Engine Engine(int partition) => _partitions[partition]!.Engine;

    public int PartitionOf(long sellerId) => Ids.PartitionOf(sellerId, Count);

    public Task<SkuDefinition?> GetSku(int partition, int sku) =>
        Task.FromResult(sku >= 0 && sku < Engine(partition).SkuCount ? Engine(partition).GetSku(sku) : (SkuDefinition?)null);

    public Task<CommandResult> Submit(int partition, Action<CommandWriter> encode) =>
        FirstAsync(SubmitGroup(partition, 1, encode)); // a refusal is thrown at once, as the port requires

    private static async Task<CommandResult> FirstAsync(Task<CommandGroup> group) => (await group.ConfigureAwait(false)).Result(0);

    public Task<CommandGroup> SubmitGroup(int partition, int count, Action<CommandWriter> encode)
    {
        if (Dead)
        {
            throw new AdmissionException(Refusal.Unavailable, "partition_unavailable", "the process is gone");
        }
        var writer = new CommandWriter().Begin(_clock.GetUtcNow().ToUnixTimeMilliseconds());
        encode(writer);
        if (writer.CommandCount != count)
        {
            throw new ArgumentException($"encode wrote {writer.CommandCount} commands, not {count}", nameof(encode));
        }
        var dies = ++Submits == DieAtSubmit;
        var when = dies ? _random.Next(3) : -1;
        if (when == 0)
        {
            PowerFail(); // before the append: nothing of it reaches the disk
            throw new AdmissionException(Refusal.Unavailable, "partition_unavailable", "the process died");
        }
        var disk = _disks[partition];
        if (when == 1)
        {
            disk.CrashAtByte = disk.BytesWritten + _random.Next(0, 200); // during its write, torn at any byte
        }
        var durable = _partitions[partition]!;
        AppendTicket ticket;
        try
        {
            ticket = durable.Submit(writer.Written);
        }
        catch (JournalException e)
        {
            throw new AdmissionException(Refusal.Unavailable, "partition_unavailable", e.Message);
        }
        var reply = BatchReply.Capture(durable.Engine);
        KeepFinalStates(partition, durable.Engine);
        return AnswerAsync(ticket, reply, count, dies);
    }

    private async Task<CommandGroup> AnswerAsync(AppendTicket ticket, BatchReply reply, int count, bool dies)
    {
        try
        {
            await ticket.Durable.ConfigureAwait(false);
        }
        finally
        {
            if (dies)
            {
                PowerFail(); // durable or torn: either way the answer never reaches the caller
            }
        }
        if (dies)
        {
            throw new AdmissionException(Refusal.Unavailable, "partition_unavailable", "the process died before answering");
        }
        return new CommandGroup(reply, 0, count);
    }

    /// <summary>Notes the state of every seller order the batch just applied made final. A retired order was final for
    /// the whole retention before, so its last noted state is durable (a later crash cannot take it back).</summary>
    private void KeepFinalStates(int partition, Engine engine)
    {
        foreach (ref readonly var e in engine.Events)
        {
            if ((e.Kind is EventKind.OrderCancelled or EventKind.ReservationExpired
                    || (e.Kind == EventKind.StatusAdvanced && e.Status is OrderStatus.Delivered or OrderStatus.Returned))
                && engine.GetOrder(e.OrderId) is { } order)
            {
                _final[e.OrderId] = (partition, order, PartitionReads.State(engine, order));
            }
        }
    }

    /// <summary>Seller orders that retired from their partitions, as they last were.</summary>
    public IEnumerable<OrderSnapshot> Retired() =>
        _final.Values.Where(f => Engine(f.Partition).GetOrder(f.Order.OrderId) is null && Engine(f.Partition).IsRetired(f.Order.OrderId)).Select(f => f.Order);

    public Task<SellerOrderState[]> ChildrenAsync(long parent) =>
        Task.FromResult(_final.Values.Where(f => f.Order.ParentId == parent && Engine(f.Partition).GetOrder(f.Order.OrderId) is null
            && Engine(f.Partition).IsRetired(f.Order.OrderId)).Select(f => f.State).ToArray());

    public Task<SellerOrderState[]> GetOrders(int partition, long[] ids) =>
        Dead ? Task.FromException<SellerOrderState[]>(new AdmissionException(Refusal.Unavailable, "partition_unavailable", "the process is gone"))
            : Task.FromResult(PartitionReads.Orders(Engine(partition), ids));

    public Task<SellerOrderState[]> OpenMultiSellerChildren(int partition) => Task.FromResult(PartitionReads.OpenMultiSellerChildren(Engine(partition)));

    public ValueTask<int> FindSkuAsync(long sellerId, string code) => ValueTask.FromResult(Engine(PartitionOf(sellerId)).FindSku(sellerId, code));

    /// <summary>Nothing to keep: every lookup asks the engine.</summary>
    public void AddSku(long sellerId, string code, int sku)
    {
    }

    /// <summary>Every engine shares the warehouse list, so the first one's regions are everyone's.</summary>

    public int RegionIndex(string region) => Engine(0).FindRegion(region);

    /// <summary>The power fails on every disk at once: what was not synced is lost or torn.</summary>
    public void PowerFail()
    {
        if (Dead)
        {
            return;
        }
        Dead = true;
        foreach (var disk in _disks)
        {
            disk.Crash();
        }
    }

    /// <summary>A new process: every partition recovers from its journal.</summary>
    public void Restart()
    {
        PowerFail();
        for (var p = 0; p < _partitions.Length; p++)
        {
            if (_partitions[p] is { } old)
            {
                try
                {
                    old.Journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is SimulatedCrashException or JournalException)
                {
                }
            }
            _disks[p].Restart();
            _partitions[p] = DurablePartition.Recover(SegmentJournal.Open(_disks[p], Journal));
        }
        Dead = false;
        DieAtSubmit = null;
    }
}
