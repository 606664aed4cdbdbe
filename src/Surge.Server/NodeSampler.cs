using System.Collections.Concurrent;
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

/// <summary>A flash-sale SKU's stock now: available (never below zero), held by unpaid orders, sold (paid).</summary>
public sealed record FlashStock(string SellerId, string Sku, long Available, long Held, long Sold);

/// <summary>
/// What the dashboard shows of the node, gathered once a second: rates since the previous sample (orders, refusals,
/// commits), latency, queues, the downstream's lag and carriers, the stock of followed flash-sale SKUs, and the
/// orders-per-minute forecast (fed by <see cref="RunAsync"/>). No HTTP here: <see cref="Dashboard"/> serves it.
/// </summary>
public sealed class NodeSampler(ServerState state, PartitionHost partitions)
{
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
            }
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // the server is stopping
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
