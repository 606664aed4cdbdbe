using System.Collections.Concurrent;
using Surge.Autoscale;
using Surge.Flow;
using Surge.Journal;

namespace Surge.Server;

public sealed record DashboardSample(
    long AtMs,
    double AcceptedPerS,
    IReadOnlyDictionary<string, double> RejectedPerS,
    double P50Ms,
    double P99Ms,
    double CommitsPerS,
    double CommitP99Ms,
    double RecordsPerCommit,
    int[] PartitionQueues,
    int NodeQueued,
    long LagRecords,
    double LagSeconds,
    long ShipmentsPlanned,
    long ShipmentsDispatched,
    long DeadLetters,
    IReadOnlyList<CarrierHealth> Carriers,
    IReadOnlyList<FlashStock> Flash,
    string Classifier,
    int ForecastMinutesObserved,
    IReadOnlyList<MinuteActual>? ForecastActual,
    IReadOnlyList<MinuteForecast>? ForecastAhead);

/// <summary>One second of the node for the dashboard's charts: orders accepted and refused per second, request p50 / p99.</summary>
public sealed record ChartPoint(long AtMs, double AcceptedPerS, double RejectedPerS, double P50Ms, double P99Ms);

/// <summary>A silo of the cluster and the partitions the placement gives it.</summary>
public sealed record SiloPartitions(string Silo, bool Local, int[] Partitions);

/// <summary>A partition the placement moved from one silo to another (a silo joined, left or died).</summary>
public sealed record PartitionMove(long AtMs, int Partition, string From, string To);

/// <summary>The cluster as this node sees it: the active silos with their partitions, and the latest moves.</summary>
public sealed record ClusterView(bool Cluster, IReadOnlyList<SiloPartitions> Silos, IReadOnlyList<PartitionMove> Moves);

/// <summary>A flash-sale SKU's stock now: available (never below zero), held by unpaid orders, sold (paid).</summary>
public sealed record FlashStock(string SellerId, string Sku, long Available, long Held, long Sold);

/// <summary>
/// What the dashboard shows of the node, gathered once a second: rates since the previous sample (orders, refusals,
/// commits), latency, queues, the downstream's lag and carriers, the stock of followed flash-sale SKUs, and the
/// orders-per-minute forecast (fed by <see cref="RunAsync"/>). No HTTP here: <see cref="Dashboard"/> serves it.
/// </summary>
public sealed class NodeSampler(ServerState state, PartitionHost partitions, Func<IReadOnlyList<string>> activeSilos, string localSilo)
{
    /// <summary>Seconds of chart history kept (one point a second): what a page opened now draws at once.</summary>
    public const int HistoryPointsMax = 1_800;

    /// <summary>Partition moves remembered for the cluster view.</summary>
    public const int MovesMax = 100;

    private readonly ChartPoint[] _history = new ChartPoint[HistoryPointsMax];
    private int _historyNext, _historyCount;
    private readonly Queue<PartitionMove> _moves = new();
    private string[]? _placement;

    /// <summary>Flash-sale SKUs followed on the dashboard at most.</summary>
    public const int FlashSkusMax = 8;

    /// <summary>How often a sample is taken (and the forecaster fed).</summary>
    public static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(long Seller, string Sku, int Ref), byte> _flash = new();
    private readonly Lock _sampleGate = new();
    private DashboardSample? _last;
    private (long AtTicks, long Accepted, Dictionary<string, long> Rejected, long Commits, long Records)? _previous;

    /// <summary>A flash sale was configured: follow its stock.</summary>
    public void FollowFlashSale(long seller, string sku, int reference)
    {
        if (_flash.Count < FlashSkusMax)
        {
            _flash.TryAdd((seller, sku, reference), 0);
        }
    }


    /// <summary>Orders per minute, forecast vs actual (fed every second while the node runs).</summary>
    public OrderRateForecaster Forecaster { get; } = new();

