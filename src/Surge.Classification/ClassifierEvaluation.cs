namespace Surge.Classification;

/// <summary>Precision, recall and F1 of one category, and how many test rows carry it.</summary>
public sealed record CategoryScore(string Category, int Support, double Precision, double Recall, double F1);

/// <summary>Accuracy, macro-F1 (the unweighted mean of the per-category F1) and the per-category scores.</summary>
public sealed record ClassifierScores(double Accuracy, double MacroF1, IReadOnlyList<CategoryScore> Categories, int Rows)
{
    /// <summary>Scores predicted labels against true ones. A category with no predictions has precision 0.</summary>
    public static ClassifierScores Of(IReadOnlyList<string> truth, IReadOnlyList<string> predicted)
    {
        if (truth.Count != predicted.Count || truth.Count == 0)
        {
            throw new ArgumentException($"need as many predictions as labels, at least one ({truth.Count} vs {predicted.Count})");
        }
        var categories = truth.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var scores = new List<CategoryScore>(categories.Length);
        foreach (var category in categories)
        {
            int tp = 0, fp = 0, fn = 0;
            for (var i = 0; i < truth.Count; i++)
            {
                var (isTrue, isPredicted) = (truth[i] == category, predicted[i] == category);
                tp += isTrue && isPredicted ? 1 : 0;
                fp += !isTrue && isPredicted ? 1 : 0;
                fn += isTrue && !isPredicted ? 1 : 0;
            }
            var precision = tp + fp == 0 ? 0 : tp / (double)(tp + fp);
            var recall = tp + fn == 0 ? 0 : tp / (double)(tp + fn);
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            scores.Add(new CategoryScore(category, tp + fn, precision, recall, f1));
        }
        var correct = truth.Zip(predicted).Count(p => p.First == p.Second);
        return new ClassifierScores(correct / (double)truth.Count, scores.Average(s => s.F1), scores, truth.Count);
    }
}

/// <summary>Cross-validation on a training set with folds by product cluster (a cluster's offers are never on
/// both sides), used to choose <see cref="ClassifierSettings"/> without looking at the test split.</summary>
public static class CrossValidation
{
    /// <summary>Mean macro-F1 over the first <paramref name="run"/> of <paramref name="folds"/> folds (each held
    /// out in turn).</summary>
    public static double MeanMacroF1(IReadOnlyList<ProductRow> rows, ClassifierSettings settings, int folds = 5, int? run = null)
    {
        var scores = new List<double>(folds);
        for (var fold = 0; fold < Math.Min(folds, run ?? folds); fold++)
        {
            var train = rows.Where(r => FoldOf(r.Cluster, folds) != fold).ToList();
            var held = rows.Where(r => FoldOf(r.Cluster, folds) == fold).ToList();
            var model = CategoryClassifier.Train(train, settings);
            scores.Add(ClassifierScores.Of(held.Select(r => r.Category).ToList(), model.PredictAll(held)).MacroF1);
        }
        return scores.Average();
    }

    /// <summary>A cluster's fold: a stable hash of its id (FNV-1a), so folds do not depend on row order.</summary>
    public static int FoldOf(string cluster, int folds)
    {
        var hash = 2166136261u;
        foreach (var ch in cluster)
        {
            hash = (hash ^ ch) * 16777619u;
        }
        return (int)(hash % (uint)folds);
    }
}
