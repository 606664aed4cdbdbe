using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Surge.Flow;

/// <summary>Why a signed webhook was refused (or <see cref="Valid"/>).</summary>
public enum WebhookVerdict
{
    Valid,
    MissingHeaders,
    BadTimestamp,
    TimestampOutOfTolerance,
    BadSignature,
    Replayed,
}

/// <summary>
/// Signing and verifying by the Standard Webhooks spec: the signed content is <c>{webhook-id}.{webhook-timestamp}.{body}</c>,
/// the signature HMAC-SHA256 under the secret's key, sent as <c>webhook-signature: v1,{base64}</c> (several
/// space-separated signatures are allowed, one valid is enough), and a timestamp more than
/// <see cref="Tolerance"/> away from the receiver's clock is refused.
/// </summary>
public static class StandardWebhooks
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>Largest accepted difference between the sender's timestamp and the receiver's clock.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    public static string Sign(byte[] key, string id, long timestampSeconds, ReadOnlySpan<byte> body)
    {
        Span<byte> mac = stackalloc byte[32];
        Mac(key, id, timestampSeconds.ToString(CultureInfo.InvariantCulture), body, mac);
        return "v1," + Convert.ToBase64String(mac);
    }

    /// <summary>Checks headers, timestamp and signature (not replays: see <see cref="ReplayGuard"/>).</summary>
    public static WebhookVerdict Verify(byte[] key, string? id, string? timestamp, string? signatures, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures))
        {
            return WebhookVerdict.MissingHeaders;
        }
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return WebhookVerdict.BadTimestamp;
        }
        if (Math.Abs(now.ToUnixTimeSeconds() - seconds) > Tolerance.TotalSeconds)
        {
            return WebhookVerdict.TimestampOutOfTolerance;
        }
        Span<byte> expected = stackalloc byte[32];
        Mac(key, id, timestamp, body, expected);
        Span<byte> given = stackalloc byte[64];
        foreach (var part in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.StartsWith("v1,", StringComparison.Ordinal)
                && Convert.TryFromBase64String(part[3..], given, out var length) && length == 32
                && CryptographicOperations.FixedTimeEquals(given[..32], expected))
            {
                return WebhookVerdict.Valid;
            }
        }
        return WebhookVerdict.BadSignature;
    }

    private static void Mac(byte[] key, string id, string timestamp, ReadOnlySpan<byte> body, Span<byte> mac)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var content = ArrayPool<byte>.Shared.Rent(prefix.Length + body.Length);
        try
        {
            prefix.CopyTo(content, 0);
            body.CopyTo(content.AsSpan(prefix.Length));
            HMACSHA256.HashData(key, content.AsSpan(0, prefix.Length + body.Length), mac);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(content);
        }
    }

    public static string VerdictCode(WebhookVerdict verdict) => verdict switch
    {
        WebhookVerdict.MissingHeaders => "missing_webhook_headers",
        WebhookVerdict.BadTimestamp => "bad_webhook_timestamp",
        WebhookVerdict.TimestampOutOfTolerance => "webhook_timestamp_out_of_tolerance",
        WebhookVerdict.BadSignature => "bad_webhook_signature",
        WebhookVerdict.Replayed => "webhook_replayed",
        _ => "valid",
    };
}

/// <summary>What <see cref="ReplayGuard.Begin"/> says of a webhook id.</summary>
public enum ReplayVerdict
{
    /// <summary>Not seen before: take it (and <see cref="ReplayGuard.Complete"/> or <see cref="ReplayGuard.Release"/> it).</summary>
    First,

    /// <summary>A request with this id is still being handled: the sender should try again shortly (its outcome is not known).</summary>
    InProgress,

    /// <summary>Handled before: a replay.</summary>
    Replayed,
}

/// <summary>
/// Remembers the webhook ids seen within twice the timestamp tolerance, so a captured request cannot be played
/// again: an older one fails the timestamp check, a newer one is found here. An id whose first request is still
/// being handled is told apart from one handled before: a sender that retried because its first request timed out
/// must not be told "seen before" while that request may still fail (found by `bench chaos`: a tracking event lost so,
/// its shipment stuck in transit). Bounded by <paramref name="entriesMax"/> ids (oldest forgotten first).
/// </summary>
public sealed class ReplayGuard(int entriesMax = 1_000_000)
{
    private readonly Dictionary<string, (long AtMs, bool Done)> _seen = new(StringComparer.Ordinal);
    private readonly Queue<(string Id, long AtMs)> _order = new();
    private readonly Lock _gate = new();

    /// <summary>Records a first request of <paramref name="id"/>, or says why it is not one.</summary>
    public ReplayVerdict Begin(string id, DateTimeOffset now)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var horizon = nowMs - (long)(2 * StandardWebhooks.Tolerance.TotalMilliseconds);
        lock (_gate)
        {
            while (_order.Count > 0 && _order.Peek().AtMs < horizon)
            {
                Forget();
            }
            if (_seen.TryGetValue(id, out var seen))
            {
                return seen.Done ? ReplayVerdict.Replayed : ReplayVerdict.InProgress;
            }
            while (_order.Count >= entriesMax)
            {
                Forget();
            }
            _seen[id] = (nowMs, false);
            _order.Enqueue((id, nowMs));
            return ReplayVerdict.First;
        }
    }

    /// <summary>The request of <paramref name="id"/> was handled: from now on a repeat is a replay.</summary>
    public void Complete(string id)
    {
        lock (_gate)
        {
            if (_seen.TryGetValue(id, out var seen))
            {
                _seen[id] = seen with { Done = true };
            }
        }
    }

    /// <summary>Forgets an id whose request failed after it was recorded, so the sender's retry of it is taken.</summary>
    public void Release(string id)
    {
        lock (_gate)
        {
            _seen.Remove(id);
        }
    }

    private void Forget()
    {
        var (old, at) = _order.Dequeue();
        if (_seen.TryGetValue(old, out var recorded) && recorded.AtMs == at)
        {
            _seen.Remove(old);
        }
    }
}

/// <summary>The CloudEvents 1.0 JSON envelope (structured mode) Surge sends and accepts.</summary>
public static class CloudEvents
{
    public const string ContentType = "application/cloudevents+json";

    public static byte[] Write(string type, string source, string id, DateTimeOffset time, string? subject, Action<Utf8JsonWriter> writeData)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("specversion"u8, "1.0");
            json.WriteString("type"u8, type);
            json.WriteString("source"u8, source);
            json.WriteString("id"u8, id);
            json.WriteString("time"u8, time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            if (subject is not null)
            {
                json.WriteString("subject"u8, subject);
            }
            json.WriteString("datacontenttype"u8, "application/json");
            json.WritePropertyName("data"u8);
            writeData(json);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
