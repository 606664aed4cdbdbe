using System.Diagnostics;
using HdrHistogram;

namespace Surge.Bench.Scenarios;

/// <summary>An open-loop arrival rate: phases of a duration and a rate; order i is due when the cumulative rate
/// reaches i.</summary>
public sealed record RateProfile(IReadOnlyList<(TimeSpan Duration, double OrdersPerS)> Phases)
{
    public long TotalOrders => (long)Phases.Sum(p => p.Duration.TotalSeconds * p.OrdersPerS);

    public TimeSpan Length => Phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Duration);

    /// <summary>When order <paramref name="index"/> is due, from the start of the run.</summary>
    public TimeSpan DueAt(long index)
    {
        var start = TimeSpan.Zero;
        double before = 0;
        foreach (var (duration, rate) in Phases)
        {
            var inPhase = duration.TotalSeconds * rate;
            if (index < before + inPhase)
            {
                return start + TimeSpan.FromSeconds((index - before) / rate);
            }
            (start, before) = (start + duration, before + inPhase);
        }
        return start;
    }
}

/// <summary>How a scenario is driven: its orders, open-loop pacing (or as fast as answers come), workers, a bound.</summary>
public sealed record LoadPlan(ScenarioOrder[] Orders, RateProfile? Rate, int Workers, TimeSpan MaxDuration);

/// <summary>One system's figures for one scenario.</summary>
public sealed record SystemRun(
    string Key,
    string System,
    string Durability,
    int OrdersPerRequest,
    long Sent,
    long Accepted,
    long SoldOut,
    long LimitReached,
    long Rejected,
    long Failed,
    long Paid,
    long Cancelled,
    long FollowUpsRefused,
    double Seconds,
    double OrdersPerS,
    double P50Ms,
    double P99Ms,
    double P999Ms,
    double MaxMs,
    long Oversold,
    long Lost,
    bool Complete,
    long[] OrdersPerSecond,
    double[] MeanMsPerSecond,
    double[] MaxMsPerSecond,
    IReadOnlyList<LatencyPoint> LatencyDistribution);

/// <summary>One point of a latency distribution.</summary>
public sealed record LatencyPoint(double Percentile, double Ms);

/// <summary>
/// The load generator shared by every system: workers with one connection each take the next orders (one, or a
/// batch for a batch API) and wait for the answers — as fast as they come, or when due under a
/// <see cref="RateProfile"/>, in which case latency counts from when each order was due (no coordinated
/// omission; a batch leaves when its last order is due, and holds only orders due within <see cref="BatchWindow"/>).
/// It keeps its own record of what it was told (units acknowledged per SKU) and checks it against the stock each
/// system reports afterwards: oversold = units acknowledged beyond the stock (or stock below zero); lost =
/// acknowledged orders the system no longer holds.
/// </summary>
public static class LoadDriver
{
    private static readonly double[] Percentiles = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

    /// <summary>Open loop with a batch API: how long a client holds orders to fill a batch (a gateway flushing
    /// every 5 ms). Each order's latency includes its wait.</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(5);

    /// <summary>Largest latency recorded, in ticks (an hour; longer ones are recorded as an hour).</summary>
    private const long LatencyTicksMax = TimeSpan.TicksPerHour;

