using System.Diagnostics;

namespace Surge.Runtime;

/// <summary>
/// The runner's spans (ActivitySource <see cref="SourceName"/>): one per batch, from the moment it goes to its partition
/// until it is durable. Its parent is the first caller's span and it links the others, so every request whose command
/// rode in the batch reaches it from its own trace. Nothing is created unless a listener (OpenTelemetry) samples it.
/// </summary>
public static class RunnerTelemetry
{
    public const string SourceName = "Surge.Runtime";

    /// <summary>Most callers a batch's span links (a batch can carry thousands of commands).</summary>
    public const int LinksMax = 64;

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>Whether anyone listens (checked before anything is allocated for a span).</summary>
    internal static bool Enabled => Source.HasListeners();

    internal static Activity? StartBatch(IEnumerable<ActivityContext> callers, int commands)
    {
        var traced = callers.Where(c => c != default).Distinct().Take(LinksMax + 1).ToList();
        var span = Source.StartActivity("partition.batch", ActivityKind.Internal, traced.Count > 0 ? traced[0] : default,
            links: traced.Skip(1).Select(c => new ActivityLink(c)));
        span?.SetTag("surge.batch.commands", commands);
        return span;
    }

    internal static void End(Activity? span, Exception? failure)
    {
        if (span is null)
        {
            return;
        }
        if (failure is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, failure.Message);
        }
        span.Dispose();
    }
}
