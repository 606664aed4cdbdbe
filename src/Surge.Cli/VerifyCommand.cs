using System.CommandLine;
using Spectre.Console;
using Surge.Journal;

namespace Surge.Cli;

internal static class VerifyCommand
{
    public static Command Create()
    {
        var verify = new Command("verify", "Check stored data without changing it.");
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "The journal directory (segments *.seg and snapshots *.snap)." };
        var json = Output.JsonOption("report");
        var journal = new Command("journal", "Check every record (length, CRC32C, sequence) and every snapshot of a journal.") { dir, json };
        journal.SetAction(parse =>
        {
            var directory = parse.GetValue(dir)!;
            if (!directory.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] no such directory: {directory.FullName}");
                return 2;
            }
            var report = JournalVerifier.Verify(new DirectoryStorage(directory.FullName),
                (name, i, n) => Console.Error.WriteLine($"verify: segment {i + 1}/{n} {name}"));
            var table = new Table().AddColumns("segment", "sequences", "records", "bytes", "status");
            foreach (var s in report.Segments)
            {
                table.AddRow(s.Name, s.Records > 0 ? $"{s.FirstSequence}..{s.LastSequence}" : "-", $"{s.Records:N0}", $"{s.Bytes:N0}",
                    s.Problem is null ? "[green]ok[/]" : $"[red]{Markup.Escape(s.Problem)}[/]");
            }
            AnsiConsole.Write(table);
            foreach (var s in report.Snapshots)
            {
                AnsiConsole.MarkupLineInterpolated($"snapshot {s.Name}: after sequence {s.Sequence}, {s.Bytes:N0} bytes, checksum ok");
            }
            AnsiConsole.MarkupLineInterpolated($"{report.Records:N0} records ({report.FirstSequence}..{report.LastSequence}) in {report.Segments.Count} segments, {report.Snapshots.Count} snapshots, torn tail {report.TornTailBytes} bytes");
            foreach (var error in report.Errors)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {error}");
            }
            Output.WriteJson(parse.GetValue(json), new
            {
                ok = report.Ok,
                records = report.Records,
                first_sequence = report.FirstSequence,
                last_sequence = report.LastSequence,
                segments = report.Segments.Count,
                snapshots = report.Snapshots.Count,
                torn_tail_bytes = report.TornTailBytes,
                errors = report.Errors,
            });
            AnsiConsole.MarkupLine(report.Ok ? "[green]journal ok[/]" : "[red]journal has errors[/]");
            return report.Ok ? 0 : 1;
        });
        verify.Subcommands.Add(journal);
        return verify;
    }
}
