using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

namespace Surge.Classification;

/// <summary>The linear learner: SDCA maximum entropy (softmax; scores are probabilities) or one linear SVM per
/// category (one-versus-all, Platt-calibrated scores).</summary>
public enum ClassifierTrainer
{
    MaximumEntropy,
    LinearSvm,
}

/// <summary>How the classifier is built: n-gram lengths and weighting of the text features, the learner and its
/// regularization (null: ML.NET's default) and passes over the data (null: the learner's default).</summary>
public sealed record ClassifierSettings(
    int WordNgrams = 2,
    int CharNgrams = 5,
    float? Regularization = null,
    ClassifierTrainer Trainer = ClassifierTrainer.MaximumEntropy,
    bool TfIdf = false,
    int? Passes = null)
{
    /// <summary>The settings chosen by cross-validation on the training split, folds by product cluster
    /// (`surge classify tune`; the table is in docs/BENCHMARKS.md). The test split took no part in it.</summary>
    public static ClassifierSettings Tuned { get; } = new(WordNgrams: 1, CharNgrams: 5, Regularization: 1e-6f);

    /// <summary>Word and character n-grams with ML.NET's default regularization: the baseline next to the tuned model.</summary>
    public static ClassifierSettings Default { get; } = new(WordNgrams: 1, CharNgrams: 5);

    public override string ToString() =>
        $"{Trainer}, words 1..{WordNgrams}, chars 1..{CharNgrams}{(TfIdf ? ", tf-idf" : "")}, "
        + $"regularization {(Regularization is { } r ? r.ToString("g3") : "default")}{(Passes is { } p ? $", {p} passes" : "")}";
}

/// <summary>A category suggested for a title, with the model's probability for it (0..1).</summary>
public readonly record struct Suggestion(string Category, float Confidence);

/// <summary>
/// Suggests a product category from its title: a linear multiclass model (SDCA maximum entropy, so the scores
/// are probabilities) over word 1..n-grams and character 1..n-grams of the lower-cased title. Trained in
/// seconds from the PriceRunner training split; nothing is downloaded. Thread-safe.
/// </summary>
public sealed class CategoryClassifier
{
    private readonly MLContext _context;
    private readonly ITransformer _model;
    private readonly PredictionEngine<ProductRow, Prediction> _engine;
    private readonly Lock _gate = new();

    private CategoryClassifier(MLContext context, ITransformer model, string[] categories)
    {
        _context = context;
        _model = model;
        Categories = categories;
        _engine = context.Model.CreatePredictionEngine<ProductRow, Prediction>(model);
    }

    /// <summary>The categories the model knows, in the order of its score vector.</summary>
    public IReadOnlyList<string> Categories { get; }

    private sealed class Prediction
    {
        [ColumnName("PredictedLabel")]
        public string Category { get; set; } = "";

        public float[] Score { get; set; } = [];
    }

    public static CategoryClassifier Train(IReadOnlyList<ProductRow> rows, ClassifierSettings settings, int seed = 0)
    {
        if (rows.Count == 0)
        {
            throw new ArgumentException("no rows to train on", nameof(rows));
        }
        var context = new MLContext(seed);
        var data = context.Data.LoadFromEnumerable(rows);
        var weighting = settings.TfIdf ? NgramExtractingEstimator.WeightingCriteria.TfIdf : NgramExtractingEstimator.WeightingCriteria.Tf;
        var pipeline = context.Transforms.Conversion.MapValueToKey("Label", nameof(ProductRow.Category))
            .Append(context.Transforms.Text.FeaturizeText("Features", new TextFeaturizingEstimator.Options
            {
                CaseMode = TextNormalizingEstimator.CaseMode.Lower,
                KeepDiacritics = false,
                KeepPunctuations = true,
                KeepNumbers = true,
                WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = settings.WordNgrams, UseAllLengths = true, Weighting = weighting },
                CharFeatureExtractor = new WordBagEstimator.Options { NgramLength = settings.CharNgrams, UseAllLengths = true, Weighting = weighting },
                Norm = TextFeaturizingEstimator.NormFunction.L2,
            }, nameof(ProductRow.Title)))
            .AppendCacheCheckpoint(context) // the learners pass over the data many times: featurize once
            .Append(Learner(context, settings))
            .Append(context.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(data);
        var labels = default(VBuffer<ReadOnlyMemory<char>>);
        model.GetOutputSchema(data.Schema)["Score"].GetSlotNames(ref labels);
        var categories = labels.DenseValues().Select(l => l.ToString()).ToArray();
        return new CategoryClassifier(context, model, categories);
    }

    private static IEstimator<ITransformer> Learner(MLContext context, ClassifierSettings settings) => settings.Trainer switch
    {
        ClassifierTrainer.LinearSvm => context.MulticlassClassification.Trainers.OneVersusAll(
            context.BinaryClassification.Trainers.LinearSvm(new Microsoft.ML.Trainers.LinearSvmTrainer.Options
            {
                LabelColumnName = "Label",
                FeatureColumnName = "Features",
                Lambda = settings.Regularization ?? 0.001f,
                NumberOfIterations = settings.Passes ?? 1,
            }), labelColumnName: "Label"),
        _ => context.MulticlassClassification.Trainers.SdcaMaximumEntropy(new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = "Label",
            FeatureColumnName = "Features",
            L2Regularization = settings.Regularization,
            L1Regularization = settings.Regularization is null ? null : 0f,
            MaximumNumberOfIterations = settings.Passes,
        }),
    };

    /// <summary>The most probable category of <paramref name="title"/> and its probability.</summary>
    public Suggestion Suggest(string title)
    {
        ArgumentNullException.ThrowIfNull(title);
        Prediction prediction;
        lock (_gate)
        {
            prediction = _engine.Predict(new ProductRow { Title = title });
        }
        var best = prediction.Score.Length == 0 ? 0 : prediction.Score.Max();
        return new Suggestion(prediction.Category, best);
    }

    /// <summary>Predicted categories of many titles at once (batch scoring, much faster than one by one).</summary>
    public string[] PredictAll(IReadOnlyList<ProductRow> rows)
    {
        var scored = _model.Transform(_context.Data.LoadFromEnumerable(rows));
        return scored.GetColumn<string>("PredictedLabel").ToArray();
    }

    public void Save(string path)
    {
        using var file = File.Create(path);
        _context.Model.Save(_model, null, file);
    }
}
