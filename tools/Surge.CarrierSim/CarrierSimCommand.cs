using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Surge.Flow;

namespace Surge.CarrierSim;

/// <summary>
/// `surge-carrier-sim` (`./surge carrier-sim` from a checkout): a fake carrier in its own process. It accepts Surge's signed shipment manifests (checking
/// the Standard Webhooks signature), answers with tracking numbers (the same number again for a shipment it has
/// seen), and later drives every shipment through its lifecycle — picked up, out for delivery, delivered — by
/// calling Surge back with signed CloudEvents, one step after the other per shipment. Latency, a random failure
/// rate and outage windows make it misbehave on purpose.
/// </summary>
public static class CarrierSimCommand
{
    public static RootCommand Create()
    {
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1 (0 picks a free one; the address is printed).", DefaultValueFactory = _ => 7301 };
        var carrier = new Option<string>("--carrier-id") { Description = "The carrier id Surge knows this carrier by (its events go to /v1/carriers/{id}/events).", Required = true };
        var secret = new Option<string>("--secret") { Description = "The shared whsec_ secret (the carrier's `secret` in the fulfillment rules).", Required = true };
        var callback = new Option<string[]>("--callback")
        {
            Description = "Surge's base URL for tracking events, e.g. http://127.0.0.1:8080/ (repeatable: a failed call moves on to the next; none: no events are sent).",
        };
        var callbackFile = new Option<FileInfo?>("--callback-file")
        {
            Description = "A file of Surge base URLs, one per line, read again whenever it changes (a cluster whose silos come and go); used with --callback.",
        };
        var latency = new Option<int>("--latency-ms") { Description = "Delay before answering a manifest, in ms.", DefaultValueFactory = _ => 5 };
        var failureRate = new Option<double>("--failure-rate") { Description = "Share of manifests answered 503 at random (0..1).", DefaultValueFactory = _ => 0 };
        var outages = new Option<string[]>("--outage")
        {
            Description = "A window START-END in seconds after start during which every manifest gets 503 (repeatable), e.g. 5-20.",
            AllowMultipleArgumentsPerToken = true,
        };
        var step = new Option<int>("--step-ms") { Description = "Time between lifecycle steps of a shipment, in ms.", DefaultValueFactory = _ => 500 };
        var capture = new Option<FileInfo?>("--capture") { Description = "Append every manifest received (headers and body, JSON lines) to this file." };
        var seed = new Option<int>("--seed") { Description = "Seed of the random failures.", DefaultValueFactory = _ => 1 };
        var command = new RootCommand("Run a fake carrier: accepts signed shipment webhooks, returns tracking numbers, calls back with tracking events.")
        {
            port, carrier, secret, callback, callbackFile, latency, failureRate, outages, step, capture, seed,
        };
        command.SetAction(async (parse, token) =>
        {
            if (!WebhookSecret.TryParse(parse.GetValue(secret)!, out var key))
            {
                Console.Error.WriteLine("surge carrier-sim: --secret must be whsec_ followed by base64 of 24 bytes or more");
                return 2;
            }
            var windows = new List<(double From, double To)>();
            foreach (var window in parse.GetValue(outages) ?? [])
            {
                var parts = window.Split('-');
                if (parts.Length != 2 || !double.TryParse(parts[0], CultureInfo.InvariantCulture, out var from)
                    || !double.TryParse(parts[1], CultureInfo.InvariantCulture, out var to) || from < 0 || to <= from)
                {
                    Console.Error.WriteLine($"surge carrier-sim: --outage '{window}': START-END in seconds, START < END");
                    return 2;
                }
                windows.Add((from, to));
            }
            var rate = parse.GetValue(failureRate);
            if (rate is < 0 or > 1 || parse.GetValue(latency) < 0 || parse.GetValue(step) < 1)
            {
                Console.Error.WriteLine("surge carrier-sim: --failure-rate is 0..1, --latency-ms ≥ 0, --step-ms ≥ 1");
                return 2;
            }
            var fixedTargets = new List<Uri>();
            foreach (var url in parse.GetValue(callback) ?? [])
            {
                if (!Callbacks.TryParse(url, out var baseUri))
                {
                    Console.Error.WriteLine($"surge carrier-sim: --callback '{url}' must be an absolute http(s) URL");
                    return 2;
                }
                fixedTargets.Add(baseUri);
            }
            var file = parse.GetValue(callbackFile);
            if (file is not null && !file.Exists)
            {
                Console.Error.WriteLine($"surge carrier-sim: --callback-file {file.FullName} does not exist");
                return 2;
            }
            var events = new Callbacks(parse.GetValue(carrier)!, fixedTargets, file);
            var sim = new CarrierSim(parse.GetValue(carrier)!, key, events, TimeSpan.FromMilliseconds(parse.GetValue(latency)), rate, windows,
                TimeSpan.FromMilliseconds(parse.GetValue(step)), parse.GetValue(capture), parse.GetValue(seed));
            await sim.RunAsync(parse.GetValue(port), token);
            return 0;
        });
        return command;
    }
}

