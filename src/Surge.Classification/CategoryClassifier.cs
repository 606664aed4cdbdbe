using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

namespace Surge.Classification;

/// <summary>How the classifier is built: the longest word and character n-grams of the text features, the
/// learner's L2 regularization (null: ML.NET's default, chosen from the data) and its passes over the data
/// (null: until converged).</summary>
public sealed record ClassifierSettings(int WordNgrams = 1, int CharNgrams = 5, float? Regularization = null, int? Passes = null)
{
    /// <summary>The settings chosen by cross-validation on the training split, folds by product cluster
    /// (`surge classify tune`; the table is in docs/BENCHMARKS.md). The test split took no part in it.</summary>
    public static ClassifierSettings Tuned { get; } = new(WordNgrams: 1, CharNgrams: 5, Regularization: 1e-6f);

    /// <summary>The same features with ML.NET's default regularization: the baseline next to the tuned model.</summary>
    public static ClassifierSettings Default { get; } = new(WordNgrams: 1, CharNgrams: 5);

    public override string ToString() =>
        $"words 1..{WordNgrams}, chars 1..{CharNgrams}, L2 {(Regularization is { } r ? r.ToString("g3") : "default")}{(Passes is { } p ? $", {p} passes" : "")}";
}

/// <summary>A category suggested for a title, with the model's probability for it (0..1).</summary>
public readonly record struct Suggestion(string Category, float Confidence);

/// <summary>What is kept with a saved model: its version (a hash of the settings, the training rows and the
/// temperature, so the same training gives the same version), when and from what it was trained, the
/// calibration temperature and the calibration measured on the held-out clusters.</summary>
public sealed record ModelCard(string Version, string Settings, int TrainingRows, int FeedbackRows, double Temperature,
    int CalibrationRows, double CalibrationEceBefore, double CalibrationEceAfter, double CalibrationMacroF1, string TrainedAt);

/// <summary>
/// Suggests a product category from its title: a linear multiclass model (SDCA maximum entropy, so the scores
/// are probabilities) over word 1..n-grams and character 1..n-grams of the lower-cased title. Trained from the
/// PriceRunner training split in about half a minute on 2 cores; nothing is downloaded. Thread-safe.
/// </summary>
public sealed class CategoryClassifier
{
    private readonly MLContext _context;
    private readonly ITransformer _model;
    private readonly PredictionEngine<ProductRow, Prediction> _engine;
    private readonly Lock _gate = new();

    private readonly DataViewSchema _inputSchema;

    private CategoryClassifier(MLContext context, ITransformer model, DataViewSchema inputSchema, string[] categories)
    {
        _context = context;
        _model = model;
        _inputSchema = inputSchema;
        Categories = categories;
        _engine = context.Model.CreatePredictionEngine<ProductRow, Prediction>(model);
    }

    /// <summary>The calibration temperature the probabilities are divided by (in log space) before they are
    /// reported: 1 leaves the learner's probabilities as they are. See <see cref="Calibration"/>.</summary>
    public double Temperature { get; private set; } = 1;

    /// <summary>The model's card: set by <see cref="Calibrate"/> and kept by <see cref="Save"/>; null for a
    /// model that was never calibrated (or a file written before cards existed).</summary>
    public ModelCard? Card { get; private set; }

    /// <summary>Sets the temperature and the card (the card's temperature must be the one given).</summary>
    public void Calibrate(ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        if (!(card.Temperature > 0) || !double.IsFinite(card.Temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(card), card.Temperature, "the temperature must be a positive number");
        }
        (Temperature, Card) = (card.Temperature, card);
    }

    /// <summary>The categories the model knows, in the order of its score vector.</summary>
    public IReadOnlyList<string> Categories { get; }

    private sealed class Prediction
    {
        [ColumnName("PredictedLabel")]
        public string Category { get; set; } = "";

        public float[] Score { get; set; } = [];
    }

    private const string ModelEntry = "mlnet-model.zip";
    private const string CardEntry = "model-card.json";
    private static readonly JsonSerializerOptions CardJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>Writes the trained model so a later start can load it instead of training: a zip holding
    /// ML.NET's model and, when the model has one, its card (version, temperature, training metrics).</summary>
    public void Save(Stream destination)
    {
        using var archive = new ZipArchive(destination, ZipArchiveMode.Create, leaveOpen: true);
        using (var entry = archive.CreateEntry(ModelEntry, CompressionLevel.NoCompression).Open())
        {
            _context.Model.Save(_model, _inputSchema, entry);
        }
        if (Card is { } card)
        {
            using var entry = archive.CreateEntry(CardEntry).Open();
            JsonSerializer.Serialize(entry, card, CardJson);
        }
    }

