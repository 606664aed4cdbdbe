using System.Collections.Concurrent;
using System.Diagnostics;
using Surge.Autoscale.Actuators;
using Surge.Server;
using Surge.Testing;

namespace Surge.Bench;

/// <summary>What `surge bench failover` is told; every bound with its unit.</summary>
public sealed record FailoverBenchOptions
{
    public int Silos { get; init; } = 3;
    public int Partitions { get; init; } = 8;
    public int Sellers { get; init; } = 24;

    /// <summary>Silos killed, one per round (a new one replaces it before the next round).</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Pause between two probe orders of one seller (one order in flight per seller).</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Probing before the kill (every seller's orders go through then).</summary>
    public TimeSpan Baseline { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest a round waits for every seller to be served again before it calls the failover failed.</summary>
    public TimeSpan RecoveryMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest the partitions may take to spread over the silos before a round.</summary>
    public TimeSpan SpreadMax { get; init; } = TimeSpan.FromSeconds(90);
}

/// <summary>One kill: which silo, which partitions it held, how long until every seller's order went through again.</summary>
public sealed record FailoverRound(int Round, int Silo, int[] Partitions, double ServedAgainS, int SellersDelayed, long Sent, long Acknowledged,
    long Refused, long Lost);

public sealed record FailoverBenchResult(int Silos, int Partitions, int Sellers, string Detection, IReadOnlyList<FailoverRound> Rounds,
    double ServedAgainMaxS, double ServedAgainMedianS, long Lost, string Note);

/// <summary>
/// `surge bench failover`: the time from `kill -9` of a silo to every partition serving again on the others.
/// A cluster of real `surge serve` silos (PostgreSQL and Redis on loopback), the partitions spread over them; one
/// prober per seller places an order, waits <see cref="FailoverBenchOptions.ProbeInterval"/>, places the next,
/// through the silos that stay. Each round kills the silo holding the most partitions and measures, per seller,
/// the time from the kill to the answer of the first acknowledged order sent after it; the round's figure is the
/// largest (the last partition back). Every acknowledged order is read back afterwards (lost = acknowledged but
/// missing); a replacement silo joins before the next round.
/// </summary>
internal static class FailoverBench
{
    /// <summary>Longest the probing before a kill waits, beyond the baseline, for every seller's orders to go through.</summary>
    private static readonly TimeSpan BaselineMax = TimeSpan.FromSeconds(30);

    /// <summary>A probe slower than this counts its seller as delayed by the failover.</summary>
    private static readonly TimeSpan DelayedAfter = TimeSpan.FromMilliseconds(250);