/// <summary>Where tracking events go: the --callback URLs and those listed in the --callback-file (read again when it
/// changes); a failed call moves on to the next one.</summary>
internal sealed class Callbacks(string carrierId, IReadOnlyList<Uri> fixedTargets, FileInfo? file)
{
    private readonly Lock _gate = new();
    private List<Uri> _targets = [.. fixedTargets];
    private DateTime _fileWritten;
    private int _turn;

    public static bool TryParse(string text, out Uri baseUri) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out baseUri!) && (baseUri.Scheme == Uri.UriSchemeHttp || baseUri.Scheme == Uri.UriSchemeHttps);

    public bool Any => fixedTargets.Count > 0 || file is not null;

    public string Describe => file is null ? string.Join(", ", fixedTargets) : $"{string.Join(", ", fixedTargets.Append(new Uri(file.FullName)))}";

    /// <summary>The events endpoint to call now (null when none is known).</summary>
    public Uri? Current()
    {
        lock (_gate)
        {
            Reload();
            return _targets.Count == 0 ? null : new Uri(_targets[_turn % _targets.Count], $"v1/carriers/{carrierId}/events");
        }
    }

    /// <summary>The last call failed: the next one goes to the next URL.</summary>
    public void Failed()
    {
        lock (_gate)
        {
            _turn++;
        }
    }

    private void Reload()
    {
        if (file is null)
        {
            return;
        }
        file.Refresh();
        if (!file.Exists || file.LastWriteTimeUtc == _fileWritten)
        {
            return;
        }
        _fileWritten = file.LastWriteTimeUtc;
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file.FullName);
        }
        catch (IOException)
        {
            _fileWritten = default; // being rewritten: read it again next time
            return;
        }
        var listed = lines.Where(l => l.Trim().Length > 0).Select(l => TryParse(l, out var u) ? u : null).OfType<Uri>();
        _targets = [.. fixedTargets, .. listed];
    }
}

