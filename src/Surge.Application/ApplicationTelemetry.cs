using System.Diagnostics;

namespace Surge.Application;

/// <summary>The application layer's spans (ActivitySource <see cref="SourceName"/>): one per saga — placing, paying,
/// cancelling an order, placing a batch — with the order it concerns; the partitions' batches are their children.</summary>
public static class ApplicationTelemetry
{
    public const string SourceName = "Surge.Application";

    internal static readonly ActivitySource Source = new(SourceName);

    internal static Activity? Start(string name, long parent = 0)
    {
        var span = Source.StartActivity(name);
        if (span is not null && parent != 0)
        {
            span.SetTag("surge.order", Ids.Order(parent));
        }
        return span;
    }
}
