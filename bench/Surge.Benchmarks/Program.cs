using BenchmarkDotNet.Running;

namespace Surge.Benchmarks;

/// <summary>BenchmarkDotNet micro-benchmarks: <c>dotnet run -c Release --project bench/Surge.Benchmarks -- --filter '*'</c>.
/// The end-to-end benchmarks run through <c>./surge bench</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
