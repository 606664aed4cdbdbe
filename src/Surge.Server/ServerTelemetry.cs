using System.Diagnostics;

namespace Surge.Server;

/// <summary>The server's own spans (ActivitySource <see cref="SourceName"/>): a partition applying a batch, and the wait
/// for its journal commit — children of the runner's batch span through Orleans' activity propagation.</summary>
public static class ServerTelemetry
{
    public const string SourceName = "Surge.Server";

    internal static readonly ActivitySource Source = new(SourceName);
}
