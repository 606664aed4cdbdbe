using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Surge.Core;
using Surge.Journal;

namespace Surge.Flow;

/// <summary>One webhook to one subscriber. <see cref="Id"/> is derived from the fact and the subscription, so the
/// same fact seen again (a stage repeating records after a restart) makes the same notification.</summary>
public sealed record Notification(string Id, long SubscriptionId, string Type, long OrderId, long AtMs, string Body);

/// <summary>Where a subscription's notifications go: a URL (signed webhook with <see cref="Key"/>) or an e-mail
/// address (a message from the templates in <see cref="Language"/>).</summary>
public sealed record NotificationTarget(string? Url, byte[]? Key, string? Email, string Language);

/// <summary>Sends one e-mail (the server's SMTP client).</summary>
public interface IEmailSender
{
    Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken);
}

/// <summary>Where the SMTP server is: host, port, sender address, STARTTLS when offered, optional login.</summary>
public sealed record SmtpOptions(string Host, int Port, string From, string? User = null, string? Password = null);

/// <summary>E-mail through SMTP with MailKit: one connection per message (merchant updates are few).</summary>
public sealed class SmtpEmailSender(SmtpOptions options) : IEmailSender
{
    public async Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken)
    {
        var message = new MimeKit.MimeMessage();
        message.From.Add(MimeKit.MailboxAddress.Parse(options.From));
        message.To.Add(MimeKit.MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new MimeKit.TextPart("plain") { Text = body };
        using var client = new MailKit.Net.Smtp.SmtpClient();
        await client.ConnectAsync(options.Host, options.Port, MailKit.Security.SecureSocketOptions.StartTlsWhenAvailable, cancellationToken).ConfigureAwait(false);
        if (options.User is not null)
        {
            await client.AuthenticateAsync(options.User, options.Password ?? "", cancellationToken).ConfigureAwait(false);
        }
        await client.SendAsync(message, cancellationToken).ConfigureAwait(false);
        await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Where a notification stands.</summary>
public enum NotificationState
{
    Pending,
    Delivered,
    DeadLetter,
}

/// <summary>The event types a subscription can ask for, and how order facts map onto them.</summary>
public static class OrderEventTypes
{
    public static readonly IReadOnlyList<string> All =
    [
        "order.placed", "order.paid", "order.cancelled", "order.allocated", "order.dispatched", "order.in_transit",
        "order.out_for_delivery", "order.delivered", "order.exception", "order.returned",
    ];

    public static string Of(OrderFact fact) => fact.Kind switch
    {
        FactKind.Placed => "order.placed",
        FactKind.Paid => "order.paid",
        FactKind.Cancelled => "order.cancelled",
        _ => "order." + fact.Status.ToCode(),
    };

    /// <summary>The CloudEvent of a fact (type <c>com.surge.order.*</c>). <paramref name="orderId"/> and
    /// <paramref name="sellerOrderId"/> are the API's ids.</summary>
    public static string Body(OrderFact fact, string id, string orderId, string sellerOrderId, string sellerId) =>
        Encoding.UTF8.GetString(CloudEvents.Write("com.surge." + Of(fact), "/surge/orders", id, DateTimeOffset.FromUnixTimeMilliseconds(fact.AtMs),
            sellerOrderId, json =>
            {
                json.WriteStartObject();
                json.WriteString("order_id"u8, orderId);
                json.WriteString("seller_order_id"u8, sellerOrderId);
                json.WriteString("seller_id"u8, sellerId);
                json.WriteString("status"u8, fact.Status.ToCode());
                if (fact.CancelReason != CancelReason.None)
                {
                    json.WriteString("cancel_reason"u8, fact.CancelReason.ToString().ToLowerInvariant());
                }
                json.WriteString("occurred_at"u8, DateTimeOffset.FromUnixTimeMilliseconds(fact.AtMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
                json.WriteEndObject();
            }));
}

/// <summary>
/// The durable outbox of subscriber webhooks: a journal of JSON records (queued, delivered, dead-lettered,
/// redriven) and the index rebuilt from it at open. A notification is queued (durably) before the stage that
/// made it moves its checkpoint, so none is lost; ids repeat only for the same fact. Thread-safe.
/// </summary>
public sealed class NotificationOutbox : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record OutboxRecord(string Kind, List<Notification>? Queued = null, List<string>? Ids = null, string? Reason = null);

    private readonly IJournal _journal;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Notification Notification, NotificationState State, string? Reason)> _byId = new(StringComparer.Ordinal);

    private NotificationOutbox(IJournal journal) => _journal = journal;

    public static NotificationOutbox Open(IJournalStorage storage, JournalOptions? options = null) => Open(SegmentJournal.Open(storage, options));

    /// <summary>Opens the notificationoutbox over <paramref name="journal"/> (it owns it from now on) and rebuilds its index from every record.</summary>
    public static NotificationOutbox Open(IJournal journal)
    {
        var outbox = new NotificationOutbox(journal);
        outbox._journal.Replay(0, (_, payload) => outbox.Apply(
            JsonSerializer.Deserialize<OutboxRecord>(payload, Json) ?? throw new InvalidDataException("an outbox record is not a JSON object")));
        return outbox;
    }

    /// <summary>Queues notifications durably; returns the ones not queued before.</summary>
    public async Task<IReadOnlyList<Notification>> QueueAsync(IReadOnlyList<Notification> notifications)
    {
        List<Notification> fresh;
        lock (_gate)
        {
            fresh = notifications.Where(n => !_byId.ContainsKey(n.Id)).DistinctBy(n => n.Id).ToList();
        }
        if (fresh.Count > 0)
        {
            await AppendAsync(new OutboxRecord("queued", Queued: fresh)).ConfigureAwait(false);
        }
        return fresh;
    }

    public Task DeliveredAsync(IReadOnlyList<string> ids) => ids.Count == 0 ? Task.CompletedTask : AppendAsync(new OutboxRecord("delivered", Ids: ids.ToList()));

    public Task DeadLetterAsync(IReadOnlyList<string> ids, string reason) =>
        ids.Count == 0 ? Task.CompletedTask : AppendAsync(new OutboxRecord("dead_letter", Ids: ids.ToList(), Reason: reason));

    public Task RedriveAsync(IReadOnlyList<string> ids) => ids.Count == 0 ? Task.CompletedTask : AppendAsync(new OutboxRecord("redriven", Ids: ids.ToList()));

    /// <summary>Notifications in <paramref name="state"/>, oldest first (queue order), optionally of one subscription.</summary>
    public List<(Notification Notification, string? Reason)> InState(NotificationState state, long? subscription = null)
    {
        lock (_gate)
        {
            return _byId.Values.Where(v => v.State == state && (subscription is null || v.Notification.SubscriptionId == subscription))
                .Select(v => (v.Notification, v.Reason)).ToList();
        }
    }

    /// <summary>One subscription's notifications, newest first, at most <paramref name="limit"/> (a dead letter with its reason).</summary>
    public List<(Notification Notification, NotificationState State, string? Reason)> Recent(long subscription, int limit)
    {
        lock (_gate)
        {
            return _byId.Values.Where(v => v.Notification.SubscriptionId == subscription).OrderByDescending(v => v.Notification.AtMs)
                .ThenByDescending(v => v.Notification.Id, StringComparer.Ordinal).Take(limit).Select(v => (v.Notification, v.State, v.Reason)).ToList();
        }
    }

    /// <summary>Counts by state for one subscription.</summary>
    public (int Pending, int Delivered, int DeadLetters) Counts(long subscription)
    {
        lock (_gate)
        {
            var mine = _byId.Values.Where(v => v.Notification.SubscriptionId == subscription).ToList();
            return (mine.Count(v => v.State == NotificationState.Pending), mine.Count(v => v.State == NotificationState.Delivered),
                mine.Count(v => v.State == NotificationState.DeadLetter));
        }
    }

    private async Task AppendAsync(OutboxRecord record)
    {
        await _journal.Append(JsonSerializer.SerializeToUtf8Bytes(record, Json)).Durable.ConfigureAwait(false);
        Apply(record);
    }

    private void Apply(OutboxRecord record)
    {
        lock (_gate)
        {
            foreach (var n in record.Queued ?? [])
            {
                _byId.TryAdd(n.Id, (n, NotificationState.Pending, null));
            }
            var target = record.Kind switch
            {
                "delivered" => NotificationState.Delivered,
                "dead_letter" => NotificationState.DeadLetter,
                _ => NotificationState.Pending,
            };
            foreach (var id in record.Ids ?? [])
            {
                if (_byId.TryGetValue(id, out var entry) && entry.State != NotificationState.Delivered)
                {
                    _byId[id] = (entry.Notification, target, record.Reason);
                }
            }
        }
    }

    public ValueTask DisposeAsync() => _journal.DisposeAsync();
}

/// <summary>
/// Sends queued notifications to their subscribers, signed (Standard Webhooks) with each subscription's secret:
/// one at a time per subscription and seller order, in queue order (so a subscriber sees each order's events in the
/// order they happened), up to <see cref="NotificationsInFlightMax"/> at once. A failure is retried with exponential backoff
/// and jitter (<see cref="DispatchOptions"/>) until the retry horizon after the event, then dead-lettered (the
/// next one goes on); a subscription deleted meanwhile drops its notifications.
/// </summary>
public sealed class NotificationDispatcher : IAsyncDisposable
{
    public const int NotificationsInFlightMax = 16;

    private readonly NotificationOutbox _outbox;
    private readonly HttpClient _http;
    private readonly Func<long, NotificationTarget?> _subscription;
    private readonly IEmailSender? _email;
    private readonly DispatchOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    // One lane per subscription and seller order: a seller order's events reach a subscriber in the order they
    // happened, while different orders' events go out side by side (a retry waits only for its own order's).
    // A lane is removed once empty.
    private readonly Dictionary<(long Subscription, long Order), Lane> _lanes = [];
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private readonly WakeSignal _signal;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private bool _disposed;

    private sealed class Lane
    {
        public readonly Queue<Notification> Queue = new();
        public long DueMs;
        public int Attempts;
        public bool InFlight;
    }

    public NotificationDispatcher(NotificationOutbox outbox, HttpClient http, Func<long, NotificationTarget?> subscription, IEmailSender? email = null,
        DispatchOptions? options = null, TimeProvider? time = null)
    {
        _outbox = outbox;
        _http = http;
        _subscription = subscription;
        _email = email;
        _options = options ?? new DispatchOptions();
        _time = time ?? TimeProvider.System;
        _signal = new WakeSignal(_time);
    }

    public void Enqueue(IEnumerable<Notification> notifications)
    {
        lock (_gate)
        {
            foreach (var n in notifications.Where(n => _known.Add(n.Id)))
            {
                if (!_lanes.TryGetValue((n.SubscriptionId, n.OrderId), out var lane))
                {
                    _lanes[(n.SubscriptionId, n.OrderId)] = lane = new Lane();
                }
                lane.Queue.Enqueue(n);
            }
        }
        _signal.Set();
    }

    /// <summary>Queues every pending notification of the outbox (in queue order) and starts sending.</summary>
    public void Start()
    {
        Enqueue(_outbox.InState(NotificationState.Pending).Select(p => p.Notification));
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Moves dead-lettered notifications of a subscription back to pending and sends them again.</summary>
    public async Task<int> RedriveAsync(long subscription)
    {
        var dead = _outbox.InState(NotificationState.DeadLetter, subscription).Select(d => d.Notification).ToList();
        await _outbox.RedriveAsync(dead.Select(d => d.Id).ToList()).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var d in dead)
            {
                _known.Remove(d.Id);
            }
        }
        Enqueue(dead);
        return dead.Count;
    }

    private async Task RunAsync(CancellationToken stop)
    {
        using var slots = new SemaphoreSlim(NotificationsInFlightMax);
        var running = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                List<(long Subscription, Lane Lane, Notification Head)> due;
                TimeSpan wait;
                lock (_gate)
                {
                    var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                    due = _lanes.Where(l => !l.Value.InFlight && l.Value.Queue.Count > 0 && l.Value.DueMs <= now)
                        .Take(slots.CurrentCount).Select(l => (l.Key.Subscription, l.Value, l.Value.Queue.Peek())).ToList();
                    foreach (var (_, lane, _) in due)
                    {
                        lane.InFlight = true;
                    }
                    var waiting = _lanes.Values.Where(l => !l.InFlight && l.Queue.Count > 0).Select(l => l.DueMs).DefaultIfEmpty(long.MaxValue).Min();
                    wait = due.Count > 0 ? TimeSpan.Zero : waiting == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Max(1, waiting - now));
                }
                foreach (var (subscription, lane, head) in due)
                {
                    await slots.WaitAsync(stop).ConfigureAwait(false);
                    running.RemoveAll(t => t.IsCompleted);
                    running.Add(Task.Run(async () =>
                    {
                        try
                        {
                            await DeliverAsync(subscription, lane, head, stop).ConfigureAwait(false);
                        }
                        catch (Exception) when (!stop.IsCancellationRequested)
                        {
                            // The outbox could not record the outcome (its journal failed): try this one again later.
                            lock (_gate)
                            {
                                lane.InFlight = false;
                                lane.DueMs = _time.GetUtcNow().ToUnixTimeMilliseconds() + (long)_options.FirstRetryDelay.TotalMilliseconds;
                            }
                        }
                        finally
                        {
                            slots.Release();
                            _signal.Set();
                        }
                    }, CancellationToken.None));
                }
                if (due.Count == 0)
                {
                    await _signal.WaitAsync(wait, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
        }
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task DeliverAsync(long subscription, Lane lane, Notification head, CancellationToken stop)
    {
        using var span = FlowTelemetry.Source.StartActivity("notification.deliver", ActivityKind.Producer);
        span?.SetTag("surge.webhook", subscription);
        string? failure = null;
        if (_subscription(subscription) is not { } target)
        {
            failure = "subscription_deleted";
        }
        else
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                timeout.CancelAfter(_options.RequestTimeout);
                failure = target.Email is { } to
                    ? await EmailAsync(to, target.Language, head, timeout.Token).ConfigureAwait(false)
                    : await PostAsync(target, head, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                // Any failure of the call (refused connection, timeout, an SMTP server that says no) is retried later;
                // the lane never stays stuck on an exception.
                failure = e switch
                {
                    OperationCanceledException => "timeout",
                    HttpRequestException => "unreachable",
                    _ when target.Email is not null => "smtp_failed",
                    _ => "failed",
                };
            }
        }
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (failure is null)
        {
            await _outbox.DeliveredAsync([head.Id]).ConfigureAwait(false);
        }
        else if (IsPermanent(failure) || now > head.AtMs + (long)_options.RetryHorizon.TotalMilliseconds)
        {
            await _outbox.DeadLetterAsync([head.Id], failure).ConfigureAwait(false);
        }
        lock (_gate)
        {
            lane.InFlight = false;
            if (failure is null || IsPermanent(failure) || now > head.AtMs + (long)_options.RetryHorizon.TotalMilliseconds)
            {
                lane.Queue.Dequeue();
                lane.Attempts = 0;
                lane.DueMs = 0;
                if (lane.Queue.Count == 0)
                {
                    _lanes.Remove((subscription, head.OrderId));
                }
            }
            else
            {
                lane.Attempts++;
                lane.DueMs = now + (long)_options.Backoff(lane.Attempts).TotalMilliseconds;
            }
        }
    }

    /// <summary>Failures that trying again cannot fix: dead-lettered at once.</summary>
    private static bool IsPermanent(string failure) => failure is "subscription_deleted" or "smtp_not_configured";

    private async Task<string?> PostAsync(NotificationTarget target, Notification head, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(head.Body);
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(CloudEvents.ContentType);
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        request.Headers.Add(StandardWebhooks.IdHeader, head.Id);
        request.Headers.Add(StandardWebhooks.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(StandardWebhooks.SignatureHeader, StandardWebhooks.Sign(target.Key!, head.Id, timestamp, body));
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode ? null : $"http_{(int)response.StatusCode}";
    }

    /// <summary>The event as a short message from the templates: subject "Order ord_…: Delivered", the same line
    /// and the ids and time in the body.</summary>
    private async Task<string?> EmailAsync(string to, string language, Notification head, CancellationToken cancellationToken)
    {
        if (_email is null)
        {
            return "smtp_not_configured";
        }
        var data = System.Text.Json.Nodes.JsonNode.Parse(head.Body)!["data"]!;
        var status = Enum.GetValues<OrderStatus>().FirstOrDefault(s => s.ToCode() == data["status"]!.GetValue<string>());
        var message = Messages.Render(language, Messages.KeyOf(status));
        var orderId = data["order_id"]!.GetValue<string>();
        var subject = Messages.Render(language, "email.subject", new Dictionary<string, string?> { ["order_id"] = orderId, ["message"] = message });
        var body = $"{message}\n\norder: {orderId}\nseller order: {data["seller_order_id"]}\ntime: {data["occurred_at"]}\nevent: {head.Id}\n";
        await _email.SendAsync(to, subject, body, cancellationToken).ConfigureAwait(false);
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _signal.Dispose();
        _stop.Dispose();
    }
}
