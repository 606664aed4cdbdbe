using Surge.Core;
using Surge.Runtime;

namespace Surge.Application;

/// <summary>What an upsert of a SKU came to: its engine reference and whether it was new, the category suggestion
/// it got (when the seller gave none), or the problem.</summary>
public readonly record struct SkuWrite(int Sku, bool Created, CategorySuggestion? Suggestion, Problem? Problem);

/// <summary>The routing catalog a write keeps current: (seller, code) → the SKU's engine reference.</summary>
public interface ISkuCatalog : ISkuDirectory
{
    void AddSku(long sellerId, string code, int sku);
}

/// <summary>Commands to a partition under a deadline, each way they can fail as a <see cref="Problem"/>.</summary>
public static class PartitionCommands
{
    /// <summary>One command under a deadline: not admitted, not answered within <paramref name="deadline"/> (by
    /// <paramref name="clock"/>), or refused by the engine come back as the problem; the result otherwise.</summary>
    public static async Task<(CommandResult Result, Problem? Problem)> SubmitWithinAsync(this IPartitions partitions, int partition,
        Action<CommandWriter> encode, TimeSpan deadline, TimeProvider clock)
    {
        try
        {
            var result = await partitions.Submit(partition, encode).WaitAsync(deadline, clock).ConfigureAwait(false);
            return (result, result.Outcome.Accepted ? null : Problem.Of(result.Outcome.Reason));
        }
        catch (AdmissionException e)
        {
            return (default, e.Problem);
        }
        catch (TimeoutException)
        {
            return (default, Problem.DeadlineExceeded(deadline));
        }
    }
}

/// <summary>
/// A seller's writes to its catalog and stock: a SKU created without a category gets the model's suggestion, is
/// upserted in the seller's partition and enters the routing catalog; SKUs created while the model was loading get
/// theirs once it is ready; stock receipts and flash sales go to the seller's partition. Each write is answered
/// within <c>deadline</c> or comes back as a problem.
/// </summary>
public sealed class CatalogWrites(IPartitions partitions, ISkuCatalog catalog, CategorySuggestions categories, TimeSpan deadline, TimeProvider clock)
{
    public async Task<SkuWrite> UpsertAsync(long seller, SkuDefinition definition)
    {
        CategorySuggestion? suggestion = null;
        if (definition.Category.Length == 0 && (suggestion = categories.Suggest(seller, definition.Code, definition.Title)) is { Pending: false })
        {
            definition = definition with { Category = suggestion.Category };
        }
        var existed = await catalog.FindSkuAsync(seller, definition.Code).ConfigureAwait(false) >= 0;
        var (result, problem) = await SubmitAsync(seller, w => w.UpsertSku(definition)).ConfigureAwait(false);
        if (problem is not null)
        {
            return new SkuWrite(-1, false, null, problem);
        }
        var sku = (int)result.Outcome.Ref;
        catalog.AddSku(seller, definition.Code, sku);
        return new SkuWrite(sku, !existed, suggestion, null);
    }

    /// <summary>Keeps the category suggestions of accepted upserts (one durable append), and forgets the suggestions
    /// of SKUs whose seller now gave a category (<c>Category</c> null or empty: none given), keeping the title and
    /// the seller's category as a labelled example.</summary>
    public void RecordCategories(long seller, IReadOnlyList<(string Sku, string Title, string? Category, CategorySuggestion? Suggestion)> accepted)
    {
        categories.Record([.. accepted.Where(a => a.Suggestion is not null).Select(a => a.Suggestion!)]);
        categories.Clear([.. accepted.Where(a => !string.IsNullOrEmpty(a.Category)).Select(a => (seller, a.Sku, a.Title, a.Category!))]);
    }

    /// <summary>Once the category model is ready: suggests a category for every SKU created while it was loading
    /// and upserts it (unless the seller gave one meanwhile).</summary>
    public async Task ApplyPendingCategoriesAsync(IReadOnlyList<CategorySuggestion> pending)
    {
        foreach (var item in pending)
        {
            if (await catalog.FindSkuAsync(item.SellerId, item.Sku).ConfigureAwait(false) is not (>= 0 and var sku)
                || await partitions.GetSku(partitions.PartitionOf(item.SellerId), sku).ConfigureAwait(false) is not { } definition
                || definition.Category.Length > 0)
            {
                continue;
            }
            var suggestion = categories.Suggest(item.SellerId, item.Sku, definition.Title)!;
            var result = await partitions.Submit(partitions.PartitionOf(item.SellerId), w => w.UpsertSku(definition with { Category = suggestion.Category }))
                .ConfigureAwait(false);
            if (result.Outcome.Accepted)
            {
                categories.Record([suggestion]); // right after its upsert: the SKU shows "pending" no longer than that
            }
        }
    }

    /// <summary>Adds <paramref name="quantity"/> units of a SKU to a warehouse's stock; with <paramref name="key"/>
    /// once per key (a repeat adds nothing and gets the first answer).</summary>
    public async Task<Problem?> ReceiveStockAsync(long seller, int sku, int warehouse, int quantity, IdempotencyKey? key = null) =>
        (await SubmitAsync(seller, w =>
        {
            if (key is { } keyed)
            {
                w.Keyed(keyed);
            }
            w.ReceiveStock(sku, warehouse, quantity);
        }).ConfigureAwait(false)).Problem;

    /// <summary>Adds (<paramref name="delta"/> &gt; 0) or takes out units of a SKU in a warehouse outside an order.</summary>
    public async Task<Problem?> AdjustStockAsync(long seller, int sku, int warehouse, int delta) =>
        (await SubmitAsync(seller, w => w.AdjustStock(sku, warehouse, delta)).ConfigureAwait(false)).Problem;

    /// <summary>Puts a SKU on flash sale from <paramref name="startsAtMs"/>, at most <paramref name="perBuyerLimit"/> units per buyer.</summary>
    public async Task<Problem?> ConfigureFlashSaleAsync(long seller, int sku, long startsAtMs, int perBuyerLimit) =>
        (await SubmitAsync(seller, w => w.ConfigureFlashSale(sku, startsAtMs, perBuyerLimit)).ConfigureAwait(false)).Problem;

    private Task<(CommandResult Result, Problem? Problem)> SubmitAsync(long seller, Action<CommandWriter> encode) =>
        partitions.SubmitWithinAsync(partitions.PartitionOf(seller), encode, deadline, clock);
}
