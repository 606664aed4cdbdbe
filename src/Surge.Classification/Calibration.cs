using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MathNet.Numerics.Optimization;

namespace Surge.Classification;

/// <summary>One bin of a reliability table: suggestions whose confidence fell in [From, To), how many, their mean
/// confidence and how many of them were right.</summary>
public sealed record ReliabilityBin(double From, double To, int Count, double MeanConfidence, double Accuracy);

/// <summary>How well confidences match how often suggestions are right: the reliability table, the expected
/// calibration error (the count-weighted mean gap between confidence and accuracy over the bins), and what the
/// review threshold means — the share of suggestions at or above it and how often those are wrong.</summary>
public sealed record CalibrationReport(IReadOnlyList<ReliabilityBin> Bins, double Ece, double ReviewThreshold, double ShareAtOrAbove, double ErrorRateAtOrAbove);

/// <summary>
/// Temperature scaling (Guo et al. 2017): the learner's probabilities p are replaced by p^(1/T), renormalised, with
/// the one temperature T that maximises the likelihood of held-out labels. It changes no prediction (the order of
/// the probabilities is kept), only how sure the model says it is. T &gt; 1 softens an overconfident model.
/// </summary>
public static class Calibration
{
    /// <summary>Equal-width confidence bins of the reliability table and of the ECE.</summary>
    public const int Bins = 15;

    /// <summary>The temperature is searched in [1/20, 20].</summary>
    public const double TemperatureMin = 0.05, TemperatureMax = 20;

    /// <summary>Probabilities at a temperature: p_i^(1/T) / Σ p_j^(1/T) (in log space, so tiny ones do not vanish).</summary>
    public static double[] Scale(IReadOnlyList<float> probabilities, double temperature)
    {
        var logs = new double[probabilities.Count];
        var max = double.NegativeInfinity;
        for (var i = 0; i < logs.Length; i++)
        {
            logs[i] = Math.Log(Math.Max(probabilities[i], 1e-30)) / temperature;
            max = Math.Max(max, logs[i]);
        }
        double sum = 0;
        for (var i = 0; i < logs.Length; i++)
        {
            logs[i] = Math.Exp(logs[i] - max);
            sum += logs[i];
        }
        for (var i = 0; i < logs.Length; i++)
        {
            logs[i] /= sum;
        }
        return logs;
    }

    /// <summary>The temperature that minimises the negative log-likelihood of <paramref name="truth"/> (indices
    /// into each probability vector), by golden-section search over log T.</summary>
    public static double FitTemperature(IReadOnlyList<double[]> probabilities, IReadOnlyList<int> truth)
    {
        if (probabilities.Count == 0 || probabilities.Count != truth.Count)
        {
            throw new ArgumentException($"need one label per probability vector, at least one ({probabilities.Count} vs {truth.Count})");
        }
        var floats = probabilities.Select(p => p.Select(v => (float)v).ToArray()).ToList();
        double Loss(double logT)
        {
            var t = Math.Exp(logT);
            double loss = 0;
            for (var i = 0; i < floats.Count; i++)
            {
                loss -= Math.Log(Math.Max(Scale(floats[i], t)[truth[i]], 1e-300));
            }
            return loss / floats.Count;
        }
        var minimum = GoldenSectionMinimizer.Minimum(ObjectiveFunction.ScalarValue(Loss), Math.Log(TemperatureMin), Math.Log(TemperatureMax), 1e-4);
        return Math.Exp(minimum.MinimizingPoint);
    }

