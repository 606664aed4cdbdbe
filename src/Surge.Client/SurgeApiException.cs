namespace Surge.Client;

/// <summary>
/// An answer of the API that is not a success, read from its RFC 9457 problem+json body: the HTTP status, the stable
/// <see cref="Code"/> (<c>insufficient_stock</c>, <c>partition_overloaded</c>, …) and, for overload answers, how long
/// the server asked the caller to wait before retrying.
/// </summary>
public sealed class SurgeApiException(int status, string code, string detail, TimeSpan? retryAfter = null, string? body = null)
    : Exception($"{status} {code}: {detail}")
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string Detail { get; } = detail;
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The answer's body as it came (problem+json, or whatever a proxy in between sent).</summary>
    public string? Body { get; } = body;

    /// <summary>Overload and transient answers (429, 503): the same request may succeed after <see cref="RetryAfter"/>.</summary>
    public bool IsRetryable => Status is 429 or 503;
}
