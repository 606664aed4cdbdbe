using Surge.Core;
using Surge.Journal;
using Surge.Testing;

namespace Surge.Simulation;

/// <summary>
/// Drives the real engine and the real segment journal on a simulated disk with a seeded random schedule
/// of command batches, snapshots, crashes at any byte of a write, disk-full faults, fsync failures and
/// clean restarts. After every step it checks the engine's invariants; after every recovery it checks
/// that the recovered state is exactly the state of the acknowledged batches (plus, at most, batches
/// that reached the disk without being acknowledged), so no acknowledged command is ever lost. Every write
/// happens in one order (spare segments are zero-filled on the journal's writer thread), so a seed replays the
/// same schedule; several batches sometimes share one group commit, and power may fail while it is written.
/// </summary>
public sealed class Simulator(int seed) : IDisposable
{
    private static readonly JournalOptions Options = new() { SegmentBytesMax = 8 * 1024, BackgroundFileWork = false };

    /// <summary>How long the simulator waits for the journal's writer to reach a held sync.</summary>
    private static readonly TimeSpan WriterWaitMax = TimeSpan.FromSeconds(10);

    private readonly Random _random = new(seed);
    private readonly SimulatedStorage _storage = new(seed);
    private GatedStorage? _gated;
    private readonly Workload _workload = new(seed);
    private readonly List<byte[]> _journaled = []; // by sequence - 1: what the journal holds or may hold
    private long _acknowledged;
    private DurablePartition? _partition;

    public int Crashes { get; private set; }
    public int Faults { get; private set; }
    public int Recoveries { get; private set; }
    public int Snapshots { get; private set; }
    public int SharedGroupCommits { get; private set; }

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
                case < 88:
                    await CrashDuringNextWriteAsync();
                    break;
                case < 91:
                    await CrashInSharedGroupCommitAsync();
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

    private async Task SubmitAsync(byte[] batch) => await Submit(batch);

    /// <summary>Applies and appends a batch now; the task completes when it is durable (and acknowledged).</summary>
    private Task Submit(byte[] batch)
    {
        var ticket = _partition!.Submit(batch);
        _journaled.Add(batch);
        return AcknowledgeAsync(ticket);
    }

    private async Task AcknowledgeAsync(AppendTicket ticket)
    {
        await ticket.Durable;
        _acknowledged = Math.Max(_acknowledged, ticket.Sequence);
    }

    /// <summary>Several appenders share one group commit: the writer is held in the sync of a first batch while
    /// 2–5 more gather behind it; they are then written with one write, during which the power may fail.</summary>
    private async Task CrashInSharedGroupCommitAsync()
    {
        _gated!.Hold();
        var pending = new List<Task> { Submit(_workload.NextBatch()) };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!_gated.Waiting)
        {
            Check(clock.Elapsed < WriterWaitMax, "the journal's writer never reached the held sync");
            await Task.Delay(1); // polling for the writer thread to block, with a deadline
        }
        for (var i = 2 + _random.Next(4); i > 0; i--)
        {
            pending.Add(Submit(_workload.NextBatch()));
        }
        _storage.CrashAtByte = _storage.BytesWritten + _random.Next(0, 600);
        _gated.Release();
        foreach (var task in pending)
        {
            try
            {
                await task;
            }
            catch (Exception e) when (e is SimulatedCrashException or JournalException)
            {
            }
        }
        SharedGroupCommits++;
        await PowerFailAsync();
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
        await PowerFailAsync();
    }

    private async Task PowerFailAsync()
    {
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
        _gated?.Dispose();
        _gated = new GatedStorage(_storage);
        var journal = SegmentJournal.Open(_gated, Options);
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

    public void Dispose() => _gated?.Dispose();
}
