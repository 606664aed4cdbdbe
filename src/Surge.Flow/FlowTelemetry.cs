using System.Diagnostics;

namespace Surge.Flow;

/// <summary>The downstream's spans (ActivitySource <see cref="SourceName"/>): a fulfillment step over journal records, a
/// manifest sent to a carrier, a notification delivered. They run on the stages' own loops, after the orders' requests
/// have been answered, so each is a trace of its own, tagged with what it carried; the HTTP calls they make are their
/// children.</summary>
public static class FlowTelemetry
{
    public const string SourceName = "Surge.Flow";

    internal static readonly ActivitySource Source = new(SourceName);
}
