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
};
// Ctrl+C / SIGTERM cancel the running verb; `serve` then drains its queues and closes its journals, which may
// take a few seconds under load (a forced exit is still safe: every acknowledged order is already on disk).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
