using System.CommandLine;

namespace Surge.Cli;

internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "Run a flash sale on an embedded, durable partition and show what happened.");
        command.SetAction(_ => 0);
        return command;
    }
}