    /// <summary>Feeds <see cref="Forecaster"/> once a second until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(SampleEvery);
        try
        {
            do
            {
                Forecaster.Observe(state.Metrics.AcceptedTotal, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                if (state.Lifecycle.Ready)
                {
                    try
                    {
                        Remember(await SampleAsync().ConfigureAwait(false));
                        FollowPlacement();
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // a partition away for a moment (moving, recovering): the next second samples again
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // the server is stopping
        }
    }

    private void Remember(DashboardSample s)
    {
        var point = new ChartPoint(s.AtMs, s.AcceptedPerS, Math.Round(s.RejectedPerS.Values.Sum(), 1), s.P50Ms, s.P99Ms);
        lock (_history)
        {
            _history[_historyNext] = point;
            _historyNext = (_historyNext + 1) % HistoryPointsMax;
            _historyCount = Math.Min(_historyCount + 1, HistoryPointsMax);
        }
    }

    /// <summary>The last <see cref="HistoryPointsMax"/> seconds (fewer since start), oldest first.</summary>
    public IReadOnlyList<ChartPoint> History()
    {
        lock (_history)
        {
            var points = new ChartPoint[_historyCount];
            var first = (_historyNext - _historyCount + HistoryPointsMax) % HistoryPointsMax;
            for (var i = 0; i < points.Length; i++)
            {
                points[i] = _history[(first + i) % HistoryPointsMax];
            }
            return points;
        }
    }

    /// <summary>Notes where the placement puts each partition now, and every partition whose silo changed.</summary>
    private void FollowPlacement()
    {
        var silos = activeSilos();
        if (silos.Count == 0)
        {
            return;
        }
        var assignment = PartitionAssignment.Assign(state.Options.Partitions, silos);
        var placement = assignment.Select(s => silos[s]).ToArray();
        lock (_moves)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (var p = 0; _placement is not null && p < placement.Length && p < _placement.Length; p++)
            {
                if (placement[p] != _placement[p])
                {
                    _moves.Enqueue(new PartitionMove(now, p, _placement[p], placement[p]));
                    while (_moves.Count > MovesMax)
                    {
                        _moves.Dequeue();
                    }
                }
            }
            _placement = placement;
        }
    }

    /// <summary>The active silos, the partitions the placement gives each, and the latest moves (newest first).</summary>
    public ClusterView Cluster()
    {
        var silos = activeSilos();
        var assignment = silos.Count == 0 ? [] : PartitionAssignment.Assign(state.Options.Partitions, silos);
        var view = silos.Select((silo, s) => new SiloPartitions(silo, silo == localSilo,
            [.. Enumerable.Range(0, assignment.Length).Where(p => assignment[p] == s)])).OrderBy(v => v.Silo, StringComparer.Ordinal).ToArray();
        lock (_moves)
        {
            return new ClusterView(state.Options.Cluster is not null, view, [.. _moves.Reverse()]);
        }
    }

    /// <summary>The node now, with rates over the time since the previous sample (shared by every open page, so
    /// two pages do not halve each other's rates: a sample younger than half a second is reused).</summary>
    public async Task<DashboardSample> SampleAsync()
    {
        lock (_sampleGate)
        {
            if (_last is { } recent && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - recent.AtMs < SampleEvery.TotalMilliseconds / 2)
            {
                return recent;
            }
        }
        var flash = new List<FlashStock>();
        foreach (var (seller, sku, reference) in _flash.Keys)
        {
            if (await state.Gateway.Grain(state.Gateway.PartitionOf(seller)).GetSku(reference) is { } view)
            {
                flash.Add(new FlashStock(Ids.Seller(seller), sku, view.Stock.Sum(s => (long)(s.OnHand - s.Reserved)), view.Stock.Sum(s => (long)s.Reserved),
                    view.Stock.Sum(s => s.Sold)));
            }
        }
        lock (_sampleGate)
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            var metrics = state.Metrics;
            var rejected = metrics.RejectedTotals.ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal);
            long commits = 0, records = 0, p99Micros = 0;
            foreach (var (_, partition) in partitions.Partitions)
            {
                records += partition.Journal.LastSequence;
                if (partition.Journal is SegmentJournal journal)
                {
                    commits += journal.Stats.Commits;
                    p99Micros = Math.Max(p99Micros, CommitStats.PercentileMicros(journal.Stats.Counts(), 99));
                }
            }
            var previous = _previous ?? (now, metrics.AcceptedTotal, rejected, commits, records);
            var seconds = Math.Max(1e-3, System.Diagnostics.Stopwatch.GetElapsedTime(previous.AtTicks, now).TotalSeconds);
            var latencies = metrics.TakeLatencies();
            var gateway = state.Gateway;
            var lags = state.Flow.Lags().ToList();
            var (planned, dispatched, dead) = state.Flow.ShipmentCounts();
            var forecast = Forecaster.Snapshot();
            _previous = (now, metrics.AcceptedTotal, rejected, commits, records);
            _last = new DashboardSample(
                DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                Math.Round((metrics.AcceptedTotal - previous.Accepted) / seconds, 1),
                rejected.ToDictionary(r => r.Key, r => Math.Round((r.Value - previous.Rejected.GetValueOrDefault(r.Key)) / seconds, 1)),
                Math.Round(latencies.TotalCount == 0 ? 0 : latencies.GetValueAtPercentile(50) / (double)TimeSpan.TicksPerMillisecond, 2),
                Math.Round(latencies.TotalCount == 0 ? 0 : latencies.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond, 2),
                Math.Round((commits - previous.Commits) / seconds, 1),
                p99Micros / 1000.0,
                commits == previous.Commits ? 0 : Math.Round((records - previous.Records) / (double)(commits - previous.Commits), 2),
                Enumerable.Range(0, gateway.Partitions).Select(gateway.Queued).ToArray(),
                gateway.NodeQueued,
                lags.Sum(l => l.Lag.Records),
                lags.Count == 0 ? 0 : Math.Round(lags.Max(l => l.Lag.Seconds), 2),
                planned,
                dispatched,
                dead,
                state.Flow.Health(),
                flash,
                state.Categories.State.ToString().ToLowerInvariant(),
                Forecaster.MinutesObserved,
                forecast?.Actual,
                forecast?.Ahead);
            return _last;
        }
    }
}
