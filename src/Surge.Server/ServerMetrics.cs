using Prometheus;
using Surge.Flow;
using Surge.Journal;

namespace Surge.Server;

/// <summary>
/// The node's metrics in Prometheus text format at <c>/metrics</c> (prometheus-net, one registry per server).
/// Units are in the names (<c>_seconds</c>, <c>_units</c>, <c>_commands</c>), labels have few values (partition,
/// reason, stage, carrier — never an order, buyer or SKU id). Order outcomes are counted as they happen; the
/// rest (queues, journals, downstream lag, carriers) is read from the live objects just before each scrape.
/// </summary>
public sealed class ServerMetrics
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly Counter _accepted;
    private readonly Counter _rejected;
    private readonly Histogram _requestSeconds;
    private readonly Gauge _partitionQueued;
    private readonly Gauge _nodeQueued;
    private readonly Counter _commits;
    private readonly Counter _commitSeconds;
    private readonly Gauge _commitP99;
    private readonly Counter _journalRecords;
    private readonly Counter _retired;
    private readonly Gauge _liveOrders;
    private readonly Gauge _lagRecords;
    private readonly Gauge _lagSeconds;
    private readonly Gauge _planned;
    private readonly Gauge _dispatched;
    private readonly HashSet<int> _lagLabelled = [];
    private readonly Gauge _deadLetters;
    private readonly Gauge _breakerOpen;
    private readonly Gauge _carrierQueued;
    private readonly Gauge _notificationsPending;
    private readonly Gauge _trackingStreams;
    private readonly Gauge _hosted;
    private readonly Gauge _idempotencyKeys;
    private readonly Gauge _idempotencyEvicted;
    private readonly Counter _cpuSeconds;
    private readonly Gauge _cpus;

    public ServerMetrics()
    {
        var factory = Metrics.WithCustomRegistry(_registry);
        _accepted = factory.CreateCounter("surge_orders_accepted_total", "Orders placed (acknowledged durable).");
        _rejected = factory.CreateCounter("surge_orders_rejected_total", "Orders refused, by reason code.", "reason");
        _requestSeconds = factory.CreateHistogram("surge_order_request_duration_seconds", "Time to answer an order request (single or batch).",
            new HistogramConfiguration { LabelNames = ["kind"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });
        _partitionQueued = factory.CreateGauge("surge_partition_queued_commands", "Commands waiting in a partition's queue.", "partition");
        _nodeQueued = factory.CreateGauge("surge_node_queued_commands", "Commands admitted and not yet answered, all partitions.");
        _commits = factory.CreateCounter("surge_journal_group_commits_total", "Group commits (one write + one fdatasync) of a partition's journal.", "partition");
        _commitSeconds = factory.CreateCounter("surge_journal_group_commit_seconds_total", "Time spent in group commits.", "partition");
        _commitP99 = factory.CreateGauge("surge_journal_group_commit_p99_seconds", "99th percentile of group commit time since start (power-of-two buckets).", "partition");
        _journalRecords = factory.CreateCounter("surge_journal_records_total", "Records (batches) appended to a partition's journal.", "partition");
        _retired = factory.CreateCounter("surge_orders_retired_total", "Seller orders retired from a partition's engine (final for longer than the retention; read from the read model since).", "partition");
        _liveOrders = factory.CreateGauge("surge_partition_orders", "Seller orders a partition's engine holds (not retired).", "partition");
        _lagRecords = factory.CreateGauge("surge_flow_lag_records", "Journal records a downstream stage has not processed yet.", "stage", "partition");
        _lagSeconds = factory.CreateGauge("surge_flow_lag_seconds", "Age of the oldest record a downstream stage has not processed.", "stage", "partition");
        _planned = factory.CreateGauge("surge_shipments_planned", "Shipments planned and stored, in the partitions this silo hosts now.");
        _dispatched = factory.CreateGauge("surge_shipments_dispatched", "Shipments accepted by their carrier, in the partitions this silo hosts now.");
        _deadLetters = factory.CreateGauge("surge_shipments_dead_letter", "Shipments in the dead-letter state.");
        _breakerOpen = factory.CreateGauge("surge_carrier_breaker_open", "1 while a carrier's circuit breaker is open.", "carrier");
        _carrierQueued = factory.CreateGauge("surge_carrier_queued_shipments", "Shipments waiting to be sent to a carrier.", "carrier");
        _notificationsPending = factory.CreateGauge("surge_notifications_pending", "Subscriber notifications queued and not delivered yet.");
        _trackingStreams = factory.CreateGauge("surge_tracking_streams", "Buyer tracking streams (Server-Sent Events) open now.");
        _hosted = factory.CreateGauge("surge_partition_hosted", "1 while the partition is active on this silo (its journal open here), else 0.", "partition");
        _idempotencyKeys = factory.CreateGauge("surge_idempotency_keys", "Idempotency keys a partition keeps with their answers (durable, survive restarts).", "partition");
        _idempotencyEvicted = factory.CreateGauge("surge_idempotency_keys_evicted_early",
            "Idempotency keys a partition forgot before their retention passed because it keeps at most 1,000,000.", "partition");
        _cpuSeconds = factory.CreateCounter("surge_process_cpu_seconds_total", "CPU time this process has used (user + system).");
        _cpus = factory.CreateGauge("surge_process_cpus", "Processors this process may run on.");
    }

    private long _acceptedTotal;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _rejectedTotals = new(StringComparer.Ordinal);
    private readonly HdrHistogram.Recorder _latency = new(1, TimeSpan.TicksPerMinute, 3, (id, low, high, digits) => new HdrHistogram.LongHistogram(id, low, high, digits));

    /// <summary>Orders accepted since start.</summary>
    public long AcceptedTotal => Interlocked.Read(ref _acceptedTotal);

    /// <summary>Orders refused since start, by reason code.</summary>
    public IReadOnlyDictionary<string, long> RejectedTotals => _rejectedTotals;

    /// <summary>Order request durations (ticks) recorded since the previous call: the dashboard's per-second p50 / p99.</summary>
    public HdrHistogram.HistogramBase TakeLatencies() => _latency.GetIntervalHistogram();

    /// <summary>Counts the outcome of one order: accepted (null), or the code it was refused with.</summary>
    public void Order(string? refusedCode)
    {
        if (refusedCode is not { } code)
        {
            _accepted.Inc();
            Interlocked.Increment(ref _acceptedTotal);
        }
        else
        {
            _rejected.WithLabels(code).Inc();
            _rejectedTotals.AddOrUpdate(code, 1, (_, n) => n + 1);
        }
    }

    /// <summary>Counts the outcomes of a batch's orders with one counter update per outcome, not per order (a
    /// labelled counter's lookup per order showed in profiles of large batches).</summary>
    public void Orders(int count, Func<int, string?> refusedCode)
    {
        long accepted = 0;
        Dictionary<string, long>? rejected = null;
        for (var i = 0; i < count; i++)
        {
            if (refusedCode(i) is not { } code)
            {
                accepted++;
                continue;
            }
            rejected ??= new Dictionary<string, long>(StringComparer.Ordinal);
            rejected[code] = rejected.GetValueOrDefault(code) + 1;
        }
        if (accepted > 0)
        {
            _accepted.Inc(accepted);
            Interlocked.Add(ref _acceptedTotal, accepted);
        }
        foreach (var (code, n) in rejected ?? [])
        {
            _rejected.WithLabels(code).Inc(n);
            _rejectedTotals.AddOrUpdate(code, n, (_, total) => total + n);
        }
    }

    public void Request(string kind, TimeSpan elapsed)
    {
        _requestSeconds.WithLabels(kind).Observe(elapsed.TotalSeconds);
        _latency.RecordValue(Math.Clamp(elapsed.Ticks, 1, TimeSpan.TicksPerMinute));
    }

    /// <summary>Reads the live objects into the gauges, then writes the text exposition.</summary>
    public async Task WriteAsync(Stream destination, ServerState state, PartitionHost partitions, CancellationToken cancellationToken)
    {
        Refresh(state, partitions);
        await _registry.CollectAndExportAsTextAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    private void Refresh(ServerState state, PartitionHost partitions)
    {
        if (state.Gateway is { } gateway)
        {
            for (var p = 0; p < gateway.Partitions; p++)
            {
                _partitionQueued.WithLabels(Label(p)).Set(gateway.Queued(p));
            }
            _nodeQueued.Set(gateway.NodeQueued);
        }
        _cpuSeconds.IncTo(Environment.CpuUsage.TotalTime.TotalSeconds);
        _cpus.Set(Environment.ProcessorCount);
        var hosted = new bool[partitions.Options.Partitions];
        foreach (var (index, _) in partitions.Partitions)
        {
            hosted[index] = true;
        }
        for (var p = 0; p < hosted.Length; p++)
        {
            _hosted.WithLabels(Label(p)).Set(hosted[p] ? 1 : 0);
        }
        foreach (var (index, partition) in partitions.Partitions)
        {
            var label = Label(index);
            _journalRecords.WithLabels(label).IncTo(partition.Journal.LastSequence);
            _retired.WithLabels(label).IncTo(partition.Engine.RetiredOrders); // read across threads: may lag by a batch
            _liveOrders.WithLabels(label).Set(partition.Engine.OrderCount);
            var (kept, evicted) = partition.Engine.IdempotencyKeys; // two counters read across threads: a gauge may lag by a batch
            _idempotencyKeys.WithLabels(label).Set(kept);
            _idempotencyEvicted.WithLabels(label).Set(evicted);
            if (partition.Journal is SegmentJournal journal)
            {
                _commits.WithLabels(label).IncTo(journal.Stats.Commits);
                _commitSeconds.WithLabels(label).IncTo(journal.Stats.SumMicros / 1e6);
                _commitP99.WithLabels(label).Set(CommitStats.PercentileMicros(journal.Stats.Counts(), 99) / 1e6);
            }
        }
        if (state.Flow is { } flow)
        {
            var staged = new HashSet<int>();
            foreach (var (partition, lag, _) in flow.Lags())
            {
                staged.Add(partition);
                _lagRecords.WithLabels("fulfillment", Label(partition)).Set(lag.Records);
                _lagSeconds.WithLabels("fulfillment", Label(partition)).Set(lag.Seconds);
            }
            foreach (var gone in _lagLabelled.Except(staged).ToList())
            {
                _lagRecords.RemoveLabelled("fulfillment", Label(gone)); // the partition moved to another silo
                _lagSeconds.RemoveLabelled("fulfillment", Label(gone));
                _lagLabelled.Remove(gone);
            }
            _lagLabelled.UnionWith(staged);
            foreach (var status in state.ReadModel?.Status() ?? [])
            {
                _lagRecords.WithLabels("read-model", Label(status.Partition)).Set(status.LagRecords);
                _lagSeconds.WithLabels("read-model", Label(status.Partition)).Set(status.LagSeconds);
            }
            var (planned, dispatched, dead) = flow.ShipmentCounts();
            _planned.Set(planned);
            _dispatched.Set(dispatched);
            _deadLetters.Set(dead);
            foreach (var carrier in flow.Health())
            {
                _breakerOpen.WithLabels(carrier.CarrierId).Set(carrier.Breaker == "open" ? 1 : 0);
                _carrierQueued.WithLabels(carrier.CarrierId).Set(carrier.Queued);
            }
            _notificationsPending.Set(flow.NotificationsPending());
            _trackingStreams.Set(flow.Watchers.Count);
        }
    }

    private static string Label(int partition) => partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
