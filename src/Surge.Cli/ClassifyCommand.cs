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
        var classify = new Command("classify", "Product category classifier: a linear maximum-entropy model (ML.NET SDCA) over the title's words "
            + "and character 1..5-grams — character n-grams carry brand and model codes to products never seen — with the settings chosen by "
            + "cross-validation on the PriceRunner training split (folds by product cluster) and confidences calibrated by temperature scaling.");
        classify.Subcommands.Add(Eval());
        classify.Subcommands.Add(TrainCommand());
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
        var command = new Command("eval", "Train the tuned model (calibrated as `classify train` does) and a baseline (the same features, "
            + "ML.NET's default regularization), then print accuracy, macro-F1 and per-category precision/recall/F1 of both on the test file, "
            + "the tuned model's reliability table and expected calibration error, how often a suggestion at or above the review threshold is wrong, "
            + "and what retraining with sellers' labels gains (half the test clusters labelled, scored on the other half).")
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
            var clock = Stopwatch.StartNew();
            var model = CalibratedTraining.Train(trainRows, [], ClassifierSettings.Tuned, DateTimeOffset.UtcNow);
            var tunedSeconds = clock.Elapsed.TotalSeconds;
            var calibrated = model.ScoreAll(testRows);
            var tuned = ClassifierScores.Of(truth, calibrated.Select(p => model.Categories[Calibration.Top(p)]).ToList());
            var labels = Calibration.Indices(model.Categories, truth);
            var raw = calibrated.Select(p => Calibration.Scale(p.Select(v => (float)v).ToArray(), 1 / model.Temperature)).ToList();
            var before = Calibration.Report(raw, labels, CalibratedTraining.ReviewThreshold);
            var after = Calibration.Report(calibrated, labels, CalibratedTraining.ReviewThreshold);
            clock.Restart();
            var baselineModel = CategoryClassifier.Train(trainRows, ClassifierSettings.Default);
            var baselineSeconds = clock.Elapsed.TotalSeconds;
            var baseline = ClassifierScores.Of(truth, baselineModel.PredictAll(testRows));

            // Retraining with sellers' labels, measured: half the test clusters (by fold hash) play the titles sellers
            // labelled; the model is retrained with them as feedback and both models are scored on the other half.
            var labelled = testRows.Where(r => CrossValidation.FoldOf(r.Cluster, 2) == 0).ToList();
            var unseen = testRows.Where(r => CrossValidation.FoldOf(r.Cluster, 2) == 1).ToList();
            clock.Restart();
            var retrained = CalibratedTraining.Train(trainRows, labelled, ClassifierSettings.Tuned, DateTimeOffset.UtcNow);
            var retrainSeconds = clock.Elapsed.TotalSeconds;
            var unseenTruth = unseen.Select(r => r.Category).ToList();
            var beforeRetrain = ClassifierScores.Of(unseenTruth, model.PredictAll(unseen));
            var afterRetrain = ClassifierScores.Of(unseenTruth, retrained.PredictAll(unseen));

            var table = new Table().AddColumns("category", "support", "precision", "recall", "F1", "baseline F1");
            foreach (var (c, b) in tuned.Categories.Zip(baseline.Categories))
            {
                table.AddRow(c.Category, $"{c.Support}", $"{c.Precision:F4}", $"{c.Recall:F4}", $"{c.F1:F4}", $"{b.F1:F4}");
            }
            AnsiConsole.Write(table);
            var reliability = new Table().AddColumns("confidence", "suggestions", "mean confidence", "accuracy");
            foreach (var bin in after.Bins)
            {
                reliability.AddRow($"{bin.From:F2}–{bin.To:F2}", $"{bin.Count}", $"{bin.MeanConfidence:F4}", $"{bin.Accuracy:F4}");
            }
            AnsiConsole.Write(reliability);
            var card = model.Card!;
            AnsiConsole.MarkupLineInterpolated($"tuned ({ClassifierSettings.Tuned}): accuracy {tuned.Accuracy:F4}, macro-F1 {tuned.MacroF1:F4}, trained and calibrated in {tunedSeconds:F1} s (model {card.Version})");
            AnsiConsole.MarkupLineInterpolated($"calibration: temperature {model.Temperature:F3} fitted on {card.CalibrationRows} held-out training offers; test ECE {before.Ece:F4} before, {after.Ece:F4} after");
            AnsiConsole.MarkupLineInterpolated($"review threshold {after.ReviewThreshold:F2}: {after.ShareAtOrAbove:P1} of suggestions at or above it, wrong {after.ErrorRateAtOrAbove:P2} of the time; the rest go to review");
            AnsiConsole.MarkupLineInterpolated($"retraining with {labelled.Count} seller-labelled titles (half the test clusters): macro-F1 on the other half {beforeRetrain.MacroF1:F4} -> {afterRetrain.MacroF1:F4} (Fridges {beforeRetrain.Categories.FirstOrDefault(c => c.Category == "Fridges")?.F1:F4} -> {afterRetrain.Categories.FirstOrDefault(c => c.Category == "Fridges")?.F1:F4}), retrained in {retrainSeconds:F1} s");
            AnsiConsole.MarkupLineInterpolated($"baseline ({ClassifierSettings.Default}): accuracy {baseline.Accuracy:F4}, macro-F1 {baseline.MacroF1:F4}, trained in {baselineSeconds:F1} s");
            AnsiConsole.MarkupLineInterpolated($"{trainRows.Count} training rows, {testRows.Count} test rows ({skippedTrain + skippedTest} rows without title or category skipped)");
            Output.WriteJson(parse.GetValue(json), new
            {
                accuracy = tuned.Accuracy,
                macro_f1 = tuned.MacroF1,
                settings = ClassifierSettings.Tuned.ToString(),
                model_version = card.Version,
                train_seconds = tunedSeconds,
                temperature = model.Temperature,
                ece = after.Ece,
                ece_uncalibrated = before.Ece,
                review = new { threshold = after.ReviewThreshold, share_at_or_above = after.ShareAtOrAbove, error_rate_at_or_above = after.ErrorRateAtOrAbove },
                reliability = after.Bins.Select(b => new { from = b.From, to = b.To, count = b.Count, mean_confidence = b.MeanConfidence, accuracy = b.Accuracy }),
                categories = tuned.Categories.Select(c => new { category = c.Category, support = c.Support, precision = c.Precision, recall = c.Recall, f1 = c.F1 }),
                baseline = new
                {
                    settings = ClassifierSettings.Default.ToString(),
                    accuracy = baseline.Accuracy,
                    macro_f1 = baseline.MacroF1,
                    categories = baseline.Categories.Select(c => new { category = c.Category, f1 = c.F1 }),
                },
                retraining = new
                {
                    seller_labelled = labelled.Count,
                    scored = unseen.Count,
                    macro_f1_before = beforeRetrain.MacroF1,
                    macro_f1_after = afterRetrain.MacroF1,
                    categories = afterRetrain.Categories.Zip(beforeRetrain.Categories, (a, b) => new { category = a.Category, f1_before = b.F1, f1_after = a.F1 }),
                    seconds = retrainSeconds,
                },
                train_rows = trainRows.Count,
                test_rows = testRows.Count,
            });
            return 0;
        });
        return command;
    }

    private static Command TrainCommand()
    {
        var train = TrainOption();
        var feedback = new Option<FileInfo[]>("--feedback")
        {
            Description = "Category logs of running nodes (categories.jsonl in their data directories): every title whose suggested category "
                + "a seller accepted or replaced is added to the training rows with the seller's category. Repeatable.",
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<FileInfo>("--out")
        {
            Description = "Where to write the model (a zip: ML.NET's model and its card with version, temperature and training metrics). "
                + "A node loads it with --category-model.",
            Required = true,
        };
        var command = new Command("train", "Train the tuned model, calibrate its confidences on a fifth of the training clusters held out "
            + "(temperature scaling), then train on everything, sellers' labelled titles included, and save it with its card.")
        {
            train, feedback, output,
        };
        command.SetAction(parse =>
        {
            if (Read(parse.GetValue(train), TrainPath, "--train", out _) is not { } rows)
            {
                return 2;
            }
            var labelled = new List<ProductRow>();
            int accepted = 0, replaced = 0;
            foreach (var file in parse.GetValue(feedback) ?? [])
            {
                try
                {
                    var read = SellerLabels.Read(file.FullName);
                    labelled.AddRange(read.Rows);
                    (accepted, replaced) = (accepted + read.Accepted, replaced + read.Replaced);
                }
                catch (InvalidDataException e)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                    return 2;
                }
            }
            var clock = Stopwatch.StartNew();
            var model = CalibratedTraining.Train(rows, labelled, ClassifierSettings.Tuned, DateTimeOffset.UtcNow);
            var seconds = clock.Elapsed.TotalSeconds;
            var target = parse.GetValue(output)!;
            try
            {
                Directory.CreateDirectory(target.DirectoryName ?? ".");
                var temporary = target.FullName + ".tmp";
                using (var stream = File.Create(temporary))
                {
                    model.Save(stream);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temporary, target.FullName, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] cannot write the model: {e.Message}");
                return 2;
            }
            var card = model.Card!;
            AnsiConsole.MarkupLineInterpolated($"model {card.Version}: {rows.Count} training rows + {labelled.Count} seller-labelled titles ({accepted} accepted, {replaced} replaced suggestions), trained in {seconds:F1} s");
            AnsiConsole.MarkupLineInterpolated($"calibration on {card.CalibrationRows} held-out offers: temperature {card.Temperature:F3}, ECE {card.CalibrationEceBefore:F4} -> {card.CalibrationEceAfter:F4}, macro-F1 {card.CalibrationMacroF1:F4}");
            AnsiConsole.MarkupLineInterpolated($"wrote {target.FullName}");
            return 0;
        });
        return command;
    }

    /// <summary>Out-of-fold probabilities of every training row (folds by cluster), then, fold by fold, offsets fitted on
    /// the other folds' rows and scored on the fold's: does tuning offsets for macro-F1 hold on clusters it never saw?</summary>
    private static int TuneOffsets(List<ProductRow> rows, int folds)
    {
        var probabilities = new double[rows.Count][];
        var truth = new int[rows.Count];
        string[]? categories = null;
        for (var fold = 0; fold < folds; fold++)
        {
            var clock = Stopwatch.StartNew();
            var held = Enumerable.Range(0, rows.Count).Where(i => CrossValidation.FoldOf(rows[i].Cluster, folds) == fold).ToList();
            var model = CategoryClassifier.Train([.. rows.Where(r => CrossValidation.FoldOf(r.Cluster, folds) != fold)], ClassifierSettings.Tuned);
            categories ??= [.. model.Categories];
            if (!model.Categories.SequenceEqual(categories))
            {
                AnsiConsole.MarkupLine("[red]error:[/] a fold's model knows other categories; offsets need the same categories in every fold");
                return 2;
            }
            var scored = model.ScoreAll([.. held.Select(i => rows[i])]);
            var labels = Calibration.Indices(categories, held.Select(i => rows[i].Category));
            for (var k = 0; k < held.Count; k++)
            {
                (probabilities[held[k]], truth[held[k]]) = (scored[k], labels[k]);
            }
            AnsiConsole.MarkupLineInterpolated($"fold {fold + 1}/{folds} scored out of fold in {clock.Elapsed.TotalSeconds:F0} s");
        }
        var table = new Table().AddColumns("held-out fold", "macro-F1 argmax", "macro-F1 with offsets");
        var (plain, tuned) = (new List<double>(), new List<double>());
        for (var fold = 0; fold < folds; fold++)
        {
            var inFold = Enumerable.Range(0, rows.Count).Where(i => CrossValidation.FoldOf(rows[i].Cluster, folds) == fold).ToList();
            var outFold = Enumerable.Range(0, rows.Count).Where(i => CrossValidation.FoldOf(rows[i].Cluster, folds) != fold).ToList();
            var fitted = DecisionOffsets.Fit([.. outFold.Select(i => probabilities[i])], [.. outFold.Select(i => truth[i])], categories!.Length);
            var zero = new double[categories.Length];
            plain.Add(DecisionOffsets.MacroF1([.. inFold.Select(i => probabilities[i])], [.. inFold.Select(i => truth[i])], zero, categories.Length));
            tuned.Add(DecisionOffsets.MacroF1([.. inFold.Select(i => probabilities[i])], [.. inFold.Select(i => truth[i])], fitted, categories.Length));
            table.AddRow($"{fold + 1}", $"{plain[^1]:F4}", $"{tuned[^1]:F4}");
        }
        table.AddRow("mean", $"{plain.Average():F4}", $"{tuned.Average():F4}");
        AnsiConsole.Write(table);
        var all = DecisionOffsets.Fit(probabilities, truth, categories!.Length);
        AnsiConsole.MarkupLineInterpolated($"offsets fitted on every out-of-fold row: {string.Join(", ", categories.Zip(all, (c, o) => $"{c} {o:+0.00;-0.00;0}"))}");
        return 0;
    }

    private static readonly float[] L2Candidates = [1e-7f, 1e-6f, 1e-5f, 1e-4f, 1e-3f];

    private static Command Tune()
    {
        var train = TrainOption();
        var folds = Output.PositiveOption("--folds", "Cross-validation folds (by product cluster)", 5, 20);
        var run = Output.PositiveOption("--run-folds", "Hold out only the first N folds (quicker, noisier)", 5, 20);
        var offsets = new Option<bool>("--offsets")
        {
            Description = "Instead of the candidate settings: check per-category decision offsets (tuned for macro-F1 on the out-of-fold "
                + "predictions of the other folds, scored on each held-out fold) against plain argmax.",
        };
        var command = new Command("tune", "Cross-validate candidate settings on the training file (folds by product cluster; the test split "
            + "is never read) and print mean macro-F1 per candidate.")
        {
            train, folds, run, offsets,
        };
        command.SetAction(parse =>
        {
            if (Read(parse.GetValue(train), TrainPath, "--train", out _) is not { } rows)
            {
                return 2;
            }
            if (parse.GetValue(offsets))
            {
                return TuneOffsets(rows, parse.GetValue(folds));
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
