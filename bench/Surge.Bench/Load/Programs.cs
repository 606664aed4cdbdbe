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

    private static (string, string[]) Dotnet(Assembly program)
    {
        // The runtime directory is DOTNET_ROOT/shared/Microsoft.NETCore.App/<version>/; the host sits in DOTNET_ROOT.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return (File.Exists(host) ? host : "dotnet", [program.Location]);
    }
}