internal sealed class CarrierSim(string carrierId, byte[] key, Callbacks events, TimeSpan latency, double failureRate, List<(double From, double To)> outages,
    TimeSpan step, FileInfo? capture, int seed)
{
    private static readonly string[] Lifecycle = ["PU", "OD", "DL"];

    private readonly Dictionary<string, string> _tracking = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Random _random = new(seed);
    private readonly PriorityQueue<(string Shipment, int Step), long> _due = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private long _requests, _badSignatures, _injectedFailures, _duplicates, _eventsSent, _eventsFailed;

    public async Task RunAsync(int port, CancellationToken stop)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapPost("/shipments", ReceiveAsync);
        app.MapGet("/stats", () => Results.Json(new
        {
            requests = Interlocked.Read(ref _requests),
            bad_signatures = Interlocked.Read(ref _badSignatures),
            injected_failures = Interlocked.Read(ref _injectedFailures),
            shipments = Count(),
            duplicate_shipments = Interlocked.Read(ref _duplicates),
            events_sent = Interlocked.Read(ref _eventsSent),
            events_failed = Interlocked.Read(ref _eventsFailed),
        }));
        await app.StartAsync(stop);
        Console.WriteLine($"carrier-sim: {carrierId} listening {app.Urls.First()}/ (events to {(events.Any ? events.Describe : "nowhere")})");
        Console.WriteLine("carrier-sim: ready");
        try
        {
            await CallBackAsync(stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        await app.StopAsync(CancellationToken.None);
        Console.WriteLine($"carrier-sim: stopped after {Interlocked.Read(ref _requests)} manifests, {Count()} shipments, {Interlocked.Read(ref _eventsSent)} events sent");
    }

    private int Count()
    {
        lock (_gate)
        {
            return _tracking.Count;
        }
    }

    private async Task ReceiveAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        var headers = context.Request.Headers;
        var seconds = _clock.Elapsed.TotalSeconds;
        bool fail;
        lock (_gate)
        {
            fail = outages.Any(o => seconds >= o.From && seconds < o.To) || _random.NextDouble() < failureRate;
        }
        if (fail)
        {
            Interlocked.Increment(ref _injectedFailures); // down: nothing is read, checked or kept
            context.Response.StatusCode = 503;
            return;
        }
        if (capture is not null)
        {
            var line = JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["webhook-id"] = headers[StandardWebhooks.IdHeader].ToString(),
                ["webhook-timestamp"] = headers[StandardWebhooks.TimestampHeader].ToString(),
                ["webhook-signature"] = headers[StandardWebhooks.SignatureHeader].ToString(),
                ["body"] = System.Text.Encoding.UTF8.GetString(body),
            });
            lock (capture)
            {
                File.AppendAllText(capture.FullName, line + "\n");
            }
        }
        // The carrier thinks for a while before it answers; a sender that goes away meanwhile gets nothing kept.
        await Task.Delay(latency, context.RequestAborted);
        if (StandardWebhooks.Verify(key, headers[StandardWebhooks.IdHeader], headers[StandardWebhooks.TimestampHeader],
            headers[StandardWebhooks.SignatureHeader], body, DateTimeOffset.UtcNow) != WebhookVerdict.Valid)
        {
            Interlocked.Increment(ref _badSignatures);
            context.Response.StatusCode = 401;
            return;
        }
        var accepted = new JsonArray();
        var shipments = JsonNode.Parse(body)?["data"]?["shipments"]?.AsArray() ?? [];
        lock (_gate)
        {
            foreach (var shipment in shipments)
            {
                var id = shipment?["id"]?.GetValue<string>();
                if (id is null)
                {
                    continue;
                }
                if (_tracking.TryGetValue(id, out var number))
                {
                    Interlocked.Increment(ref _duplicates);
                }
                else
                {
                    number = $"SIM{_tracking.Count + 1:D9}";
                    _tracking[id] = number;
                    _due.Enqueue((id, 0), _clock.ElapsedMilliseconds + (long)step.TotalMilliseconds);
                }
                accepted.Add(new JsonObject { ["shipment_id"] = id, ["tracking_number"] = number });
            }
        }
        await context.Response.WriteAsJsonAsync(new JsonObject { ["accepted"] = accepted }, context.RequestAborted);
    }

    /// <summary>Calls in flight at once; each waits at most <see cref="EventTimeout"/>.</summary>
    public const int EventsInFlightMax = 32;

    /// <summary>How long one tracking call may take before it counts as failed (a stopped server must not hold the rest).</summary>
    public static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Sends each due lifecycle step (up to <see cref="EventsInFlightMax"/> at once); the next step of a shipment
    /// is scheduled only once this one was taken, so a shipment's events arrive in order. A failed call is tried again a
    /// step later.</summary>
    private async Task CallBackAsync(CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = EventTimeout };
        using var slots = new SemaphoreSlim(EventsInFlightMax);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                (string Shipment, int Step) next;
                lock (_gate)
                {
                    if (!events.Any || !_due.TryPeek(out next, out var dueMs) || dueMs > _clock.ElapsedMilliseconds)
                    {
                        next = default;
                    }
                    else
                    {
                        _due.Dequeue();
                    }
                }
                if (next.Shipment is null)
                {
                    await Task.Delay(10, stop);
                    continue;
                }
                await slots.WaitAsync(stop);
                _ = SendAndScheduleAsync(http, next, slots, stop);
            }
        }
        finally
        {
            for (var i = 0; i < EventsInFlightMax; i++)
            {
                await slots.WaitAsync(CancellationToken.None); // the calls in flight end (they are cancelled too) before the client goes
            }
        }
    }

    private async Task SendAndScheduleAsync(HttpClient http, (string Shipment, int Step) next, SemaphoreSlim slots, CancellationToken stop)
    {
        try
        {
            var ok = await SendEventAsync(http, next.Shipment, next.Step, stop);
            lock (_gate)
            {
                var later = _clock.ElapsedMilliseconds + (long)step.TotalMilliseconds;
                if (!ok)
                {
                    _due.Enqueue(next, later);
                }
                else if (next.Step + 1 < Lifecycle.Length)
                {
                    _due.Enqueue((next.Shipment, next.Step + 1), later);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            slots.Release();
        }
    }

    private async Task<bool> SendEventAsync(HttpClient http, string shipment, int stepIndex, CancellationToken stop)
    {
        string tracking;
        lock (_gate)
        {
            tracking = _tracking[shipment];
        }
        var id = $"evt_{tracking}_{stepIndex}";
        var now = DateTimeOffset.UtcNow;
        var body = CloudEvents.Write("com.carrier-sim.tracking", $"/carrier-sim/{carrierId}", id, now, tracking, json =>
        {
            json.WriteStartObject();
            json.WriteString("shipment_id"u8, shipment);
            json.WriteString("tracking_number"u8, tracking);
            json.WriteString("code"u8, Lifecycle[stepIndex]);
            json.WriteString("occurred_at"u8, now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteEndObject();
        });
        if (events.Current() is not { } target)
        {
            Interlocked.Increment(ref _eventsFailed);
            return false;
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(CloudEvents.ContentType);
        var timestamp = now.ToUnixTimeSeconds();
        request.Headers.Add(StandardWebhooks.IdHeader, id);
        request.Headers.Add(StandardWebhooks.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(StandardWebhooks.SignatureHeader, StandardWebhooks.Sign(key, id, timestamp, body));
        try
        {
            using var response = await http.SendAsync(request, stop);
            // 409: Surge has this webhook id already (an earlier try whose answer was lost) — it is delivered.
            if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Conflict)
            {
                Interlocked.Increment(ref _eventsSent);
                return true;
            }
        }
        catch (HttpRequestException)
        {
        }
        catch (TaskCanceledException) when (!stop.IsCancellationRequested)
        {
        }
        events.Failed();
        Interlocked.Increment(ref _eventsFailed);
        return false;
    }
}
