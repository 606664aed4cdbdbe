using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Surge.Flow;

/// <summary>
/// Hands planned shipments to their carriers as signed webhooks (Standard Webhooks headers, CloudEvents 1.0
/// body): per carrier, due shipments go out in their manifests (<see cref="ShipmentManifest"/>: fixed when the plans
/// were stored, at most <see cref="DispatchOptions.ManifestShipmentsMax"/> shipments), paced by the carrier's rate limit, through a circuit breaker (Polly). A failed attempt is retried with
/// exponential backoff and jitter until <see cref="DispatchOptions.RetryHorizon"/> after planning, then the
/// shipment is dead-lettered (durably) until redriven. A carrier's answer lists the shipments it accepted
/// with their tracking numbers; only those are recorded as dispatched (durably) — the rest are retried.
/// A manifest is always sent whole, under the webhook id derived from its shipment ids: a repeat (after a lost answer,
/// a shipment the carrier did not accept, a restart, a partition that moved) carries the same id and the same
/// shipments, so each shipment reaches the carrier under one webhook id; a carrier deduplicates by either.
/// </summary>
public sealed class CarrierDispatcher : IAsyncDisposable
{
    public const string ManifestEventType = "com.surge.shipments.manifest";
    public const string EventSource = "/surge/fulfillment";