    /// <summary>The reliability table and ECE of the most probable category of each vector against the truth,
    /// and the meaning of <paramref name="reviewThreshold"/>.</summary>
    public static CalibrationReport Report(IReadOnlyList<double[]> probabilities, IReadOnlyList<int> truth, double reviewThreshold)
    {
        if (probabilities.Count == 0 || probabilities.Count != truth.Count)
        {
            throw new ArgumentException($"need one label per probability vector, at least one ({probabilities.Count} vs {truth.Count})");
        }
        var counts = new int[Bins];
        var confidence = new double[Bins];
        var right = new int[Bins];
        int above = 0, wrongAbove = 0;
        for (var i = 0; i < probabilities.Count; i++)
        {
            var p = probabilities[i];
            var best = Top(p);
            var bin = Math.Min(Bins - 1, (int)(p[best] * Bins));
            counts[bin]++;
            confidence[bin] += p[best];
            var correct = best == truth[i];
            right[bin] += correct ? 1 : 0;
            if (p[best] >= reviewThreshold)
            {
                above++;
                wrongAbove += correct ? 0 : 1;
            }
        }
        var bins = new List<ReliabilityBin>();
        double ece = 0;
        for (var b = 0; b < Bins; b++)
        {
            if (counts[b] == 0)
            {
                continue;
            }
            var (meanConfidence, accuracy) = (confidence[b] / counts[b], right[b] / (double)counts[b]);
            bins.Add(new ReliabilityBin(b / (double)Bins, (b + 1) / (double)Bins, counts[b], meanConfidence, accuracy));
            ece += counts[b] / (double)probabilities.Count * Math.Abs(accuracy - meanConfidence);
        }
        return new CalibrationReport(bins, ece, reviewThreshold, above / (double)probabilities.Count, above == 0 ? 0 : wrongAbove / (double)above);
    }

    /// <summary>The index of the most probable category (the first of equals).</summary>
    public static int Top(double[] probabilities)
    {
        var best = 0;
        for (var c = 1; c < probabilities.Length; c++)
        {
            best = probabilities[c] > probabilities[best] ? c : best;
        }
        return best;
    }

    /// <summary>Indices of <paramref name="labels"/> in <paramref name="categories"/> (−1 for a category the model
    /// does not know: never right).</summary>
    public static int[] Indices(IReadOnlyList<string> categories, IEnumerable<string> labels)
    {
        var index = categories.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        return labels.Select(l => index.GetValueOrDefault(l, -1)).ToArray();
    }
}

/// <summary>
/// Training with calibration: the clusters of one fold in <see cref="Folds"/> (by <see cref="CrossValidation.FoldOf"/>)
/// are set aside, a model trained on the rest scores them, and the temperature that fits them best is kept; then the
/// model is trained on every row (plus the sellers' labelled titles, when given) and carries that temperature and a
/// <see cref="ModelCard"/>.
/// </summary>
public static class CalibratedTraining
{
    /// <summary>One fold in this many (a fifth of the clusters) calibrates.</summary>
    public const int Folds = 5;

    /// <summary>The threshold below which a suggestion is flagged for a seller's review (the server's default).</summary>
    public const double ReviewThreshold = 0.9;

    /// <param name="trainedAt">When (the caller's clock; kept in the card as UTC, to the second).</param>
    public static CategoryClassifier Train(IReadOnlyList<ProductRow> rows, IReadOnlyList<ProductRow> feedback, ClassifierSettings settings, DateTimeOffset trainedAt)
    {
        var fit = rows.Where(r => CrossValidation.FoldOf(r.Cluster, Folds) != 0).Concat(feedback).ToList();
        var held = rows.Where(r => CrossValidation.FoldOf(r.Cluster, Folds) == 0).ToList();
        if (fit.Count == 0 || held.Count == 0)
        {
            throw new ArgumentException($"calibration needs rows on both sides of the split ({fit.Count} to fit, {held.Count} held out): too few product clusters");
        }
        var first = CategoryClassifier.Train(fit, settings);
        var raw = first.ScoreAll(held);
        var truth = Calibration.Indices(first.Categories, held.Select(r => r.Category));
        var known = Enumerable.Range(0, held.Count).Where(i => truth[i] >= 0).ToList();
        var temperature = Calibration.FitTemperature([.. known.Select(i => raw[i])], [.. known.Select(i => truth[i])]);
        var before = Calibration.Report(raw, truth, ReviewThreshold).Ece;
        var scaled = raw.Select(p => Calibration.Scale(p.Select(v => (float)v).ToArray(), temperature)).ToList();
        var after = Calibration.Report(scaled, truth, ReviewThreshold).Ece;
        var predicted = raw.Select(p => first.Categories[Calibration.Top(p)]).ToList();
        var macroF1 = ClassifierScores.Of(held.Select(r => r.Category).ToList(), predicted).MacroF1;

        var all = rows.Concat(feedback).ToList();
        var model = CategoryClassifier.Train(all, settings);
        model.Calibrate(new ModelCard(Version(settings, all, temperature), settings.ToString(), rows.Count, feedback.Count, temperature,
            held.Count, before, after, macroF1, trainedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)));
        return model;
    }

    /// <summary>The first 12 hex digits of SHA-256 over the settings, every training row and the temperature.</summary>
    public static string Version(ClassifierSettings settings, IEnumerable<ProductRow> rows, double temperature)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text + "\n"));
        Add(settings.ToString());
        foreach (var row in rows)
        {
            Add(row.Title + "\t" + row.Category);
        }
        Add(temperature.ToString("R", CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..12];
    }
}

