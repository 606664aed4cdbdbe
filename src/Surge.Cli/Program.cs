using System.CommandLine;
using Surge.Cli;

var root = new RootCommand("Surge: order processing for multi-seller marketplaces — a deterministic engine with a durable journal.")
{
    ServeCommand.Create(),
    DemoCommand.Create(),
    ReplayCommand.Create(),
    VerifyCommand.Create(),
    ForecastCommand.Create(),
    ClassifyCommand.Create(),
    AutoscaleCommand.Create(),
    SimCommand.Create(),
};
return await Output.RunAsync(root, args, "surge");
