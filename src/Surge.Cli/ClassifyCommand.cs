using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Surge.Classification;
using Surge.Cli.Load;

namespace Surge.Cli;

/// <summary>`surge classify eval|tune`: the product category classifier on the PriceRunner data.</summary>
internal static class ClassifyCommand
{
    public const string TrainPath = "pricerunner/pricerunner_train.csv";
    public const string TestPath = "pricerunner/pricerunner_test.csv";

    public static Command Create()
    {
        var classify = new Command("classify", "Product category classifier (ML.NET, trained on the PriceRunner training split).");
        classify.Subcommands.Add(Eval());
        classify.Subcommands.Add(Tune());
        return classify;
    }

    /// <summary>The rows of the given file (or of the shared data file), or null after printing why they
    /// cannot be read.</summary>
    private static List<ProductRow>? Read(string? path, string relative, string option, out int skipped)
    {
        skipped = 0;
        try
        {
            return ProductData.Read(SharedData.Locate(path, relative, option), out skipped);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return null;
        }
    }

    private static Option<string?> TrainOption() => new("--train") { Description = $"Training file (PriceRunner CSV format); default ../shared/data/{TrainPath}" };

    private static Command Eval()
    {
        var train = TrainOption();
        var test = new Option<string?>("--test") { Description = $"File to score (PriceRunner CSV format); default ../shared/data/{TestPath}" };
        var json = Output.JsonOption();
        var command = new Command("eval", "Train the tuned model and a baseline (the same features, ML.NET's default regularization), "
            + "then print accuracy, macro-F1 and per-category precision/recall/F1 of both on the test file.")
        {
            train, test, json,
        };
        command.SetAction(parse =>
        {
            if (Read(parse.GetValue(train), TrainPath, "--train", out var skippedTrain) is not { } trainRows
                || Read(parse.GetValue(test), TestPath, "--test", out var skippedTest) is not { } testRows)
            {
                return 2;
            }
            var truth = testRows.Select(r => r.Category).ToList();
            (ClassifierScores Scores, double TrainSeconds) Score(ClassifierSettings settings)
            {
                var clock = Stopwatch.StartNew();
                var model = CategoryClassifier.Train(trainRows, settings);
                var seconds = clock.Elapsed.TotalSeconds;
                return (ClassifierScores.Of(truth, model.PredictAll(testRows)), seconds);
            }
            var (tuned, tunedSeconds) = Score(ClassifierSettings.Tuned);
            var (baseline, baselineSeconds) = Score(ClassifierSettings.Default);

            var table = new Table().AddColumns("category", "support", "precision", "recall", "F1", "baseline F1");
            foreach (var (c, b) in tuned.Categories.Zip(baseline.Categories))
            {
                table.AddRow(c.Category, $"{c.Support}", $"{c.Precision:F4}", $"{c.Recall:F4}", $"{c.F1:F4}", $"{b.F1:F4}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"tuned ({ClassifierSettings.Tuned}): accuracy {tuned.Accuracy:F4}, macro-F1 {tuned.MacroF1:F4}, trained in {tunedSeconds:F1} s");
            AnsiConsole.MarkupLineInterpolated($"baseline ({ClassifierSettings.Default}): accuracy {baseline.Accuracy:F4}, macro-F1 {baseline.MacroF1:F4}, trained in {baselineSeconds:F1} s");
            AnsiConsole.MarkupLineInterpolated($"{trainRows.Count} training rows, {testRows.Count} test rows ({skippedTrain + skippedTest} rows without title or category skipped)");
            Output.WriteJson(parse.GetValue(json), new
            {
                accuracy = tuned.Accuracy,
                macro_f1 = tuned.MacroF1,
                settings = ClassifierSettings.Tuned.ToString(),
                train_seconds = tunedSeconds,
                categories = tuned.Categories.Select(c => new { category = c.Category, support = c.Support, precision = c.Precision, recall = c.Recall, f1 = c.F1 }),
                baseline = new
                {
                    settings = ClassifierSettings.Default.ToString(),
                    accuracy = baseline.Accuracy,
                    macro_f1 = baseline.MacroF1,
                    categories = baseline.Categories.Select(c => new { category = c.Category, f1 = c.F1 }),
                },
                train_rows = trainRows.Count,
                test_rows = testRows.Count,
            });
            return 0;
        });
        return command;
    }

    private static readonly float[] L2Candidates = [1e-7f, 1e-6f, 1e-5f, 1e-4f, 1e-3f];

    private static Command Tune()
    {
        var train = TrainOption();
        var folds = Output.PositiveOption("--folds", "Cross-validation folds (by product cluster)", 5, 20);
        var run = Output.PositiveOption("--run-folds", "Hold out only the first N folds (quicker, noisier)", 5, 20);
        var command = new Command("tune", "Cross-validate candidate settings on the training file (folds by product cluster; the test split "
            + "is never read) and print mean macro-F1 per candidate.")
        {
            train, folds, run,
        };
        command.SetAction(parse =>
        {
            if (Read(parse.GetValue(train), TrainPath, "--train", out _) is not { } rows)
            {
                return 2;
            }
            var candidates = new List<ClassifierSettings> { new(2, 5) }; // the table in docs/BENCHMARKS.md lists these candidates
            foreach (var l2 in L2Candidates)
            {
                candidates.Add(new ClassifierSettings(2, 5, l2));
            }
            candidates.Add(new ClassifierSettings(1, 5, 1e-6f));
            candidates.Add(new ClassifierSettings(3, 5, 1e-6f));
            candidates.Add(new ClassifierSettings(2, 4, 1e-6f));
            candidates.Add(new ClassifierSettings(2, 6, 1e-6f));
            candidates.Add(new ClassifierSettings(2, 5, 1e-6f, Passes: 100));
            var table = new Table().AddColumns("settings", "mean macro-F1", "seconds");
            foreach (var candidate in candidates)
            {
                var clock = Stopwatch.StartNew();
                var f1 = CrossValidation.MeanMacroF1(rows, candidate, parse.GetValue(folds), parse.GetValue(run));
                table.AddRow(Markup.Escape(candidate.ToString()), $"{f1:F4}", $"{clock.Elapsed.TotalSeconds:F0}");
                AnsiConsole.MarkupLineInterpolated($"{candidate}: {f1:F4}");
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
