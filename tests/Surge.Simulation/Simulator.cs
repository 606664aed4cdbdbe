using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Simulation;

/// <summary>
/// Drives the real engine and the real segment journal on a simulated disk with a seeded random schedule
/// of command batches, snapshots, crashes at any byte of a write, disk-full faults, fsync failures and
/// clean restarts. After every step it checks the engine's invariants; after every recovery it checks
/// that the recovered state is exactly the state of the acknowledged batches (plus, at most, batches
/// that reached the disk without being acknowledged), so no acknowledged command is ever lost.
/// </summary>
public sealed class Simulator(int seed)
{
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 8 * 1024 };

    private readonly Random _random = new(seed);
    private readonly SimulatedStorage _storage = new(seed);
    private readonly Workload _workload = new(seed);
    private readonly List<byte[]> _journaled = []; // by sequence - 1: what the journal holds or may hold
    private long _acknowledged;
    private DurablePartition? _partition;

    public int Crashes { get; private set; }
    public int Faults { get; private set; }
    public int Recoveries { get; private set; }
    public int Snapshots { get; private set; }

    public async Task RunAsync(int steps)
    {
        Recover();
        await SubmitAsync(_workload.Setup());
        for (var step = 0; step < steps; step++)
        {
            var roll = _random.Next(100);
            switch (roll)
            {
                case < 80:
                    await SubmitAsync(_workload.NextBatch());
                    break;
                case < 85:
                    await SnapshotAsync();
                    break;
                case < 91:
                    await CrashDuringNextWriteAsync();
                    break;
                case < 94:
                    await FailNextWriteAsync();
                    break;
                default:
                    await RestartAsync();
                    break;
            }
            _partition!.Engine.CheckInvariants();
        }
        await RestartAsync();
    }

    private async Task SubmitAsync(byte[] batch)
    {
        var ticket = _partition!.Submit(batch);
        _journaled.Add(batch);
        await ticket.Durable;
        _acknowledged = ticket.Sequence;
    }

    private async Task SnapshotAsync()
    {
        await _partition!.SnapshotAsync();
        Snapshots++;
    }

    /// <summary>Power fails while the next batch (or a snapshot) is being written, at a random byte.</summary>
    private async Task CrashDuringNextWriteAsync()
    {
        _storage.CrashAtByte = _storage.BytesWritten + _random.Next(0, 400);
        try
        {
            if (_random.Next(4) == 0)
            {
                await SnapshotAsync();
            }
            for (var i = 0; i < 50 && !_storage.Crashed; i++)
            {
                await SubmitAsync(_workload.NextBatch());
            }
        }
        catch (Exception e) when (e is SimulatedCrashException or JournalException)
        {
        }
        Crashes++;
        _storage.Crash();
        await AbandonAsync();
        _storage.Restart();
        Recover();
    }

    /// <summary>The disk fills up or fsync fails: the append fails, nothing of it is acknowledged, and the
    /// partition restarts from its journal (as the server does).</summary>
    private async Task FailNextWriteAsync()
    {
        if (_random.Next(2) == 0)
        {
            _storage.DiskFullAtByte = _storage.BytesWritten + _random.Next(0, 200);
        }
        else
        {
            _storage.FailNextSync = true;
        }
        try
        {
            await SubmitAsync(_workload.NextBatch());
        }
        catch (JournalException)
        {
            Faults++;
        }
        _storage.DiskFullAtByte = null;
        _storage.FailNextSync = false;
        await RestartAsync();
    }

    private async Task RestartAsync()
    {
        await AbandonAsync();
        Recover();
    }

    private async Task AbandonAsync()
    {
        if (_partition is not null)
        {
            try
            {
                await _partition.Journal.DisposeAsync();
            }
            catch (SimulatedCrashException)
            {
            }
            _partition = null;
        }
    }

    private void Recover()
    {
        var journal = SegmentJournal.Open(_storage, Options);
        _partition = DurablePartition.Recover(journal);
        Recoveries++;
        var recovered = journal.LastSequence;
        Check(recovered >= _acknowledged, $"acknowledged batch {_acknowledged} lost: journal ends at {recovered}");
        Check(recovered <= _journaled.Count, $"journal has {recovered} batches but only {_journaled.Count} were submitted");
        _journaled.RemoveRange((int)recovered, _journaled.Count - (int)recovered);
        _acknowledged = recovered;
        var (reference, _) = Workload.Run(new Engine(), _journaled);
        Check(reference.StateHash() == _partition.Engine.StateHash(),
            $"recovered state differs from the state of the {recovered} journaled batches");
        _partition.Engine.CheckInvariants();
    }

    private void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"simulation seed {seed}: {message}");
        }
    }
}
