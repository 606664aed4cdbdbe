using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Surge.Testing;

/// <summary>Running local programs for benchmarks and tests: Debian's postgresql and redis-server on loopback, in
/// temporary directories.</summary>
public static class LocalProcess
{
    /// <summary>Runs a program to completion (at most <see cref="CommandTimeout"/>); throws with its output when it fails.</summary>
    public static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {CommandTimeout.TotalSeconds} s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {error.Result}{output.Result}");
        }
        return output.Result;
    }

    /// <summary>How long a set-up command (initdb, pg_ctl start/stop) may take.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    /// <summary>A TCP port on loopback that is free right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Tries of <see cref="OnFreePortAsync"/> before a taken port is an error.</summary>
    public const int PortAttemptsMax = 3;

    /// <summary>Whether a program's output says the port it was given to listen on was taken.</summary>
    public static bool SaysPortTaken(string output) => output.Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    /// <summary>Starts something that listens on a port picked free (<see cref="FreePort"/>). The program binds it a
    /// moment after the pick, and an outgoing connection of another process may get it meanwhile as its local end (both
    /// come from the kernel's ephemeral range): a start that throws <see cref="PortTakenException"/> is tried again on
    /// another port, up to <see cref="PortAttemptsMax"/> times.</summary>
    public static async Task<(T Started, int Port)> OnFreePortAsync<T>(Func<int, Task<T>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            try
            {
                return (await start(port).ConfigureAwait(false), port);
            }
            catch (PortTakenException) when (attempt < PortAttemptsMax)
            {
                // Picked again.
            }
        }
    }

    /// <summary>The first existing path among <paramref name="candidates"/>, or an error naming the Debian package.</summary>
    public static string Find(string package, params string[] candidates) =>
        candidates.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{Path.GetFileName(candidates[0])} not found: install Debian's {package} (apt-get install -y {package})");

    public static bool IsRoot => Environment.UserName == "root";
}

/// <summary>A program could not bind the port it was given: another process took it after it was picked.</summary>
public sealed class PortTakenException(string message) : Exception(message);