    public static async Task<SystemRun> RunAsync(IOrderSystem system, Catalog catalog, LoadPlan plan, Action<double> progress)
    {
        var orders = plan.Orders;
        var batch = system.OrdersPerRequest;
        var seconds = (int)Math.Ceiling(plan.MaxDuration.TotalSeconds) + 2;
        var perSecond = new long[seconds];
        var latencyTicksPerSecond = new long[seconds];
        var maxTicksPerSecond = new long[seconds];
        var histogram = new LongHistogram(LatencyTicksMax, 3);
        var acknowledged = new Dictionary<string, long>(StringComparer.Ordinal);
        long next = 0, sent = 0, accepted = 0, soldOut = 0, limit = 0, rejected = 0, failed = 0, paid = 0, cancelled = 0, refused = 0, liveOrders = 0;
        var clock = Stopwatch.StartNew();
        var deadline = plan.MaxDuration;

        (long Start, int Count) TakeNext()
        {
            var start = Interlocked.Add(ref next, batch) - batch;
            return (start, (int)Math.Clamp(orders.Length - start, 0, batch));
        }

        // Open loop: one order, or for a batch API the orders due within BatchWindow of the first (at most a batch).
        var take = new object();
        (long Start, int Count) TakeDue(RateProfile rate)
        {
            lock (take)
            {
                var start = next;
                var count = 0;
                while (count < batch && start + count < orders.Length
                    && (count == 0 || rate.DueAt(start + count) - rate.DueAt(start) <= BatchWindow))
                {
                    count++;
                }
                next = start + count;
                return (start, count);
            }
        }

        async Task Worker()
        {
            var client = await system.ConnectAsync();
            var local = new LongHistogram(LatencyTicksMax, 3);
            var units = new Dictionary<string, long>(StringComparer.Ordinal);
            var outcomes = new Outcome[batch];
            var references = new string?[batch];
            var byOutcome = new long[Enum.GetValues<Outcome>().Length];
            long sentHere = 0, paidHere = 0, cancelledHere = 0, refusedHere = 0, liveHere = 0;
            try
            {
                while (true)
                {
                    var (start, count) = plan.Rate is { } rate ? TakeDue(rate) : TakeNext();
                    if (start >= orders.Length || clock.Elapsed >= deadline)
                    {
                        break;
                    }
                    // Open loop: the request leaves when its last order is due (a batching client waits to fill it).
                    var last = plan.Rate?.DueAt(start + count - 1) ?? clock.Elapsed;
                    if (last > deadline)
                    {
                        break;
                    }
                    var wait = last - clock.Elapsed;
                    if (wait > TimeSpan.FromMilliseconds(1))
                    {
                        await Task.Delay(wait); // open loop: not due yet
                    }
                    var sentAt = clock.Elapsed;
                    Array.Clear(references);
                    try
                    {
                        await client.PlaceAsync(orders, (int)start, count, outcomes, references);
                    }
                    catch (Exception)
                    {
                        Array.Fill(outcomes, Outcome.Failed, 0, count);
                        await client.DisposeAsync();
                        client = await system.ConnectAsync();
                    }
                    var done = clock.Elapsed;
                    long ticks = 0, ticksSum = 0;
                    for (var i = 0; i < count; i++)
                    {
                        // Latency of each order from when it was due (open loop; from when it was sent if that was a
                        // little earlier, within the 1 ms the pacing does not wait for) or when it was sent (closed loop).
                        var from = plan.Rate is { } r ? TimeSpan.FromTicks(Math.Min(r.DueAt(start + i).Ticks, sentAt.Ticks)) : sentAt;
                        var t = Math.Clamp((done - from).Ticks, 1, LatencyTicksMax);
                        local.RecordValue(t);
                        (ticks, ticksSum) = (Math.Max(ticks, t), ticksSum + t);
                    }
                    var second = Math.Min(seconds - 1, (int)done.TotalSeconds);
                    Interlocked.Add(ref perSecond[second], count);
                    Interlocked.Add(ref latencyTicksPerSecond[second], ticksSum);
                    for (var max = Volatile.Read(ref maxTicksPerSecond[second]); ticks > max; max = Volatile.Read(ref maxTicksPerSecond[second]))
                    {
                        if (Interlocked.CompareExchange(ref maxTicksPerSecond[second], ticks, max) == max)
                        {
                            break;
                        }
                    }
                    sentHere += count;
                    for (var i = 0; i < count; i++)
                    {
                        var order = orders[start + i];
                        byOutcome[(int)outcomes[i]]++;
                        if (outcomes[i] != Outcome.Accepted)
                        {
                            continue;
                        }
                        var live = true;
                        if (order.Then != FollowUp.None && references[i] is { } reference)
                        {
                            bool ok;
                            try
                            {
                                ok = order.Then == FollowUp.Pay ? await client.PayAsync(reference) : await client.CancelAsync(reference);
                            }
                            catch (Exception)
                            {
                                ok = false;
                                await client.DisposeAsync();
                                client = await system.ConnectAsync();
                            }
                            if (!ok)
                            {
                                refusedHere++;
                            }
                            else if (order.Then == FollowUp.Pay)
                            {
                                paidHere++;
                            }
                            else
                            {
                                cancelledHere++;
                            }
                            live = !(ok && order.Then == FollowUp.Cancel);
                        }
                        if (live)
                        {
                            liveHere++;
                            foreach (var line in order.Lines)
                            {
                                units[line.Sku] = units.GetValueOrDefault(line.Sku) + line.Quantity;
                            }
                        }
                    }
                }
            }
            finally
            {
                await client.DisposeAsync();
            }
            lock (histogram)
            {
                histogram.Add(local);
                foreach (var (sku, u) in units)
                {
                    acknowledged[sku] = acknowledged.GetValueOrDefault(sku) + u;
                }
                sent += sentHere;
                accepted += byOutcome[(int)Outcome.Accepted];
                soldOut += byOutcome[(int)Outcome.SoldOut];
                limit += byOutcome[(int)Outcome.LimitReached];
                rejected += byOutcome[(int)Outcome.Rejected];
                failed += byOutcome[(int)Outcome.Failed];
                paid += paidHere;
                cancelled += cancelledHere;
                refused += refusedHere;
                liveOrders += liveHere;
            }
        }

        var workers = Enumerable.Range(0, plan.Workers).Select(_ => Task.Run(Worker)).ToArray();
        var all = Task.WhenAll(workers);
        while (!all.IsCompleted)
        {
            progress(Math.Min(1, Math.Max(Interlocked.Read(ref next) / (double)orders.Length, clock.Elapsed / deadline)));
            await Task.WhenAny(all, Task.Delay(250)); // progress refresh
        }
        await all;
        var elapsed = clock.Elapsed.TotalSeconds;
        progress(1);

        var audit = await system.AuditAsync(catalog);
        long oversold = 0;
        foreach (var sku in catalog.Skus)
        {
            var available = audit.Available.GetValueOrDefault(sku.Sku);
            oversold += Math.Max(0, acknowledged.GetValueOrDefault(sku.Sku) - sku.Units) + Math.Max(0, -available);
        }
        var lost = audit.LiveOrders is { } stored ? Math.Max(0, liveOrders - stored)
            : Math.Max(0, acknowledged.Values.Sum() - (audit.HeldUnits ?? 0));
        var usedSeconds = Math.Min(seconds, (int)Math.Ceiling(elapsed));
        double Ms(long ticks) => ticks / (double)TimeSpan.TicksPerMillisecond;
        double At(double p) => histogram.TotalCount == 0 ? 0 : Ms(histogram.GetValueAtPercentile(p));
        return new SystemRun(system.Key, system.Name, system.Durability, batch, sent, accepted, soldOut, limit, rejected, failed, paid, cancelled, refused,
            elapsed, sent / elapsed, At(50), At(99), At(99.9), histogram.TotalCount == 0 ? 0 : Ms(histogram.GetMaxValue()), oversold, lost,
            Complete: sent == orders.Length,
            perSecond[..usedSeconds],
            Enumerable.Range(0, usedSeconds).Select(s => perSecond[s] == 0 ? 0 : Ms(latencyTicksPerSecond[s]) / perSecond[s]).ToArray(),
            Enumerable.Range(0, usedSeconds).Select(s => Ms(maxTicksPerSecond[s])).ToArray(),
            Percentiles.Select(p => new LatencyPoint(p, At(p))).ToList());
    }
}
