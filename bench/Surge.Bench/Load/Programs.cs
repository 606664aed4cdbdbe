using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using Surge.Testing;

namespace Surge.Bench.Load;

/// <summary>How the benches start the programs they measure as child processes: the `surge` CLI (silos) and the
/// carrier simulator, whose assemblies are copied next to this one, run by the same .NET host.</summary>
internal static class Programs
{
    /// <summary>`surge` (e.g. <c>serve</c> for a silo).</summary>
    public static (string Executable, string[] Prefix) Surge() => Dotnet(typeof(Output).Assembly);

    /// <summary>`surge-carrier-sim`.</summary>
    public static (string Executable, string[] Prefix) CarrierSim() => Dotnet(typeof(CarrierSim.CarrierSimCommand).Assembly);

    /// <summary>Starts `surge-carrier-sim` with the arguments for a port picked free, tried again on another when it
    /// was taken meanwhile (<see cref="LocalProcess.OnFreePortAsync"/>), and returns once it prints that it is ready
    /// (its output is drained from then on), with the port; throws with its errors when it does not start within 30 s.</summary>
    public static Task<(Process Process, int Port)> StartCarrierSimAsync(Func<int, IEnumerable<string>> arguments) =>
        LocalProcess.OnFreePortAsync(port => StartCarrierSimOnAsync(arguments(port)));

    private static async Task<Process> StartCarrierSimOnAsync(IEnumerable<string> arguments)
    {
        var (executable, prefix) = CarrierSim();
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in prefix.Concat(arguments))
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
                return process;
            }
        }
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        var error = await errors;
        process.Dispose();
        throw LocalProcess.SaysPortTaken(error)
            ? new PortTakenException("surge carrier-sim: its port was taken: " + error)
            : new InvalidOperationException("surge carrier-sim did not start: " + error);
    }

    private static (string, string[]) Dotnet(Assembly program)
    {
        // The runtime directory is DOTNET_ROOT/shared/Microsoft.NETCore.App/<version>/; the host sits in DOTNET_ROOT.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return (File.Exists(host) ? host : "dotnet", [program.Location]);
    }
}
