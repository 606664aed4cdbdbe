using Microsoft.Extensions.Time.Testing;
using Surge.Application;
using Surge.Core;

namespace Surge.Simulation;

/// <summary>The catalog's application service over partitions in memory: category suggestions while the model loads
/// and once it is ready, the review flag, a seller's own category, and stock writes answered as problems.</summary>
public class CatalogWritesTests
{
    private const long Seller = 7;

    private sealed class MemoryLog : ICategorySuggestionLog
    {
        public List<CategoryLogLine> Lines { get; } = [];
        public IEnumerable<CategoryLogLine> ReadAll() => [.. Lines];
        public void Append(IReadOnlyList<CategoryLogLine> lines) => Lines.AddRange(lines);
        public void Dispose()
        {
        }
    }

    /// <summary>Says "toys" for titles with "lego" (confidence 0.95), else "misc" (0.5).</summary>
    private sealed class KeywordModel : ICategoryModel
    {
        public (string Category, float Confidence) Suggest(string title) =>
            title.Contains("lego", StringComparison.OrdinalIgnoreCase) ? ("toys", 0.95f) : ("misc", 0.5f);
    }

    private static SkuDefinition Sku(string code, string title, string category = "") =>
        new(Seller, code, title, category, 300, 10, 10, 10, TemperatureClass.Ambient, false, 1_000, "KRW");

    private static (SimulatedPartitions Partitions, CatalogWrites Writes) Build(CategorySuggestions categories)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        var partitions = new SimulatedPartitions(2, seed: 1, clock);
        return (partitions, new CatalogWrites(partitions, partitions, categories, TimeSpan.FromSeconds(5), clock));
    }

    [Fact]
    public async Task ASkuCreatedWhileTheModelLoads_IsPending_AndGetsItsCategoryOnceTheModelIsReady()
    {
        var ready = new TaskCompletionSource<ICategoryModel>();
        var log = new MemoryLog();
        using var categories = new CategorySuggestions(log, () => ready.Task, reviewBelow: 0.9f);
        var (partitions, writes) = Build(categories);
        categories.Start(writes.ApplyPendingCategoriesAsync);

        var written = await writes.UpsertAsync(Seller, Sku("lego-1", "LEGO City fire station"));
        Assert.Null(written.Problem);
        Assert.True(written.Created);
        Assert.True(written.Suggestion!.Pending);
        writes.RecordCategories(Seller, [("lego-1", "LEGO City fire station", null, written.Suggestion)]);
        Assert.Equal("", (await partitions.GetSku(partitions.PartitionOf(Seller), written.Sku))!.Category);

        ready.SetResult(new KeywordModel());
        await categories.Loaded.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(ClassifierState.Ready, categories.State);
        Assert.Equal("toys", (await partitions.GetSku(partitions.PartitionOf(Seller), written.Sku))!.Category);
        var kept = categories.Find(Seller, "lego-1")!;
        Assert.False(kept.Pending);
        Assert.False(kept.NeedsReview);
        // What was kept survives a restart: a new instance over the same log knows the suggestion.
        using var reopened = new CategorySuggestions(log, loader: null, reviewBelow: 0.9f);
        Assert.Equal("toys", reopened.Find(Seller, "lego-1")!.Category);
    }

    [Fact]
    public async Task ALowConfidenceSuggestion_NeedsReview_AndASellersOwnCategoryClearsIt_KeepingALabelledTitle()
    {
        var log = new MemoryLog();
        using var categories = new CategorySuggestions(log, () => Task.FromResult<ICategoryModel>(new KeywordModel()), reviewBelow: 0.9f);
        var (partitions, writes) = Build(categories);
        categories.Start(writes.ApplyPendingCategoriesAsync);
        await categories.Loaded.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        var written = await writes.UpsertAsync(Seller, Sku("mug", "Enamel camping mug"));
        writes.RecordCategories(Seller, [("mug", "Enamel camping mug", null, written.Suggestion)]);
        Assert.True(categories.Find(Seller, "mug")!.NeedsReview);
        Assert.Equal("misc", (await partitions.GetSku(partitions.PartitionOf(Seller), written.Sku))!.Category);

        var again = await writes.UpsertAsync(Seller, Sku("mug", "Enamel camping mug", "kitchen"));
        Assert.False(again.Created);
        Assert.Null(again.Suggestion);
        writes.RecordCategories(Seller, [("mug", "Enamel camping mug", "kitchen", again.Suggestion)]);
        Assert.Null(categories.Find(Seller, "mug"));
        // the seller replaced the suggestion: the log keeps what was suggested, the title and the seller's category
        var labelled = Assert.Single(log.Lines, l => l.Cleared);
        Assert.Equal(("misc", "Enamel camping mug", "kitchen"), (labelled.Category, labelled.Title, labelled.Label));
        Assert.Equal("kitchen", (await partitions.GetSku(partitions.PartitionOf(Seller), again.Sku))!.Category);
    }

    [Fact]
    public async Task WithoutAModel_SkusKeepTheCategoryTheyAreGiven_AndStockWritesAnswerProblems()
    {
        using var categories = new CategorySuggestions(new MemoryLog(), loader: null, reviewBelow: 0.9f);
        var (partitions, writes) = Build(categories);
        Assert.Equal(ClassifierState.Disabled, categories.State);

        var written = await writes.UpsertAsync(Seller, Sku("tea", "Green tea 100 g"));
        Assert.Null(written.Suggestion);
        Assert.Equal("", (await partitions.GetSku(partitions.PartitionOf(Seller), written.Sku))!.Category);

        // No warehouse exists: a receipt is refused by the engine, as a problem rather than an exception.
        var refused = await writes.ReceiveStockAsync(Seller, written.Sku, warehouse: 0, quantity: 5);
        Assert.Equal((Refusal.Conflict, "unknown_warehouse"), (refused!.Value.Kind, refused.Value.Code));
        partitions.PowerFail();
        var down = await writes.ConfigureFlashSaleAsync(Seller, written.Sku, startsAtMs: 0, perBuyerLimit: 1);
        Assert.Equal(Refusal.Unavailable, down!.Value.Kind);
    }
}
