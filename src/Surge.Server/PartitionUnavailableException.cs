namespace Surge.Server;

/// <summary>A partition is active on this silo but cannot serve the call yet or any longer: its downstream is still
/// opening, or the partition is leaving (moving to another silo, or the silo stopping). The same call a moment later
/// finds it open, here or where it moved: answered 503 with Retry-After, never 500.</summary>
public sealed class PartitionUnavailableException(string message) : Exception(message);
