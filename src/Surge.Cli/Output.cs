using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Surge.Cli;

/// <summary>Shared console and JSON output of the verbs.</summary>
public static class Output
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void WriteJson<T>(FileInfo? file, T value)
    {
        if (file is null)
        {
            return;
        }
        file.Directory?.Create();
        File.WriteAllText(file.FullName, JsonSerializer.Serialize(value, Json) + "\n");
        AnsiConsole.MarkupLineInterpolated($"[grey]wrote {file.FullName}[/]");
    }

    /// <summary>Runs <paramref name="work"/> under a progress display; it reports (stage, fraction 0..1).</summary>
    public static T WithProgress<T>(string title, Func<Action<string, double>, T> work) =>
        WithProgressAsync(title, report => Task.FromResult(work(report))).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="work"/> under a progress display (one bar per stage); it reports (stage,
    /// fraction 0..1), from any thread. Without a terminal, each new stage is a line on stderr.</summary>
    public static async Task<T> WithProgressAsync<T>(string title, Func<Action<string, double>, Task<T>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var last = "";
            return await work((stage, _) =>
            {
                lock (title)
                {
                    if (stage != last)
                    {
                        Console.Error.WriteLine($"{title}: {stage}");
                        last = stage;
                    }
                }
            });
        }
        return await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                return work((stage, fraction) =>
                {
                    lock (tasks)
                    {
                        if (!tasks.TryGetValue(stage, out var task))
                        {
                            foreach (var open in tasks.Values)
                            {
                                open.Value = open.MaxValue;
                            }
                            task = tasks[stage] = ctx.AddTask($"{title}: {stage}");
                        }
                        task.Value = Math.Max(task.Value, Math.Clamp(fraction * 100, 0, 100));
                    }
                });
            });
    }

    /// <summary>The <c>--json FILE</c> option every verb has; <paramref name="what"/> names what is written.</summary>
    public static Option<FileInfo?> JsonOption(string what = "results") =>
        new("--json") { Description = $"Also write the {what} as JSON to this file." };

    /// <summary>An integer option that must lie in 1..<paramref name="max"/>; the parser reports violations.</summary>
    public static Option<int> PositiveOption(string name, string description, int defaultValue, int max = int.MaxValue)
    {
        var option = new Option<int>(name) { Description = $"{description} (1–{max:N0})", DefaultValueFactory = _ => defaultValue };
        return option.Check(value => value < 1 || value > max ? $"{name} must be between 1 and {max:N0}, not {value}" : null);
    }

    /// <summary>Adds a check of the option's value: <paramref name="error"/> answers the message for a bad value, null for
    /// a good one. A value that is not of the option's type at all (<c>--port abc</c>) is left to the parser, which
    /// reports it as a usage error like any other.</summary>
    public static Option<T> Check<T>(this Option<T> option, Func<T, string?> error)
    {
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>()!;
            }
            catch (InvalidOperationException)
            {
                return; // the parser reports it: "Cannot parse argument 'abc' for option '--port' …"
            }
            if (error(value) is { } message)
            {
                result.AddError(message);
            }
        });
        return option;
    }

    /// <summary>Exit codes of every verb, one per kind of failure (README, `surge --help`).</summary>
    public static class ExitCodes
    {
        /// <summary>A bad flag, setting or input file: fix the command line or the configuration.</summary>
        public const int Usage = 2;
    }

    /// <summary>Parses the command line and runs the verb. A parse error (unknown flag, a value of the wrong type or out
    /// of range) is one line per error on stderr and exit <see cref="ExitCodes.Usage"/>, never a stack trace.</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args, string program)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && !args.Any(a => a is "--help" or "-h" or "-?"))
        {
            var verb = parse.CommandResult.Command == root ? program : $"{program} {parse.CommandResult.Command.Name}";
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine($"{verb}: {error.Message}");
            }
            Console.Error.WriteLine($"(see {verb} --help)");
            return ExitCodes.Usage;
        }
        // Ctrl+C / SIGTERM cancel the running verb; `serve` then drains its queues and closes its journals, which may
        // take a few seconds under load (a forced exit is still safe: every acknowledged order is already on disk).
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
    }

    public static string Rate(double perSecond) => perSecond >= 1e6 ? $"{perSecond / 1e6:F2} M/s" : perSecond >= 1e3 ? $"{perSecond / 1e3:F1} k/s" : $"{perSecond:F0}/s";
}