/// <summary>
/// Per-category decision offsets: the prediction is the category with the highest log-probability plus its offset,
/// the offsets chosen (coordinate ascent over a grid) to maximise macro-F1 on out-of-fold predictions of the training
/// split. Macro-F1 weighs every category alike, so a category the model under-predicts (its recall below its
/// precision) gains from a positive offset at a small cost to the large ones.
/// </summary>
public static class DecisionOffsets
{
    /// <summary>The grid: offsets from −<see cref="Range"/> to +<see cref="Range"/> in steps of <see cref="Step"/> (log-probability units).</summary>
    public const double Step = 0.05, Range = 1.0;

    /// <summary>Passes over the categories.</summary>
    public const int Passes = 3;

    public static int Decide(double[] probabilities, IReadOnlyList<double> offsets)
    {
        var best = 0;
        var bestScore = double.NegativeInfinity;
        for (var c = 0; c < probabilities.Length; c++)
        {
            var score = Math.Log(Math.Max(probabilities[c], 1e-300)) + offsets[c];
            if (score > bestScore)
            {
                (best, bestScore) = (c, score);
            }
        }
        return best;
    }

    public static double[] Fit(IReadOnlyList<double[]> probabilities, IReadOnlyList<int> truth, int categories)
    {
        var offsets = new double[categories];
        var best = MacroF1(probabilities, truth, offsets, categories);
        for (var pass = 0; pass < Passes; pass++)
        {
            var improved = false;
            for (var c = 0; c < categories; c++)
            {
                var keep = offsets[c];
                for (var value = -Range; value <= Range + 1e-9; value += Step)
                {
                    offsets[c] = value;
                    var score = MacroF1(probabilities, truth, offsets, categories);
                    if (score > best + 1e-12)
                    {
                        (best, keep, improved) = (score, value, true);
                    }
                }
                offsets[c] = keep;
            }
            if (!improved)
            {
                break;
            }
        }
        return offsets;
    }

    public static double MacroF1(IReadOnlyList<double[]> probabilities, IReadOnlyList<int> truth, IReadOnlyList<double> offsets, int categories)
    {
        var (tp, fp, fn) = (new int[categories], new int[categories], new int[categories]);
        for (var i = 0; i < probabilities.Count; i++)
        {
            var predicted = Decide(probabilities[i], offsets);
            if (predicted == truth[i])
            {
                tp[predicted]++;
            }
            else
            {
                fp[predicted]++;
                if (truth[i] >= 0)
                {
                    fn[truth[i]]++;
                }
            }
        }
        double sum = 0;
        var present = 0;
        for (var c = 0; c < categories; c++)
        {
            if (tp[c] + fn[c] == 0)
            {
                continue; // a category absent from the truth does not count, as in ClassifierScores
            }
            present++;
            sum += tp[c] == 0 ? 0 : 2.0 * tp[c] / (2 * tp[c] + fp[c] + fn[c]);
        }
        return present == 0 ? 0 : sum / present;
    }
}
