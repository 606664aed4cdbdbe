using Surge.Core;

namespace Surge.Server;

/// <summary>What an upsert of a SKU came to: its engine reference and whether it was new, the category suggestion
/// it got (when the seller gave none), or the problem.</summary>
public readonly record struct SkuWrite(int Sku, bool Created, CategorySuggestion? Suggestion, Problem? Problem);

/// <summary>
/// Writes to the catalog that involve more than one service: a SKU created without a category gets the classifier's
/// suggestion, is upserted in its seller's partition and enters the routing catalog; SKUs created while the model
/// was loading get theirs once it is ready. No HTTP here (the endpoints validate and answer).
/// </summary>
public sealed class SkuWrites(Gateway gateway, Catalog catalog, CategoryService categories, ServerOptions options)
{
    public async Task<SkuWrite> UpsertAsync(long seller, SkuDefinition definition)
    {
        CategorySuggestion? suggestion = null;
        if (definition.Category.Length == 0 && (suggestion = categories.Suggest(seller, definition.Code, definition.Title)) is { Pending: false })
        {
            definition = definition with { Category = suggestion.Category };
        }
        var existed = await catalog.FindSkuAsync(seller, definition.Code) >= 0;
        var (result, problem) = await gateway.SubmitWithinAsync(gateway.PartitionOf(seller), w => w.UpsertSku(definition), options.Http.RequestDeadline);
        if (problem is not null)
        {
            return new SkuWrite(-1, false, null, problem);
        }
        var sku = (int)result.Outcome.Ref;
        catalog.AddSku(seller, definition.Code, sku);
        return new SkuWrite(sku, !existed, suggestion, null);
    }

    /// <summary>Keeps the category suggestions of accepted upserts (one fsync), and forgets the suggestions of SKUs
    /// whose seller now gave a category.</summary>
    public void RecordCategories(long seller, IReadOnlyList<(string Sku, bool CategoryGiven, CategorySuggestion? Suggestion)> accepted)
    {
        categories.Record(accepted.Where(a => a.Suggestion is not null).Select(a => a.Suggestion!).ToList());
        categories.Clear(accepted.Where(a => a.CategoryGiven).Select(a => (seller, a.Sku)).ToList());
    }

    /// <summary>Once the category model is ready: suggests a category for every SKU created while it was loading
    /// and upserts it (unless the seller gave one meanwhile).</summary>
    public async Task ApplyPendingCategoriesAsync(IReadOnlyList<CategorySuggestion> pending)
    {
        foreach (var item in pending)
        {
            if (await catalog.FindSkuAsync(item.SellerId, item.Sku) is not (>= 0 and var sku)
                || (await gateway.Grain(gateway.PartitionOf(item.SellerId)).GetSku(sku))?.Definition() is not { } definition
                || definition.Category.Length > 0)
            {
                continue;
            }
            var suggestion = categories.Suggest(item.SellerId, item.Sku, definition.Title)!;
            var result = await gateway.Submit(gateway.PartitionOf(item.SellerId), w => w.UpsertSku(definition with { Category = suggestion.Category }));
            if (result.Outcome.Accepted)
            {
                categories.Record([suggestion]); // right after its upsert: the SKU shows "pending" no longer than that
            }
        }
    }
}
