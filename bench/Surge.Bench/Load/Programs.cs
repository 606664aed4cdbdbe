using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Surge.Bench.Load;

/// <summary>How the benches start the programs they measure as child processes: the `surge` CLI (silos) and the
/// carrier simulator, whose assemblies are copied next to this one, run by the same .NET host.</summary>
internal static class Programs
{
    /// <summary>`surge` (e.g. <c>serve</c> for a silo).</summary>
    public static (string Executable, string[] Prefix) Surge() => Dotnet(typeof(Output).Assembly);

    /// <summary>`surge-carrier-sim`.</summary>
    public static (string Executable, string[] Prefix) CarrierSim() => Dotnet(typeof(CarrierSim.CarrierSimCommand).Assembly);

    /// <summary>Starts of <see cref="StartCarrierSimAsync"/> before a taken port is an error.</summary>
    private const int PortAttemptsMax = 3;

    /// <summary>Starts `surge-carrier-sim` with the arguments for a port picked free (<see cref="global::Surge.Server.SurgeServer.FreePort"/>)
    /// and returns once it prints that it is ready (its output is drained from then on), with the port; throws with its
    /// errors when it does not start within 30 s. The sim binds the port a moment after the pick, and an outgoing
    /// connection of another process may get it meanwhile as its local end: a start that finds it taken is tried
    /// again on another port.</summary>
    public static async Task<(Process Process, int Port)> StartCarrierSimAsync(Func<int, IEnumerable<string>> arguments)
    {
        var (executable, prefix) = CarrierSim();
        for (var attempt = 1; ; attempt++)
        {
            var port = global::Surge.Server.SurgeServer.FreePort();
            var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in prefix.Concat(arguments(port)))
            {
                start.ArgumentList.Add(arg);
            }
            var process = Process.Start(start)!;
            var errors = process.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                var line = await process.StandardOutput.ReadLineAsync();
                if (line is null)
                {
                    break;
                }
                if (line == "carrier-sim: ready")
                {
                    _ = process.StandardOutput.ReadToEndAsync(); // keep draining its output
                    return (process, port);
                }
            }
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            var error = await errors;
            process.Dispose();
            if (attempt < PortAttemptsMax && error.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            throw new InvalidOperationException("surge carrier-sim did not start: " + error);
        }
    }

    private static (string, string[]) Dotnet(Assembly program)
    {
        // The runtime directory is DOTNET_ROOT/shared/Microsoft.NETCore.App/<version>/; the host sits in DOTNET_ROOT.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return (File.Exists(host) ? host : "dotnet", [program.Location]);
    }
}
