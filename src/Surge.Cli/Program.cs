using System.CommandLine;
using Surge.Cli;

var root = new RootCommand("Surge: order processing for multi-seller marketplaces — a deterministic engine with a durable journal.")
{
    ServeCommand.Create(),
    DemoCommand.Create(),
    BenchCommand.Create(),
    VerifyCommand.Create(),
    ForecastCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