    private readonly ShipmentStore _store;
    private readonly HttpClient _http;
    private readonly DispatchOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<IReadOnlyList<ShipmentState>, CancellationToken, Task> _onDispatched;
    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];
    private bool _disposed;

    public CarrierDispatcher(FulfillmentRules rules, ShipmentStore store, HttpClient http, Func<IReadOnlyList<ShipmentState>, CancellationToken, Task> onDispatched,
        DispatchOptions? options = null, TimeProvider? time = null)
    {
        _store = store;
        _http = http;
        _onDispatched = onDispatched;
        _options = options ?? new DispatchOptions();
        _time = time ?? TimeProvider.System;
        foreach (var carrier in rules.Carriers.Where(c => c.Endpoint is not null))
        {
            _lanes[carrier.Id] = new Lane(this, carrier);
        }
    }

    /// <summary>False while the carrier's breaker is open (the planner then prefers another carrier).</summary>
    public bool IsHealthy(string carrierId) =>
        !_lanes.TryGetValue(carrierId, out var lane) || lane.Breaker.CircuitState is not (CircuitState.Open or CircuitState.Isolated);

    public IReadOnlyList<CarrierHealth> Health() => _lanes.Values.Select(l => l.Health()).ToList();

    /// <summary>Queues shipments that are pending with a carrier this dispatcher calls; others are ignored.</summary>
    public void Enqueue(IEnumerable<ShipmentState> shipments)
    {
        foreach (var shipment in shipments)
        {
            if (shipment.Delivery == DeliveryState.Pending && shipment.Plan.CarrierId is { } carrier && _lanes.TryGetValue(carrier, out var lane))
            {
                lane.Add(shipment, _time.GetUtcNow().ToUnixTimeMilliseconds());
            }
        }
    }

    /// <summary>Starts one sending loop per carrier and queues every pending shipment in the store.</summary>
    public void Start()
    {
        Enqueue(_store.Where(s => s.Delivery == DeliveryState.Pending && s.Plan.CarrierId is not null));
        _loops = _lanes.Values.Select(l => Task.Run(() => l.RunAsync(_stop.Token))).ToArray();
    }

    /// <summary>Moves dead-lettered shipments of a carrier (all, or those listed) back to pending, durably, and
    /// queues them. Returns how many.</summary>
    public async Task<int> RedriveAsync(string carrierId, IReadOnlyCollection<string>? shipmentIds)
    {
        var dead = _store.Where(s => s.Delivery == DeliveryState.DeadLetter && s.Plan.CarrierId == carrierId
            && (shipmentIds is null || shipmentIds.Contains(s.Id)));
        await _store.AppendRedrivenAsync(dead.Select(s => s.Id).ToList()).ConfigureAwait(false);
        Enqueue(dead);
        return dead.Count;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        foreach (var lane in _lanes.Values)
        {
            lane.Dispose();
        }
        _stop.Dispose();
    }

    /// <summary>The webhook id of a manifest: a hash of the shipment ids it carries (same set → same id).</summary>
    public static string DeliveryId(IEnumerable<string> shipmentIds)
    {
        var joined = string.Join(',', shipmentIds.Order(StringComparer.Ordinal));
        return "msg_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined)).AsSpan(0, 12));
    }

    /// <summary>The manifest body: a CloudEvent whose data lists the shipments.</summary>
    public static byte[] Manifest(string carrierId, string deliveryId, IReadOnlyList<ShipmentState> shipments, DateTimeOffset now) =>
        CloudEvents.Write(ManifestEventType, EventSource, deliveryId, now, carrierId, json =>
        {
            json.WriteStartObject();
            json.WriteString("carrier_id"u8, carrierId);
            json.WriteStartArray("shipments"u8);
            foreach (var s in shipments)
            {
                var p = s.Plan;
                json.WriteStartObject();
                json.WriteString("id"u8, s.Id);
                json.WriteString("service_level"u8, p.ServiceLevel);
                json.WriteString("shipping_class"u8, ShipmentJson.ClassCode(p.Class));
                json.WriteString("temperature"u8, ShipmentJson.TemperatureCode(p.Temperature));
                json.WriteString("origin_warehouse"u8, p.WarehouseCode);
                json.WriteStartObject("destination"u8);
                json.WriteString("country"u8, p.Destination.Country);
                if (p.Destination.Region is not null)
                {
                    json.WriteString("region"u8, p.Destination.Region);
                }
                json.WriteEndObject();
                json.WriteNumber("weight_grams"u8, p.WeightGrams);
                ShipmentJson.WriteItems(json, p.Items);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });

    /// <summary>One carrier's queue, pacing and breaker.</summary>
    private sealed class Lane : IDisposable
    {
        private readonly CarrierDispatcher _owner;
        private readonly CarrierConfig _carrier;
        private readonly byte[] _key;
        private readonly Lock _gate = new();
        private readonly PriorityQueue<ShipmentManifest, long> _due = new();
        private readonly HashSet<string> _queued = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
        private readonly WakeSignal _signal;
        private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
        private long _sent;
        private long _failed;
        private long _nextSendMs;

        public Lane(CarrierDispatcher owner, CarrierConfig carrier)
        {
            _owner = owner;
            _carrier = carrier;
            _signal = new WakeSignal(owner._time);
            _ = WebhookSecret.TryParse(carrier.Secret!, out _key);
            var options = owner._options;
            _pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = owner._time }
                .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
                {
                    FailureRatio = options.BreakerFailureRatio,
                    MinimumThroughput = options.BreakerMinimumCalls,
                    SamplingDuration = options.BreakerSamplingDuration,
                    BreakDuration = options.BreakerBreakDuration,
                    StateProvider = Breaker,
                    ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                        .Handle<HttpRequestException>()
                        .Handle<TimeoutRejectedException>()
                        .HandleResult(r => (int)r.StatusCode >= 500 || r.StatusCode == HttpStatusCode.TooManyRequests),
                })
                .AddTimeout(options.RequestTimeout)
                .Build();
        }

        public CircuitBreakerStateProvider Breaker { get; } = new();

        public CarrierHealth Health()
        {
            int queued;
            lock (_gate)
            {
                queued = _queued.Count;
            }
            return new CarrierHealth(_carrier.Id, Breaker.CircuitState.ToString().ToLowerInvariant(), queued, Interlocked.Read(ref _sent),
                Interlocked.Read(ref _failed), _owner._store.DeadLettersOf(_carrier.Id));
        }

        public void Add(ShipmentState shipment, long dueMs)
        {
            if (shipment.Manifest is not { } manifest)
            {
                return;
            }
            lock (_gate)
            {
                if (!_queued.Add(manifest.Id))
                {
                    return;
                }
                _due.Enqueue(manifest, dueMs);
            }
            _signal.Set();
        }

        /// <summary>Takes due shipments, paces, and sends up to <see cref="DispatchOptions.ManifestsInFlightMax"/>
        /// manifests at once (a carrier's answer and the durable record of it take milliseconds each; one at a
        /// time measured 150 manifests/s on loopback).</summary>
        public async Task RunAsync(CancellationToken stop)
        {
            using var slots = new SemaphoreSlim(_owner._options.ManifestsInFlightMax);
            var inFlight = new List<Task>();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var batch = await NextBatchAsync(stop).ConfigureAwait(false);
                    await PaceAsync(stop).ConfigureAwait(false);
                    await slots.WaitAsync(stop).ConfigureAwait(false);
                    inFlight.RemoveAll(t => t.IsCompleted);
                    inFlight.Add(Task.Run(async () =>
                    {
                        try
                        {
                            await SendAsync(batch, stop).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested)
                        {
                        }
                        catch (Exception)
                        {
                            // The store could not record the outcome (its journal failed): the manifest goes back in the queue.
                            var later = _owner._time.GetUtcNow().ToUnixTimeMilliseconds() + (long)_owner._options.FirstRetryDelay.TotalMilliseconds;
                            foreach (var shipment in batch.Shipments.Where(s => s.Delivery == DeliveryState.Pending).Take(1))
                            {
                                Add(shipment, later);
                            }
                        }
                        finally
                        {
                            slots.Release();
                        }
                    }, CancellationToken.None));
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
            }
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }

        /// <summary>Waits until a manifest with a pending shipment is due, then takes it (whole).</summary>
        private async Task<ShipmentManifest> NextBatchAsync(CancellationToken stop)
        {
            while (true)
            {
                TimeSpan wait;
                lock (_gate)
                {
                    var now = _owner._time.GetUtcNow().ToUnixTimeMilliseconds();
                    if (_due.TryPeek(out var next, out var dueMs) && dueMs <= now)
                    {
                        _due.Dequeue();
                        _queued.Remove(next.Id);
                        if (next.Shipments.Any(s => s.Delivery == DeliveryState.Pending))
                        {
                            return next;
                        }
                        continue;
                    }
                    wait = _due.Count == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(dueMs - now);
                }
                await _signal.WaitAsync(wait, stop).ConfigureAwait(false);
            }
        }

        /// <summary>At most <see cref="CarrierConfig.RateLimitPerSecond"/> webhooks per second.</summary>
        private async Task PaceAsync(CancellationToken stop)
        {
            var now = _owner._time.GetUtcNow().ToUnixTimeMilliseconds();
            var at = Math.Max(now, _nextSendMs);
            _nextSendMs = at + Math.Max(1, 1000 / _carrier.RateLimitPerSecond);
            if (at > now)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(at - now), _owner._time, stop).ConfigureAwait(false);
            }
        }

        private async Task SendAsync(ShipmentManifest manifest, CancellationToken stop)
        {
            using var span = FlowTelemetry.Source.StartActivity("carrier.dispatch", ActivityKind.Producer);
            span?.SetTag("surge.carrier", _carrier.Id);
            span?.SetTag("surge.shipments", manifest.Shipments.Count);
            var now = _owner._time.GetUtcNow();
            var id = manifest.Id;
            var body = Manifest(_carrier.Id, id, manifest.Shipments, now);
            var batch = manifest.Shipments.Where(s => s.Delivery == DeliveryState.Pending).ToList(); // what this send is for
            string failure;
            try
            {
                using var response = await _pipeline.ExecuteAsync(async token =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, _carrier.Endpoint) { Content = new ByteArrayContent(body) };
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue(CloudEvents.ContentType);
                    var timestamp = _owner._time.GetUtcNow().ToUnixTimeSeconds();
                    request.Headers.Add(StandardWebhooks.IdHeader, id);
                    request.Headers.Add(StandardWebhooks.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    request.Headers.Add(StandardWebhooks.SignatureHeader, StandardWebhooks.Sign(_key, id, timestamp, body));
                    return await _owner._http.SendAsync(request, token).ConfigureAwait(false);
                }, stop).ConfigureAwait(false);
                Interlocked.Increment(ref _sent);
                if (response.IsSuccessStatusCode)
                {
                    var accepted = await AcceptedAsync(response, stop).ConfigureAwait(false);
                    await RecordDispatchedAsync(batch, accepted, stop).ConfigureAwait(false);
                    return;
                }
                failure = $"http_{(int)response.StatusCode}";
                if ((int)response.StatusCode is >= 400 and < 500 and not 408 and not 429)
                {
                    await DeadLetterAsync(batch, failure).ConfigureAwait(false); // the carrier refuses it: retrying cannot help
                    return;
                }
            }
            catch (BrokenCircuitException)
            {
                var retryAt = _owner._time.GetUtcNow().ToUnixTimeMilliseconds() + (long)_owner._options.BreakerBreakDuration.TotalMilliseconds;
                foreach (var shipment in batch)
                {
                    Add(shipment, retryAt); // nothing was sent: not an attempt
                }
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                // Anything else the call or the answer can throw (refused connection, timeout, an answer that is not the
                // expected JSON) is a failed attempt: retried, never dropped from the queue.
                Interlocked.Increment(ref _sent);
                failure = e switch
                {
                    TimeoutRejectedException => "timeout",
                    HttpRequestException => "unreachable",
                    _ => "bad_answer",
                };
            }
            Interlocked.Increment(ref _failed);
            await RetryLaterAsync(batch, failure).ConfigureAwait(false);
        }

        private static async Task<Dictionary<string, string>> AcceptedAsync(HttpResponseMessage response, CancellationToken stop)
        {
            var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(stop).ConfigureAwait(false));
            var accepted = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in json?["accepted"]?.AsArray() ?? [])
            {
                if (item?["shipment_id"]?.GetValue<string>() is { } shipment && item["tracking_number"]?.GetValue<string>() is { Length: > 0 } tracking)
                {
                    accepted[shipment] = tracking;
                }
            }
            return accepted;
        }

        private async Task RecordDispatchedAsync(List<ShipmentState> batch, Dictionary<string, string> accepted, CancellationToken stop)
        {
            var now = _owner._time.GetUtcNow().ToUnixTimeMilliseconds();
            var done = batch.Where(s => accepted.ContainsKey(s.Id)).ToList();
            await _owner._store.AppendDispatchedAsync(done.Select(s => new DispatchRecord(s.Id, accepted[s.Id], now)).ToList()).ConfigureAwait(false);
            lock (_gate)
            {
                foreach (var s in done)
                {
                    _attempts.Remove(s.Id);
                }
            }
            if (done.Count > 0)
            {
                await _owner._onDispatched(done, stop).ConfigureAwait(false);
            }
            var missing = batch.Where(s => !accepted.ContainsKey(s.Id)).ToList();
            if (missing.Count > 0)
            {
                await RetryLaterAsync(missing, "not_accepted").ConfigureAwait(false);
            }
        }

        private async Task RetryLaterAsync(List<ShipmentState> batch, string failure)
        {
            var now = _owner._time.GetUtcNow().ToUnixTimeMilliseconds();
            var options = _owner._options;
            var dead = new List<ShipmentState>();
            foreach (var shipment in batch)
            {
                int attempts;
                lock (_gate)
                {
                    attempts = _attempts[shipment.Id] = _attempts.GetValueOrDefault(shipment.Id) + 1;
                }
                var delay = (long)options.Backoff(attempts).TotalMilliseconds;
                if (now + delay > shipment.Plan.PlannedAtMs + (long)options.RetryHorizon.TotalMilliseconds)
                {
                    dead.Add(shipment);
                }
                else
                {
                    Add(shipment, now + delay);
                }
            }
            await DeadLetterAsync(dead, failure).ConfigureAwait(false);
        }

        private async Task DeadLetterAsync(List<ShipmentState> shipments, string reason)
        {
            if (shipments.Count == 0)
            {
                return;
            }
            var now = _owner._time.GetUtcNow().ToUnixTimeMilliseconds();
            List<DeadLetterRecord> records;
            lock (_gate)
            {
                records = shipments.Select(s => new DeadLetterRecord(s.Id, reason, Math.Max(1, _attempts.GetValueOrDefault(s.Id)), now)).ToList();
                foreach (var s in shipments)
                {
                    _attempts.Remove(s.Id);
                }
            }
            await _owner._store.AppendDeadLettersAsync(records).ConfigureAwait(false);
        }

        public void Dispose() => _signal.Dispose();
    }
}
