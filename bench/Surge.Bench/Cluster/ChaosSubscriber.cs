using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Surge.Bench;

/// <summary>
/// The sellers' webhook endpoint in a chaos run (Kestrel on loopback, <c>/hook/{seller}</c>): it keeps every
/// notification it accepts in arrival order and, to exercise the outbox's retries, refuses a seeded share of them
/// with 503 (a refused one is not counted as arrived).
/// </summary>
internal sealed class ChaosSubscriber : IAsyncDisposable
{
    /// <summary>One accepted notification: whose subscription, its webhook id, type (<c>order.paid</c>…) and seller order.</summary>
    public sealed record Arrival(string Seller, string WebhookId, string Type, string SellerOrder, long Sequence);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Arrival> _arrivals = new();
    private readonly Random _random;
    private readonly double _failureRate;
    private long _sequence, _lastArrivalTicks = Stopwatch.GetTimestamp(), _refused;

    public ChaosSubscriber(int port, double failureRate, int seed)
    {
        (_failureRate, _random) = (failureRate, new Random(seed));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        _app = builder.Build();
        _app.MapPost("/hook/{seller}", ReceiveAsync);
        Url = new Uri($"http://127.0.0.1:{port}/");
    }

    public Uri Url { get; }

    public IReadOnlyList<Arrival> Arrivals => [.. _arrivals];

    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Time since the last notification came in (accepted or refused).</summary>
    public TimeSpan Idle => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastArrivalTicks));

    public Task StartAsync() => _app.StartAsync();

    private async Task<IResult> ReceiveAsync(HttpContext context, string seller)
    {
        Interlocked.Exchange(ref _lastArrivalTicks, Stopwatch.GetTimestamp());
        bool refuse;
        lock (_random)
        {
            refuse = _random.NextDouble() < _failureRate;
        }
        if (refuse)
        {
            Interlocked.Increment(ref _refused);
            return Results.StatusCode(503);
        }
        using var reader = new StreamReader(context.Request.Body);
        var body = JsonNode.Parse(await reader.ReadToEndAsync());
        var type = body?["type"]?.GetValue<string>() ?? "";
        var sellerOrder = body?["data"]?["seller_order_id"]?.GetValue<string>() ?? "";
        var id = context.Request.Headers["webhook-id"].ToString();
        _arrivals.Enqueue(new Arrival(seller, id, type.StartsWith("com.surge.", StringComparison.Ordinal) ? type["com.surge.".Length..] : type, sellerOrder,
            Interlocked.Increment(ref _sequence)));
        return Results.Ok();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