    public static async Task<FailoverBenchResult> RunAsync(FailoverBenchOptions options, Action<string, double> progress)
    {
        progress("starting PostgreSQL and Redis", 0);
        await using var postgres = await LocalPostgres.StartAsync();
        await using var redis = await LocalRedis.StartAsync([]);
        var dataRoot = Directory.CreateTempSubdirectory("surge-failover-").FullName;
        var actuator = new LocalSiloActuator(ElasticBench.SiloOptions(postgres, redis, dataRoot, options.Partitions));
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(30) }) { Timeout = TimeSpan.FromSeconds(30) };
            progress("starting the silos", 0);
            await actuator.ScaleAsync(1);
            await ElasticBench.RequireServingAsync(actuator);
            var sellers = await ElasticBench.SetUpAsync(actuator.Serving[0], options.Sellers);
            var rounds = new List<FailoverRound>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                await actuator.ScaleAsync(options.Silos);
                await ElasticBench.RequireServingAsync(actuator);
                progress($"round {round}: waiting for the partitions to spread", (round - 1.0) / options.Rounds);
                var hosted = await SpreadAsync(http, actuator, options);
                var (victim, partitions) = hosted.OrderByDescending(h => h.Partitions.Length).ThenBy(h => h.Silo.Number).First();
                progress($"round {round}: kill -9 of silo {victim.Number} ({partitions.Length} partitions)", (round - 0.5) / options.Rounds);
                rounds.Add(await RoundAsync(http, actuator, victim, partitions, sellers, round, options));
            }
            var times = rounds.Select(r => r.ServedAgainS).Order().ToArray();
            var detection = new ClusterMode("-");
            return new FailoverBenchResult(options.Silos, options.Partitions, options.Sellers,
                $"probe timeout {detection.ProbeTimeout.TotalMilliseconds:F0} ms, {detection.MissedProbesLimit} missed probes, {detection.VotesForDeath} vote, "
                + $"membership table read every {detection.TableRefresh.TotalSeconds:F0} s",
                rounds, times.DefaultIfEmpty(0).Max(), times.Length == 0 ? 0 : times[times.Length / 2], rounds.Sum(r => r.Lost),
                $"one {Environment.ProcessorCount}-core machine runs every silo, PostgreSQL, Redis and the probers");
        }
        finally
        {
            progress("draining the silos", 1);
            await actuator.DisposeAsync();
            Directory.Delete(dataRoot, recursive: true);
        }
    }

    /// <summary>Waits until every partition is hosted by exactly one serving silo, each holding its share; returns who holds what.</summary>
    private static async Task<List<(LocalSilo Silo, int[] Partitions)>> SpreadAsync(HttpClient http, LocalSiloActuator actuator, FailoverBenchOptions options)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var silos = actuator.Silos.Where(s => s.Serving).ToArray();
            var hosted = new List<(LocalSilo, int[])>();
            foreach (var silo in silos)
            {
                hosted.Add((silo, SiloSignals.HostedPartitions(await http.GetStringAsync(new Uri(silo.Api, "/metrics")))));
            }
            if (SiloSignals.Spread(hosted.Select(h => h.Item2).ToArray(), options.Partitions))
            {
                return hosted;
            }
            if (clock.Elapsed > options.SpreadMax)
            {
                throw new InvalidOperationException($"the partitions did not spread over {silos.Length} silos within {options.SpreadMax.TotalSeconds:F0} s: "
                    + string.Join(" | ", hosted.Select(h => $"silo {h.Item1.Number}: {string.Join(",", h.Item2)}")));
            }
            await Task.Delay(200);
        }
    }

    private sealed record Probe(long SentTicks, long DoneTicks, string? Acknowledged);

    private static async Task<FailoverRound> RoundAsync(HttpClient http, LocalSiloActuator actuator, LocalSilo victim, int[] partitions, string[] sellers,
        int round, FailoverBenchOptions options)
    {
        var survivors = actuator.Silos.Where(s => s.Serving && s != victim).Select(s => s.Api).ToArray();
        var clock = Stopwatch.StartNew();
        long killedAt = long.MaxValue;
        var probes = sellers.Select(_ => new ConcurrentQueue<Probe>()).ToArray();
        using var stop = new CancellationTokenSource();
        var probers = sellers.Select((seller, s) => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var sent = clock.ElapsedTicks;
                string? id = null;
                try
                {
                    using var request = ElasticBench.Request(HttpMethod.Post, new Uri(survivors[(s + i) % survivors.Length], "/v1/orders"), ElasticBench.AdminKey,
                        ElasticBench.OrderBody($"failover-{round}-{s}-{i}", seller));
                    using var response = await http.SendAsync(request);
                    if ((int)response.StatusCode == 201)
                    {
                        id = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // no answer: not acknowledged
                }
                probes[s].Enqueue(new Probe(sent, clock.ElapsedTicks, id));
                await Task.Delay(options.ProbeInterval);
            }
        })).ToArray();

        // At least the baseline, and until every seller's orders went through (partitions that just moved may take seconds).
        await Task.Delay(options.Baseline);
        var waited = Stopwatch.StartNew();
        while (probes.Any(p => !p.Any(probe => probe.Acknowledged is not null)) && waited.Elapsed < BaselineMax)
        {
            await Task.Delay(50);
        }
        if (probes.Any(p => !p.Any(probe => probe.Acknowledged is not null)))
        {
            await stop.CancelAsync();
            await Task.WhenAll(probers);
            throw new InvalidOperationException($"before the kill, not every seller's orders went through within {(options.Baseline + BaselineMax).TotalSeconds:0} s");
        }
        Volatile.Write(ref killedAt, clock.ElapsedTicks);
        await actuator.KillAsync(victim);

        // Served again: a seller's first acknowledged order sent after the kill.
        double? ServedAgain(ConcurrentQueue<Probe> queue) =>
            queue.FirstOrDefault(p => p.SentTicks >= killedAt && p.Acknowledged is not null) is { } first
                ? (double)(first.DoneTicks - killedAt) / Stopwatch.Frequency
                : null;
        while (probes.Any(p => ServedAgain(p) is null) && clock.Elapsed.TotalSeconds - (double)killedAt / Stopwatch.Frequency < options.RecoveryMax.TotalSeconds)
        {
            await Task.Delay(10);
        }
        await Task.Delay(options.Baseline); // and some more orders after it
        await stop.CancelAsync();
        await Task.WhenAll(probers);
        var servedAgain = probes.Select(ServedAgain).ToArray();
        if (servedAgain.Any(t => t is null))
        {
            throw new InvalidOperationException($"round {round}: {servedAgain.Count(t => t is null)} sellers were not served again within {options.RecoveryMax.TotalSeconds:F0} s of the kill");
        }

        // Every acknowledged order is there.
        var all = probes.SelectMany(p => p).ToArray();
        var acknowledged = all.Where(p => p.Acknowledged is not null).Select(p => p.Acknowledged!).ToArray();
        long lost = 0;
        foreach (var id in acknowledged)
        {
            using var request = ElasticBench.Request(HttpMethod.Get, new Uri(survivors[0], $"/v1/orders/{id}"), ElasticBench.AdminKey);
            using var response = await http.SendAsync(request);
            if ((int)response.StatusCode != 200)
            {
                lost++;
            }
        }
        var delayed = probes.Count(p => p.Any(probe => probe.SentTicks >= killedAt
            && (probe.Acknowledged is null || probe.DoneTicks - probe.SentTicks > DelayedAfter.TotalSeconds * Stopwatch.Frequency)));
        return new FailoverRound(round, victim.Number, partitions, servedAgain.Max(t => t!.Value), delayed, all.Length, acknowledged.Length,
            all.Length - acknowledged.Length, lost);
    }
}
