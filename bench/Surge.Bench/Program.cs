using System.CommandLine;
using Surge.Bench;

// `./surge bench <harness> …` runs this program with the harness name first.
var root = new RootCommand("Measure Surge on this machine (results also in docs/BENCHMARKS.md).");
foreach (var harness in BenchCommand.Harnesses())
{
    root.Subcommands.Add(harness);
}
return await Surge.Cli.Output.RunAsync(root, args, "surge bench");
