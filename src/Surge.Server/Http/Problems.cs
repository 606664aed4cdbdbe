using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Surge.Server;

/// <summary>An answer that is a problem: thrown by handlers, written as RFC 9457 problem+json by
/// <see cref="Problems.Middleware"/>.</summary>
public sealed class ApiProblemException(int status, string code, string detail, TimeSpan? retryAfter = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>An application problem as the HTTP answer (overload answers carry a Retry-After).</summary>
    public static ApiProblemException Of(Problem problem) =>
        new(Problems.StatusOf(problem.Kind), problem.Code, problem.Detail, problem.Kind is Refusal.Busy or Refusal.Unavailable ? Problems.OverloadRetryAfter : null);

    /// <summary>Answers with <paramref name="problem"/> when there is one.</summary>
    public static void ThrowIf(Problem? problem)
    {
        if (problem is { } refused)
        {
            throw Of(refused);
        }
    }
}

public static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>Retry-After for overload answers: short, since queues drain in milliseconds.</summary>
    public static readonly TimeSpan OverloadRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>The one place where the application's refusals become HTTP statuses.</summary>
    public static int StatusOf(Refusal kind) => kind switch
    {
        Refusal.Invalid => 422,
        Refusal.NotFound => 404,
        Refusal.Conflict => 409,
        Refusal.Busy => 429,
        Refusal.Unavailable => 503,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown refusal"),
    };

    public static ProblemBody Body(Problem problem) => Body(StatusOf(problem.Kind), problem.Code, problem.Detail);

    public static ProblemBody Body(int status, string code, string detail) =>
        new("/problems/" + code, Title(status), status, detail, code);

    public static string Title(int status) => status switch
    {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Request body too large",
        415 => "Unsupported media type",
        422 => "Unprocessable request",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => "Error",
    };

    public static void Write(Utf8JsonWriter json, ProblemBody problem, string? instance = null)
    {
        json.WriteStartObject();
        json.WriteString("type"u8, problem.Type);
        json.WriteString("title"u8, problem.Title);
        json.WriteNumber("status"u8, problem.Status);
        json.WriteString("detail"u8, problem.Detail);
        json.WriteString("code"u8, problem.Code);
        if (instance is not null)
        {
            json.WriteString("instance"u8, instance);
        }
        // The trace this answer belongs to (when tracing is on): what an operator looks up in the traces and logs.
        if (System.Diagnostics.Activity.Current is { } activity)
        {
            json.WriteString("trace_id"u8, activity.TraceId.ToHexString());
        }
        json.WriteEndObject();
    }

    public static async Task WriteAsync(HttpContext context, int status, string code, string detail, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }
        response.Clear();
        response.StatusCode = status;
        response.ContentType = ContentType;
        if (retryAfter is { } wait)
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            Write(json, Body(status, code, detail), context.Request.Path.Value);
        }
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>Retry-After of a 503 when a partition did not answer (a failover takes about a second).</summary>
    public static readonly TimeSpan UnavailableRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>Failures of a partition elsewhere in the cluster or of its journal: a grain call that timed out, a silo
    /// that left, a journal fenced or failed, a partition still opening or leaving. Not bugs of the request: answered
    /// 503. Surge's own exceptions cross from a grain on another silo as themselves (<see cref="SurgeServer.ConfigureGrainExceptions"/>).</summary>
    public static bool IsUnavailable(Exception e) => e is TimeoutException or Orleans.Runtime.SiloUnavailableException
        or Orleans.Runtime.OrleansMessageRejectionException or Surge.Journal.JournalException or PartitionUnavailableException;

    /// <summary>Turns every failure into problem+json: the API's own problems, broken JSON (400), valid JSON
    /// of the wrong shape (422), Kestrel's bad requests (e.g. 413), overload (429/503 with Retry-After).
    /// Anything else is a bug: logged, and answered 500 without details.</summary>
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
            if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && context.Response.ContentLength is null or 0
                && context.Response.ContentType is null)
            {
                var status = context.Response.StatusCode;
                await WriteAsync(context, status, status switch { 404 => "not_found", 405 => "method_not_allowed", 415 => "unsupported_media_type", _ => "error" },
                    status switch
                    {
                        404 => $"no route {context.Request.Path}",
                        405 => $"{context.Request.Method} is not allowed on {context.Request.Path}",
                        415 => "send the body as application/json",
                        _ => Title(status),
                    });
            }
        }
        catch (ApiProblemException e)
        {
            await WriteAsync(context, e.Status, e.Code, e.Message, e.RetryAfter);
        }
        catch (AdmissionException e)
        {
            await WriteAsync(context, StatusOf(e.Kind), e.Code, e.Message, OverloadRetryAfter);
        }
        catch (RequestShapeException e)
        {
            await WriteAsync(context, 422, "invalid_request", e.Message);
        }
        catch (JsonException e)
        {
            await WriteAsync(context, 400, "malformed_json", e.Message);
        }
        catch (BadHttpRequestException e)
        {
            await WriteAsync(context, e.StatusCode, e.StatusCode == 413 ? "body_too_large" : "bad_request", e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e) when (IsUnavailable(e))
        {
            // A partition that is moving or whose silo just died: the same request a moment later finds it again.
            await WriteAsync(context, 503, "partition_unavailable", $"a partition did not answer in time ({e.GetType().Name}); retry", UnavailableRetryAfter);
        }
        catch (Exception e)
        {
            context.RequestServices.GetService<Microsoft.Extensions.Logging.ILoggerFactory>()?.CreateLogger("Surge.Server")
                .LogError(e, "unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
            await WriteAsync(context, 500, "internal_error", "an internal error occurred; it has been logged");
        }
    }
}
