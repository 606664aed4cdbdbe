using System.Text.Json;
using Microsoft.Extensions.Logging;
using Surge.Classification;

namespace Surge.Server;

/// <summary>Where the category model stands.</summary>
public enum ClassifierState
{
    /// <summary>No model file and no training data configured: SKUs keep the category they are given.</summary>
    Disabled,
    /// <summary>Loading or training in the background; SKUs without a category wait (pending).</summary>
    Loading,
    Ready,
    Failed,
}

/// <summary>A category suggested for a SKU created without one. <see cref="Pending"/>: the model was not ready
/// yet, the SKU has no category until it is.</summary>
public sealed record CategorySuggestion(long SellerId, string Sku, string Category, float Confidence, bool NeedsReview, bool Pending);

/// <summary>
/// Category suggestions for SKUs created without a category: the product-title classifier
/// (<see cref="CategoryClassifier"/>) loaded from <see cref="ServerOptions.CategoryModelFile"/>, or trained at the
/// first start from <see cref="ServerOptions.CategoryTrainingFile"/> in the background (about half a minute)
/// and saved there for the next start. The suggestion becomes the SKU's category in its partition; its
/// confidence and the review flag (below <see cref="ServerOptions.CategoryReviewBelow"/>) are kept in
/// <c>categories.jsonl</c> (one fsync'd line per change) and shown with the SKU. A seller who later sets the
/// category replaces the suggestion.
/// </summary>
public sealed class CategoryService : IDisposable
{
    public const string LogFile = "categories.jsonl";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly ServerOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<(long Seller, string Sku), CategorySuggestion> _bySku = [];
    private readonly FileStream _log;
    private volatile CategoryClassifier? _model;
    private Task _loading = Task.CompletedTask;

    private sealed record LogLine(long SellerId, string Sku, string? Category, float Confidence, bool NeedsReview, bool Pending, bool Cleared);

    public CategoryService(ServerOptions options)
    {
        _options = options;
        var path = Path.Combine(options.DataDirectory, LogFile);
        if (File.Exists(path))
        {
            foreach (var line in File.ReadLines(path))
            {
                LogLine? entry;
                try
                {
                    entry = JsonSerializer.Deserialize<LogLine>(line, Json);
                }
                catch (JsonException)
                {
                    continue; // a line torn by a crash: the SKU keeps its category, only the confidence is lost
                }
                if (entry is not null)
                {
                    Index(entry);
                }
            }
        }
        _log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        State = options.Categories.ModelFile is not null && (File.Exists(options.Categories.ModelFile) || options.Categories.TrainingFile is not null)
            || options.Categories.ModelLoader is not null ? ClassifierState.Loading : ClassifierState.Disabled;
    }

    public ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public ClassifierState State { get; private set; }

    /// <summary>Why loading failed, when <see cref="State"/> is Failed.</summary>
    public string? Problem { get; private set; }

    /// <summary>Loads or trains the model in the background; once it is ready, hands the SKUs still pending to
    /// <paramref name="applyPending"/> (which reads their titles, upserts the suggested category and records it).</summary>
    public void Start(Func<IReadOnlyList<CategorySuggestion>, Task> applyPending)
    {
        if (State != ClassifierState.Loading)
        {
            return;
        }
        _loading = Task.Run(async () =>
        {
            try
            {
                var model = await LoadAsync().ConfigureAwait(false);
                _model = model;
                State = ClassifierState.Ready;
                var pending = Where(s => s.Pending);
                if (pending.Count > 0)
                {
                    await applyPending(pending).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                Problem = e.Message;
                State = ClassifierState.Failed;
                Log.LogError(e, "the category model could not be loaded or trained; SKUs without a category stay pending");
            }
        });
    }

    private async Task<CategoryClassifier> LoadAsync()
    {
        if (_options.Categories.ModelLoader is { } loader)
        {
            return await loader().ConfigureAwait(false);
        }
        var file = _options.Categories.ModelFile!;
        if (File.Exists(file))
        {
            await using var stream = File.OpenRead(file);
            return CategoryClassifier.Load(stream);
        }
        var rows = ProductData.Read(_options.Categories.TrainingFile!, out _);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = CategoryClassifier.Train(rows, ClassifierSettings.Tuned);
        if (Log.IsEnabled(LogLevel.Information))
        {
            Log.LogInformation("category model trained from {Rows} titles in {Seconds:F1} s", rows.Count, clock.Elapsed.TotalSeconds);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        var temp = file + ".tmp";
        await using (var stream = File.Create(temp))
        {
            model.Save(stream);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, file, overwrite: true);
        return model;
    }

    /// <summary>Waits for the background load (tests and shutdown).</summary>
    public Task Loaded => _loading;

    /// <summary>The suggestion for a SKU being created without a category: from the model when it is ready, a
    /// pending one while it loads; null when suggestions are disabled or the load failed.</summary>
    public CategorySuggestion? Suggest(long seller, string sku, string title)
    {
        if (_model is { } model)
        {
            var suggestion = model.Suggest(title);
            return new CategorySuggestion(seller, sku, suggestion.Category, suggestion.Confidence,
                suggestion.Confidence < _options.Categories.ReviewBelow, Pending: false);
        }
        return State == ClassifierState.Loading ? new CategorySuggestion(seller, sku, "", 0, NeedsReview: false, Pending: true) : null;
    }

    public CategorySuggestion? Find(long seller, string sku)
    {
        lock (_gate)
        {
            return _bySku.GetValueOrDefault((seller, sku));
        }
    }

    public List<CategorySuggestion> Where(Func<CategorySuggestion, bool> filter)
    {
        lock (_gate)
        {
            return _bySku.Values.Where(filter).ToList();
        }
    }

    /// <summary>Keeps suggestions (durably: one fsync for all of them).</summary>
    public void Record(IReadOnlyList<CategorySuggestion> suggestions) =>
        Append(suggestions.Select(s => new LogLine(s.SellerId, s.Sku, s.Category, s.Confidence, s.NeedsReview, s.Pending, Cleared: false)));

    /// <summary>The seller set these SKUs' categories: their suggestions no longer apply.</summary>
    public void Clear(IReadOnlyList<(long Seller, string Sku)> skus)
    {
        List<(long, string)> known;
        lock (_gate)
        {
            known = skus.Where(_bySku.ContainsKey).ToList();
        }
        Append(known.Select(k => new LogLine(k.Item1, k.Item2, null, 0, false, false, Cleared: true)));
    }

    private void Append(IEnumerable<LogLine> lines)
    {
        var entries = lines.ToList();
        if (entries.Count == 0)
        {
            return;
        }
        lock (_gate)
        {
            foreach (var entry in entries)
            {
                _log.Write(JsonSerializer.SerializeToUtf8Bytes(entry, Json));
                _log.WriteByte((byte)'\n');
            }
            _log.Flush(flushToDisk: true);
            foreach (var entry in entries)
            {
                IndexLocked(entry);
            }
        }
    }

    private void Index(LogLine entry)
    {
        lock (_gate)
        {
            IndexLocked(entry);
        }
    }

    private void IndexLocked(LogLine entry)
    {
        if (entry.Cleared)
        {
            _bySku.Remove((entry.SellerId, entry.Sku));
            return;
        }
        _bySku[(entry.SellerId, entry.Sku)] = new CategorySuggestion(entry.SellerId, entry.Sku, entry.Category ?? "", entry.Confidence,
            entry.NeedsReview, entry.Pending);
    }

    public void Dispose() => _log.Dispose();
}
