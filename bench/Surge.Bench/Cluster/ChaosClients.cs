using System.Collections.Concurrent;
using System.Diagnostics;

namespace Surge.Bench;

/// <summary>The sellers of a chaos run: each owns a SKU with plenty of stock and a scarce one that sells out (and
/// comes back when orders are cancelled), and a webhook subscription to every order event.</summary>
internal sealed record ChaosSeller(string Id, string Key, string Subscription);

/// <summary>
/// The chaos run's clients: each, at its share of <see cref="ChaosBenchOptions.OrdersPerS"/>, places an order (one
/// seller or a cart of several; now and then a batch of orders, each with its own key), then pays for it or cancels
/// it. Every request goes to a silo picked at random from those the load balancer knows, carries an idempotency key,
/// and is retried with the same key through another random silo after a timeout, a 5xx, a 429 or a 409
/// `idempotency_key_in_use` — until it is answered or <see cref="ChaosBenchOptions.OperationDeadline"/> passes (the
/// key is then left in doubt and asked again at the end). Some answered requests are sent again on purpose (a client
/// that timed out just as the answer came). Everything an answer said goes into the <see cref="ChaosLedger"/>.
/// </summary>
internal sealed class ChaosClients(ChaosBenchOptions options, ChaosLedger ledger, Func<IReadOnlyList<Uri>> silos, ChaosSeller[] sellers, string adminKey)
    : IDisposable
{
    public const string PlentySku = "plenty";
    public const string ScarceSku = "scarce";

    private static readonly byte[] EmptyObject = "{}"u8.ToArray();
    private readonly ConcurrentDictionary<Uri, SurgeClient> _clients = new();
    private long _flows;

    public long Flows => Interlocked.Read(ref _flows);

    /// <summary>Runs every client until <paramref name="stop"/>; a flow already started is finished (within its deadline).</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, options.Clients).Select(c => Task.Run(() => ClientAsync(c, stop), CancellationToken.None)));

    /// <summary>Asks again, through a serving silo, every placement that never got an answer; true when all are answered.</summary>
    public async Task<bool> ResolveInDoubtAsync()
    {
        var random = new Random(options.Seed);
        foreach (var placement in ledger.Placements.Where(p => !p.Answered))
        {
            if (placement.Batch)
            {
                await BatchAsync([placement], random);
            }
            else
            {
                await PlaceAsync(placement, random);
            }
        }
        return ledger.Placements.All(p => p.Answered);
    }

    private async Task ClientAsync(int client, CancellationToken stop)
    {
        var random = new Random(options.Seed * 7_919 + client);
        var interval = TimeSpan.FromSeconds(options.Clients / options.OrdersPerS);
        var next = Stopwatch.GetTimestamp();
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            next += (long)(interval.TotalSeconds * Stopwatch.Frequency);
            Interlocked.Increment(ref _flows);
            var key = $"chaos-{options.Seed}-{client}-{n}";
            if (random.NextDouble() < options.BatchShare)
            {
                var placements = Enumerable.Range(0, 3).Select(i => $"{key}-b{i}")
                    .Select(k => ledger.Begin(k, OrderBodies.Batch(1, (json, _) => OrderBodies.Write(json, k, "KR", "seoul", Lines(random), "04524", k)), batch: true))
                    .ToArray();
                await BatchAsync(placements, random);
                foreach (var placement in placements)
                {
                    await SettleAsync(placement, random);
                }
            }
            else
            {
                var placement = ledger.Begin(key, OrderBodies.Single(key, "KR", "seoul", Lines(random), "04524"));
                await PlaceAsync(placement, random);
                if (placement.Ids.Count > 0 && random.NextDouble() < options.RepeatShare)
                {
                    await PlaceAsync(placement, random); // as if the first answer had been lost: the same key, through another silo
                }
                await SettleAsync(placement, random);
            }
        }
    }

    /// <summary>One to three sellers; each line 1–2 units of the plentiful or (sometimes) the scarce SKU.</summary>
    private List<(string Seller, string Sku, int Quantity)> Lines(Random random)
    {
        var count = random.NextDouble() < options.MultiSellerShare ? random.Next(2, Math.Min(3, sellers.Length) + 1) : 1;
        return sellers.OrderBy(_ => random.Next()).Take(count)
            .Select(s => (s.Id, random.NextDouble() < options.ScarceShare ? ScarceSku : PlentySku, random.Next(1, 3))).ToList();
    }

    private async Task PlaceAsync(ChaosLedger.Placement placement, Random random)
    {
        var answer = await UntilAnsweredAsync(HttpMethod.Post, "/v1/orders", placement.Body, placement.Key, random);
        if (answer is null)
        {
            return;
        }
        if (answer.IsSuccess && answer.Json?["id"]?.GetValue<string>() is { } id)
        {
            ledger.Acknowledged(placement, id);
        }
        else
        {
            ledger.Refused(placement, Code(answer));
        }
    }

    /// <summary>Sends the batch (each order with its own key) until every order in it is answered; a retry sends it whole again.</summary>
    private async Task BatchAsync(ChaosLedger.Placement[] placements, Random random)
    {
        var body = OrderBodies.Batch(placements.Length, (json, i) =>
        {
            var single = System.Text.Json.JsonDocument.Parse(placements[i].Body).RootElement.GetProperty("orders")[0];
            single.WriteTo(json);
        });
        var clock = Stopwatch.StartNew();
        for (var attempt = 0; clock.Elapsed < options.OperationDeadline; attempt++)
        {
            var answer = await UntilAnsweredAsync(HttpMethod.Post, "/v1/orders/batch", body, null, random, options.OperationDeadline - clock.Elapsed);
            if (answer is null)
            {
                return;
            }
            if (!answer.IsSuccess)
            {
                foreach (var placement in placements)
                {
                    ledger.Refused(placement, Code(answer));
                }
                return;
            }
            var results = OrderBodies.ReadBatchAnswer(answer.Body);
            var open = false;
            for (var i = 0; i < placements.Length && i < results.Count; i++)
            {
                var result = results[i];
                ledger.Note(placements[i].Key, $"batch:{result.Status}{(result.Replayed ? " replayed" : "")}{(result.Accepted ? "" : " " + result.Code)}");
                if (result.Accepted && result.Id is not null)
                {
                    ledger.Acknowledged(placements[i], result.Id);
                    if (result.Replayed)
                    {
                        ledger.Replay();
                    }
                }
                else if (Retryable(result.Status, result.Code))
                {
                    open = true;
                }
                else
                {
                    ledger.Refused(placements[i], result.Code ?? result.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            if (!open)
            {
                return;
            }
            ledger.Retry();
            await Task.Delay(Backoff(attempt, random));
        }
    }

    /// <summary>Pays for the order (most of the time) or cancels it, under a key of its own; an acknowledged outcome is recorded.</summary>
    private async Task SettleAsync(ChaosLedger.Placement placement, Random random)
    {
        if (placement.Ids.Count == 0)
        {
            return;
        }
        var id = placement.Ids.First();
        var (action, outcome) = random.NextDouble() < options.CancelShare ? ("cancel", "cancelled") : ("payment", "paid");
        var answer = await UntilAnsweredAsync(HttpMethod.Post, $"/v1/orders/{id}/{action}", EmptyObject, $"{placement.Key}-{action}", random);
        if (answer is { IsSuccess: true })
        {
            ledger.Settled(id, outcome);
        }
    }

    /// <summary>A request, retried with the same key through random silos until an answer that is not a timeout, a 5xx, a
    /// 429 or a 409 `idempotency_key_in_use` (null when <paramref name="budget"/> runs out first).</summary>
    private async Task<SurgeResponse?> UntilAnsweredAsync(HttpMethod method, string path, byte[] body, string? key, Random random, TimeSpan? budget = null)
    {
        var clock = Stopwatch.StartNew();
        var deadline = budget ?? options.OperationDeadline;
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                ledger.Retry();
            }
            var serving = silos();
            if (serving.Count > 0)
            {
                var silo = serving[random.Next(serving.Count)];
                try
                {
                    using var timeout = new CancellationTokenSource(options.RequestTimeout);
                    var answer = await Client(silo).SendAsync(method, path, body, key, timeout.Token);
                    if (key is not null)
                    {
                        ledger.Note(key, $"{silo.Port}:{answer.Status}{(answer.Replayed ? " replayed" : "")}{(answer.IsSuccess ? "" : " " + Code(answer))}");
                    }
                    if (answer.IsSuccess && answer.Replayed)
                    {
                        ledger.Replay();
                    }
                    if (!Retryable(answer.Status, Code(answer)))
                    {
                        return answer;
                    }
                    if (answer.Status == 409)
                    {
                        ledger.InFlight();
                    }
                    else
                    {
                        ledger.ServerError();
                    }
                }
                catch (HttpRequestException)
                {
                    ledger.ServerError();
                    if (key is not null)
                    {
                        ledger.Note(key, $"{silo.Port}:no answer");
                    }
                }
                catch (OperationCanceledException)
                {
                    ledger.Timeout();
                    if (key is not null)
                    {
                        ledger.Note(key, $"{silo.Port}:timeout");
                    }
                }
            }
            if (clock.Elapsed > deadline)
            {
                return null;
            }
            await Task.Delay(Backoff(attempt, random));
        }
    }

    private static bool Retryable(int status, string? code) => status >= 500 || status is 429 or 408 || (status == 409 && code == "idempotency_key_in_use");

    /// <summary>100 ms doubling to 1.6 s, with full jitter.</summary>
    private static TimeSpan Backoff(int attempt, Random random) => TimeSpan.FromMilliseconds(random.Next(50, 100 << Math.Min(attempt, 4)));

    private static string Code(SurgeResponse answer)
    {
        try
        {
            return answer.Json?["code"]?.GetValue<string>() ?? answer.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (System.Text.Json.JsonException)
        {
            return answer.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private SurgeClient Client(Uri silo) =>
        _clients.GetOrAdd(silo, s => new SurgeClient(s, adminKey, new SurgeClientOptions { RequestTimeout = options.RequestTimeout + TimeSpan.FromSeconds(1) }));

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
