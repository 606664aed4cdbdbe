using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Surge.Server;

/// <summary>
/// One line per log entry, an exception as its type and message only: what an operator reads at the default level
/// (warnings). A failure's stack trace is noise there — a failed start, for one, is already reported by `surge serve`
/// as one line and an exit code. Verbose logging (<c>--verbose</c>) uses the full console formatter instead.
/// </summary>
internal sealed class TerseConsoleFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "surge-terse";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }
        var level = logEntry.LogLevel switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
        textWriter.Write($"{level}: {logEntry.Category}[{logEntry.EventId.Id}] {message?.ReplaceLineEndings(" ")}");
        for (var e = logEntry.Exception; e is not null; e = e.InnerException)
        {
            textWriter.Write($" ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")})");
        }
        if (System.Diagnostics.Activity.Current is { } activity)
        {
            textWriter.Write($" trace={activity.TraceId.ToHexString()}"); // the same id as the problem answer's trace_id
        }
        textWriter.WriteLine();
    }
}
