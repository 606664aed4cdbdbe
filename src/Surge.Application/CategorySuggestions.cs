using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Surge.Application;

/// <summary>Where the category model stands.</summary>
public enum ClassifierState
{
    /// <summary>No model configured: SKUs keep the category they are given.</summary>
    Disabled,
    /// <summary>Loading or training in the background; SKUs without a category wait (pending).</summary>
    Loading,
    Ready,
    Failed,
}

/// <summary>A category suggested for a SKU created without one. <see cref="Pending"/>: the model was not ready
/// yet, the SKU has no category until it is.</summary>
public sealed record CategorySuggestion(long SellerId, string Sku, string Category, float Confidence, bool NeedsReview, bool Pending);

/// <summary>A product-title classifier: the most likely category of a title and its probability (0..1).</summary>
public interface ICategoryModel
{
    (string Category, float Confidence) Suggest(string title);
}

/// <summary>One change to the kept suggestions: a suggestion for a SKU, or (<see cref="Cleared"/>) its removal
/// because the seller set the category. A removal keeps the suggested <see cref="Category"/>, the SKU's
/// <see cref="Title"/> and the category the seller set (<see cref="Label"/>): a labelled example for
/// <c>surge classify train --feedback</c> (accepted when the two categories agree, replaced when not).</summary>
public sealed record CategoryLogLine(long SellerId, string Sku, string? Category, float Confidence, bool NeedsReview, bool Pending, bool Cleared,
    string? Title = null, string? Label = null);

/// <summary>Where the suggestions are kept: read once at start, appended to durably (the host: a JSON-lines file).</summary>
public interface ICategorySuggestionLog : IDisposable
{
    /// <summary>Every line kept so far, oldest first (lines a crash tore are skipped).</summary>
    IEnumerable<CategoryLogLine> ReadAll();

    /// <summary>Appends the lines; durable when it returns.</summary>
    void Append(IReadOnlyList<CategoryLogLine> lines);
}

/// <summary>
/// Category suggestions for SKUs created without a category: from the model once it is loaded (in the background,
/// through the loader the host gives), "pending" while it loads. A suggestion below <c>reviewBelow</c> is flagged for
/// review; suggestions are kept (with their confidence and flag) in the log so they survive a restart, and a seller
/// who later sets the category clears them.
/// </summary>
public sealed class CategorySuggestions : IDisposable
{
    private readonly ICategorySuggestionLog _log;
    private readonly Func<Task<ICategoryModel>>? _loader;
    private readonly float _reviewBelow;
    private readonly Lock _gate = new();
    private readonly Dictionary<(long Seller, string Sku), CategorySuggestion> _bySku = [];
    private volatile ICategoryModel? _model;
    private Task _loading = Task.CompletedTask;

    /// <param name="loader">Loads (or trains) the model; null when suggestions are disabled.</param>
    /// <param name="reviewBelow">A suggestion whose probability is below this is flagged for review (0..1).</param>
    public CategorySuggestions(ICategorySuggestionLog log, Func<Task<ICategoryModel>>? loader, float reviewBelow)
    {
        if (reviewBelow is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(reviewBelow), reviewBelow, "the review threshold is a probability 0..1");
        }
        _log = log;
        _loader = loader;
        _reviewBelow = reviewBelow;
        foreach (var line in log.ReadAll())
        {
            Index(line);
        }
        State = loader is null ? ClassifierState.Disabled : ClassifierState.Loading;
    }

    public ILogger Log { get; set; } = NullLogger.Instance;

    public ClassifierState State { get; private set; }

    /// <summary>Why loading failed, when <see cref="State"/> is Failed.</summary>
    public string? Problem { get; private set; }

    /// <summary>Waits for the background load (tests and shutdown).</summary>
    public Task Loaded => _loading;

    /// <summary>Loads the model in the background; once it is ready, hands the SKUs still pending to
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
                _model = await _loader!().ConfigureAwait(false);
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

    /// <summary>The suggestion for a SKU being created without a category: from the model when it is ready, a
    /// pending one while it loads; null when suggestions are disabled or the load failed.</summary>
    public CategorySuggestion? Suggest(long seller, string sku, string title)
    {
        if (_model is { } model)
        {
            var (category, confidence) = model.Suggest(title);
            return new CategorySuggestion(seller, sku, category, confidence, confidence < _reviewBelow, Pending: false);
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

    /// <summary>Keeps suggestions (durably, in one append).</summary>
    public void Record(IReadOnlyList<CategorySuggestion> suggestions) =>
        Append([.. suggestions.Select(s => new CategoryLogLine(s.SellerId, s.Sku, s.Category, s.Confidence, s.NeedsReview, s.Pending, Cleared: false))]);

    /// <summary>The seller set these SKUs' categories: their suggestions no longer apply, and each becomes a
    /// labelled title (what was suggested, what the seller chose).</summary>
    public void Clear(IReadOnlyList<(long Seller, string Sku, string Title, string Label)> skus)
    {
        List<CategoryLogLine> lines;
        lock (_gate)
        {
            lines = [.. skus.Where(k => _bySku.ContainsKey((k.Seller, k.Sku))).Select(k => new CategoryLogLine(k.Seller, k.Sku,
                _bySku[(k.Seller, k.Sku)].Category, 0, false, false, Cleared: true, k.Title, k.Label))];
        }
        Append(lines);
    }

    private void Append(List<CategoryLogLine> lines)
    {
        if (lines.Count == 0)
        {
            return;
        }
        lock (_gate)
        {
            _log.Append(lines);
            foreach (var line in lines)
            {
                IndexLocked(line);
            }
        }
    }

    private void Index(CategoryLogLine line)
    {
        lock (_gate)
        {
            IndexLocked(line);
        }
    }

    private void IndexLocked(CategoryLogLine line)
    {
        if (line.Cleared)
        {
            _bySku.Remove((line.SellerId, line.Sku));
            return;
        }
        _bySku[(line.SellerId, line.Sku)] = new CategorySuggestion(line.SellerId, line.Sku, line.Category ?? "", line.Confidence, line.NeedsReview, line.Pending);
    }

    public void Dispose() => _log.Dispose();
}
