using System.Diagnostics;

namespace Surge.Journal;

/// <summary>
/// One group commit for many journals: a node's partitions each keep their own journal (files, sequence, recovery,
/// snapshots, compaction, readers), but instead of one writer thread and one fdatasync per journal, one thread takes
/// the open group of every journal that has one, writes each to its journal's file, then makes the whole round
/// durable with one device flush: every file's writes are started towards the device, then waited for
/// (sync_file_range, no cache flush), then one of the files is synced (fdatasync), whose cache flush covers what the
/// device received before it. A write that grows its
/// file (a segment that was not preallocated) is synced on its own, since its size must be made durable too.
/// Journals on different devices get a flush each. While a round is on the disk, the next round's records gather
/// in the journals' open groups, so rounds grow with load as a single journal's groups do.
/// </summary>
public sealed class GroupCommitter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly Thread _thread;

    // Guarded by _gate.
    private List<SegmentJournal> _ready = [];
    private List<SegmentJournal> _taking = [];
    private bool _idle;
    private bool _closed;

    public GroupCommitter()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "surge-group-commit" };
        _thread.Start();
    }

    /// <summary>Durations of the rounds (writes + flushes of every journal in the round).</summary>
    public CommitStats Stats { get; } = new();

    /// <summary>Journal groups made durable, summed over rounds (divided by <see cref="CommitStats.Commits"/>: journals
    /// per round).</summary>
    public long Groups => Interlocked.Read(ref _groups);

    private long _groups;

    internal void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed))
        {
            throw new JournalUnavailableException("the node's group committer is closed: its journals accept no appends");
        }
    }

    /// <summary>A journal's open group got its first record.</summary>
    internal void Ready(SegmentJournal journal)
    {
        bool wake;
        lock (_gate)
        {
            _ready.Add(journal);
            wake = _idle;
            _idle = false;
        }
        if (wake)
        {
            _wake.Set();
        }
    }

    private void Loop()
    {
        var round = new List<SegmentJournal.TakenGroup>();
        var owners = new List<SegmentJournal>();
        while (TakeReady() is { } journals)
        {
            var started = Stopwatch.GetTimestamp();
            foreach (var journal in journals)
            {
                if (journal.TryTakeGroup() is not { } group)
                {
                    continue;
                }
                try
                {
                    journal.WriteGroup(group);
                    round.Add(group);
                    owners.Add(journal);
                }
                catch (Exception e)
                {
                    journal.Fail(e, group);
                }
            }
            var durable = MakeDurable(round, owners);
            for (var i = 0; i < round.Count; i++)
            {
                if (durable[i])
                {
                    owners[i].Complete(round[i], started);
                }
            }
            Interlocked.Add(ref _groups, round.Count);
            if (round.Count > 0)
            {
                Stats.Record(started);
            }
            round.Clear();
            owners.Clear();
        }
    }

    /// <summary>Makes the written groups durable; a group whose write-back or flush failed fails its journal.</summary>
    private static bool[] MakeDurable(List<SegmentJournal.TakenGroup> round, List<SegmentJournal> owners)
    {
        var durable = new bool[round.Count];
        foreach (var device in Enumerable.Range(0, round.Count).GroupBy(i => owners[i].Device))
        {
            var shared = new List<int>();
            foreach (var i in device)
            {
                try
                {
                    if (round[i].NeedsOwnSync)
                    {
                        round[i].File!.Sync();
                        durable[i] = true;
                    }
                    else
                    {
                        round[i].File!.StartWriteBack(); // every file's writes go to the device together
                        shared.Add(i);
                    }
                }
                catch (Exception e)
                {
                    owners[i].Fail(e, round[i]);
                }
            }
            for (var k = shared.Count - 1; k >= 0; k--)
            {
                try
                {
                    round[shared[k]].File!.WriteBack();
                }
                catch (Exception e)
                {
                    owners[shared[k]].Fail(e, round[shared[k]]);
                    shared.RemoveAt(k);
                }
            }
            if (shared.Count == 0)
            {
                continue;
            }
            try
            {
                round[shared[^1]].File!.Sync(); // the device flush for every file written back above
                foreach (var i in shared)
                {
                    durable[i] = true;
                }
            }
            catch (Exception e)
            {
                foreach (var i in shared)
                {
                    owners[i].Fail(e, round[i]);
                }
            }
        }
        return durable;
    }

    /// <summary>Waits until some journal is ready and takes the list; null once closed with nothing ready.</summary>
    private List<SegmentJournal>? TakeReady()
    {
        while (true)
        {
            _wake.Reset(); // before the check, so that a wake-up after it is not lost
            lock (_gate)
            {
                if (_ready.Count > 0)
                {
                    (_ready, _taking) = (_taking, _ready);
                    _ready.Clear();
                    return _taking;
                }
                if (_closed)
                {
                    return null;
                }
                _idle = true;
            }
            _wake.Wait();
        }
    }

    /// <summary>Stops after the groups already announced are durable. Close the journals first: a journal appending
    /// after this is refused.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
        }
        _wake.Set();
        _thread.Join();
        _wake.Dispose();
    }
}