    /// <summary>Loads a model written by <see cref="Save"/>, or a bare ML.NET model (as written before model
    /// cards existed: temperature 1, no card).</summary>
    public static CategoryClassifier Load(Stream source)
    {
        var copy = new MemoryStream();
        source.CopyTo(copy);
        copy.Position = 0;
        ModelCard? card = null;
        Stream modelStream = copy;
        using (var archive = new ZipArchive(copy, ZipArchiveMode.Read, leaveOpen: true))
        {
            if (archive.GetEntry(ModelEntry) is { } entry)
            {
                var inner = new MemoryStream();
                using (var e = entry.Open())
                {
                    e.CopyTo(inner);
                }
                inner.Position = 0;
                modelStream = inner;
                if (archive.GetEntry(CardEntry) is { } cardEntry)
                {
                    using var c = cardEntry.Open();
                    card = JsonSerializer.Deserialize<ModelCard>(c, CardJson);
                }
            }
        }
        copy.Position = 0;
        var context = new MLContext(0);
        var model = context.Model.Load(modelStream, out var inputSchema);
        var classifier = new CategoryClassifier(context, model, inputSchema, SlotNames(model, inputSchema));
        if (card is not null)
        {
            classifier.Calibrate(card);
        }
        return classifier;
    }

    private static string[] SlotNames(ITransformer model, DataViewSchema inputSchema)
    {
        var labels = default(VBuffer<ReadOnlyMemory<char>>);
        model.GetOutputSchema(inputSchema)["Score"].GetSlotNames(ref labels);
        return labels.DenseValues().Select(l => l.ToString()).ToArray();
    }

    public static CategoryClassifier Train(IReadOnlyList<ProductRow> rows, ClassifierSettings settings, int seed = 0)
    {
        if (rows.Count == 0)
        {
            throw new ArgumentException("no rows to train on", nameof(rows));
        }
        var context = new MLContext(seed);
        var data = context.Data.LoadFromEnumerable(rows);
        var pipeline = context.Transforms.Conversion.MapValueToKey("Label", nameof(ProductRow.Category))
            .Append(context.Transforms.Text.FeaturizeText("Features", new TextFeaturizingEstimator.Options
            {
                CaseMode = TextNormalizingEstimator.CaseMode.Lower,
                KeepDiacritics = false,
                KeepPunctuations = true,
                KeepNumbers = true,
                WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = settings.WordNgrams, UseAllLengths = true },
                CharFeatureExtractor = new WordBagEstimator.Options { NgramLength = settings.CharNgrams, UseAllLengths = true },
                Norm = TextFeaturizingEstimator.NormFunction.L2,
            }, nameof(ProductRow.Title)))
            .AppendCacheCheckpoint(context) // the learners pass over the data many times: featurize once
            .Append(Learner(context, settings))
            .Append(context.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(data);
        return new CategoryClassifier(context, model, data.Schema, SlotNames(model, data.Schema));
    }

    private static Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer Learner(MLContext context, ClassifierSettings settings) =>
        context.MulticlassClassification.Trainers.SdcaMaximumEntropy(new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = "Label",
            FeatureColumnName = "Features",
            L2Regularization = settings.Regularization,
            L1Regularization = settings.Regularization is null ? null : 0f,
            MaximumNumberOfIterations = settings.Passes,
        });

    /// <summary>The most probable category of <paramref name="title"/> and its probability.</summary>
    public Suggestion Suggest(string title)
    {
        ArgumentNullException.ThrowIfNull(title);
        Prediction prediction;
        lock (_gate)
        {
            prediction = _engine.Predict(new ProductRow { Title = title });
        }
        var best = prediction.Score.Length == 0 ? 0 : Calibration.Scale(prediction.Score, Temperature).Max();
        return new Suggestion(prediction.Category, (float)best);
    }

    /// <summary>Each title's calibrated probabilities, in the order of <see cref="Categories"/> (batch scoring).</summary>
    public double[][] ScoreAll(IReadOnlyList<ProductRow> rows)
    {
        var scored = _model.Transform(_context.Data.LoadFromEnumerable(rows));
        return scored.GetColumn<float[]>("Score").Select(s => Calibration.Scale(s, Temperature)).ToArray();
    }

    /// <summary>Predicted categories of many titles at once (batch scoring, much faster than one by one).</summary>
    public string[] PredictAll(IReadOnlyList<ProductRow> rows)
    {
        var scored = _model.Transform(_context.Data.LoadFromEnumerable(rows));
        return scored.GetColumn<string>("PredictedLabel").ToArray();
    }
}
