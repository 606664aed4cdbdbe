using System.Net.Sockets;
using Surge.Journal;

namespace Surge.Cli;

/// <summary>
/// Why <c>surge serve</c> could not start, as one line on stderr and an exit code per kind — what an operator or a
/// supervisor (systemd, Kubernetes) needs to tell a wrong flag from a full disk from a database that is down. The codes
/// are the README's table; a failure of a kind not listed here is exit 1 with its type and message (and its stack
/// trace with <c>--verbose</c>).
/// </summary>
public static class StartupFailure
{
    public const int Unexpected = 1;

    /// <summary>A bad flag or setting (<see cref="Output.ExitCodes.Usage"/>).</summary>
    public const int Usage = Output.ExitCodes.Usage;

    /// <summary>The HTTP address cannot be listened on: the port is taken, or the host is not an address of this machine.</summary>
    public const int Listen = 3;

    /// <summary>The data directory cannot be created, read or written.</summary>
    public const int DataDirectory = 4;

    /// <summary>A journal or snapshot is damaged somewhere other than its torn tail (the line names the file and offset).</summary>
    public const int CorruptJournal = 5;

    /// <summary>PostgreSQL or Redis does not answer.</summary>
    public const int Dependency = 6;

    /// <summary>The exit code and the one line for <paramref name="failure"/>.</summary>
    public static (int Code, string Line) Classify(Exception failure, string host, int port, string dataDirectory)
    {
        foreach (var e in Causes(failure))
        {
            switch (e)
            {
                case JournalCorruptException corrupt:
                    return (CorruptJournal, $"{corrupt.Message} (restore the partition from a replica or backup; the file is left as it is)");
                case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }:
                case Microsoft.AspNetCore.Connections.AddressInUseException:
                    return (Listen, $"cannot listen on {host}:{port}: the address is in use (another server on that port? choose another with --port)");
                case SocketException { SocketErrorCode: SocketError.AddressNotAvailable }:
                    return (Listen, $"cannot listen on {host}:{port}: {host} is not an address of this machine (--host)");
                case SocketException { SocketErrorCode: SocketError.AccessDenied }:
                    return (Listen, $"cannot listen on {host}:{port}: permission denied (ports below 1024 need privileges)");
                case UnauthorizedAccessException or DirectoryNotFoundException:
                case IOException when IsUnder(e.Message, dataDirectory):
                    return (DataDirectory, $"the data directory {dataDirectory} cannot be used: {e.Message}");
                case Npgsql.NpgsqlException or Npgsql.PostgresException:
                    return (Dependency, $"PostgreSQL: {e.Message}");
                case StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException:
                    return (Dependency, $"Redis: {FirstLine(e.Message)}");
                case ArgumentException or FormatException:
                    return (Usage, e.Message);
            }
            // Across a grain call an exception of a type the silo does not serialize arrives as a fallback with the
            // original's message.
            if (e.Message.StartsWith("journal corrupt in ", StringComparison.Ordinal))
            {
                return (CorruptJournal, e.Message);
            }
        }
        return (Unexpected, $"{failure.GetType().Name}: {FirstLine(failure.Message)}");
    }

    private static IEnumerable<Exception> Causes(Exception failure)
    {
        var pending = new Stack<Exception>([failure]);
        while (pending.TryPop(out var e))
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.Reverse())
                {
                    pending.Push(inner);
                }
            }
            else if (e.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }

    private static bool IsUnder(string message, string directory) => message.Contains(directory, StringComparison.Ordinal);

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
