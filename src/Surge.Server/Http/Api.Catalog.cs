using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Surge.Core;

namespace Surge.Server;

// /v1 endpoints: SKUs and their categories.
public sealed partial class Api
{
    private void MapCatalog(IEndpointRouteBuilder v1)
    {
        v1.MapPost("/skus", Handler(UpsertSku)).WithName("upsertSku").WithSummary("Create or update one of the seller's SKUs").WithTags("catalog")
            .Accepts<SkuBody>("application/json").Produces<SkuResponse>(201).Produces<SkuResponse>(200).Problems(400, 401, 403, 409, 422, 429, 503);
        v1.MapPost("/skus/batch", Handler(UpsertSkus)).WithName("upsertSkus").WithSummary("Create or update up to 1,000 of the seller's SKUs").WithTags("catalog")
            .Accepts<SkuBatchRequest>("application/json").Produces<SkuBatchResponse>(200).Problems(400, 401, 403, 422, 429, 503);
        v1.MapGet("/skus/{sku}", Handler(GetSku)).WithName("getSku").WithSummary("A SKU's catalog attributes and flash sale").WithTags("catalog")
            .Produces<SkuResponse>(200).Problems(401, 403, 404, 422);
        v1.MapGet("/category-reviews", Handler(CategoryReviews)).WithName("listCategoryReviews")
            .WithSummary("SKUs whose suggested category needs a look (low confidence) or is still pending; a seller sees its own, admin all or ?seller_id=")
            .WithTags("catalog").Produces<CategoryReviewList>(200).Problems(401, 403, 422);
    }

    private async Task UpsertSku(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var body = await ReadAsync(context, ApiJson.Default.SkuBody);
        var (status, sku, problem, suggestion) = await UpsertOneAsync(seller, body);
        if (problem is not null)
        {
            throw new ApiProblemException(problem.Status, problem.Code, problem.Detail);
        }
        RecordCategories(seller, [(body, suggestion)]);
        var view = await Gateway.Grain(Gateway.PartitionOf(seller)).GetSku(sku);
        await WriteAsync(context, status, SkuResponse(view!), ApiJson.Default.SkuResponse);
    }

    private async Task UpsertSkus(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var body = await ReadAsync(context, ApiJson.Default.SkuBatchRequest);
        if (body.Skus.Length == 0 || body.Skus.Length > Options.BatchSkusMax)
        {
            throw new RequestShapeException($"skus: 1 to {Options.BatchSkusMax} items");
        }
        var results = await Task.WhenAll(body.Skus.Select(async item =>
        {
            var (status, _, problem, suggestion) = await UpsertOneAsync(seller, item);
            return (Result: new BatchItemResult(status, problem is null ? item.Sku : null, problem), Item: item, Suggestion: suggestion);
        }));
        RecordCategories(seller, results.Where(r => r.Result.Problem is null).Select(r => (r.Item, r.Suggestion)).ToList());
        await WriteAsync(context, 200, new SkuBatchResponse(results.Select(r => r.Result).ToArray()), ApiJson.Default.SkuBatchResponse);
    }

    /// <summary>Keeps the category suggestions of accepted upserts (one fsync), and forgets the suggestions of SKUs
    /// whose seller now gave a category.</summary>
    private void RecordCategories(long seller, IReadOnlyList<(SkuBody Body, CategorySuggestion? Suggestion)> accepted)
    {
        state.Categories.Record(accepted.Where(a => a.Suggestion is not null).Select(a => a.Suggestion!).ToList());
        state.Categories.Clear(accepted.Where(a => !string.IsNullOrEmpty(a.Body.Category)).Select(a => (seller, a.Body.Sku)).ToList());
    }

    /// <summary>Once the category model is ready: suggests a category for every SKU created while it was loading
    /// and upserts it (unless the seller gave one meanwhile).</summary>
    internal async Task ApplyPendingCategoriesAsync(IReadOnlyList<CategorySuggestion> pending)
    {
        foreach (var item in pending)
        {
            if (await Catalog.FindSkuAsync(item.SellerId, item.Sku) is not (>= 0 and var sku)
                || (await Gateway.Grain(Gateway.PartitionOf(item.SellerId)).GetSku(sku))?.Definition() is not { } definition
                || definition.Category.Length > 0)
            {
                continue;
            }
            var suggestion = state.Categories.Suggest(item.SellerId, item.Sku, definition.Title)!;
            var result = await Gateway.Submit(Gateway.PartitionOf(item.SellerId), w => w.UpsertSku(definition with { Category = suggestion.Category }));
            if (result.Outcome.Accepted)
            {
                state.Categories.Record([suggestion]); // right after its upsert: the SKU shows "pending" no longer than that
            }
        }
    }

    private async Task<(int Status, int Sku, ProblemBody? Problem, CategorySuggestion? Suggestion)> UpsertOneAsync(long seller, SkuBody body)
    {
        SkuDefinition definition;
        CategorySuggestion? suggestion = null;
        try
        {
            definition = Definition(seller, body);
            if (definition.Category.Length == 0 && (suggestion = state.Categories.Suggest(seller, definition.Code, definition.Title)) is { Pending: false })
            {
                definition = definition with { Category = suggestion.Category };
            }
        }
        catch (RequestShapeException e)
        {
            return (422, -1, Problems.Body(422, "invalid_request", e.Message), null);
        }
        var existed = await Catalog.FindSkuAsync(seller, definition.Code) >= 0;
        Runtime.CommandResult result;
        try
        {
            result = await Gateway.Submit(Gateway.PartitionOf(seller), w => w.UpsertSku(definition)).WaitAsync(Options.RequestDeadline);
        }
        catch (AdmissionException e)
        {
            return (Problems.StatusOf(e.Kind), -1, Problems.Body(e.Problem), null);
        }
        if (!result.Outcome.Accepted)
        {
            var problem = Problem.Of(result.Outcome.Reason);
            return (Problems.StatusOf(problem.Kind), -1, Problems.Body(problem), null);
        }
        var sku = (int)result.Outcome.Ref;
        Catalog.AddSku(seller, definition.Code, sku);
        return (existed ? 200 : 201, sku, null, suggestion);
    }

    private static SkuDefinition Definition(long seller, SkuBody body)
    {
        var temperature = body.Temperature switch
        {
            "ambient" => TemperatureClass.Ambient,
            "chilled" => TemperatureClass.Chilled,
            "frozen" => TemperatureClass.Frozen,
            _ => throw new RequestShapeException("temperature: one of ambient, chilled, frozen"),
        };
        if (body.PriceMinor is < 0 or > Limits.PriceMinorMax)
        {
            throw new RequestShapeException($"price_minor: 0 to {Limits.PriceMinorMax} minor units");
        }
        if (body.WeightG is < 0 or > Limits.WeightGramsMax)
        {
            throw new RequestShapeException($"weight_g: 0 to {Limits.WeightGramsMax} grams");
        }
        if (!CurrencyCode.IsValid(body.Currency))
        {
            throw new RequestShapeException("currency: an ISO 4217 code such as \"KRW\"");
        }
        var dims = body.DimensionsMm ?? new DimensionsBody(0, 0, 0);
        foreach (var (value, name) in new[] { (dims.LengthMm, "length_mm"), (dims.WidthMm, "width_mm"), (dims.HeightMm, "height_mm") })
        {
            if (value is < 0 or > Limits.DimensionMmMax)
            {
                throw new RequestShapeException($"dimensions_mm.{name}: 0 to {Limits.DimensionMmMax} mm");
            }
        }
        return new SkuDefinition(seller, Code(body.Sku, "sku"), Text(body.Title, "title", TitleCharsMax),
            body.Category is null ? "" : Text(body.Category, "category", CategoryCharsMax), body.WeightG,
            dims.LengthMm, dims.WidthMm, dims.HeightMm, temperature, body.Hazmat, body.PriceMinor, body.Currency);
    }

    private async Task GetSku(HttpContext context)
    {
        var (seller, sku) = await ResolveSkuAsync(context, (string)context.Request.RouteValues["sku"]!);
        var view = await Gateway.Grain(Gateway.PartitionOf(seller)).GetSku(sku)
            ?? throw new ApiProblemException(404, RejectReason.UnknownSku.ToCode(), "no such SKU");
        await WriteAsync(context, 200, SkuResponse(view), ApiJson.Default.SkuResponse);
    }

    private SkuResponse SkuResponse(SkuView view) => new(view.Code, Ids.Seller(view.SellerId), view.Title, view.Category, view.PriceMinor,
        view.Currency, view.WeightGrams, view.Temperature.ToString().ToLowerInvariant(), view.Hazmat,
        view.FlashStartsAtMs is { } starts ? new FlashSaleBody(DateTimeOffset.FromUnixTimeMilliseconds(starts), view.PerBuyerLimit) : null,
        state.Categories.Find(view.SellerId, view.Code) is { } s ? SuggestionBody(s) : null);

    private static CategorySuggestionBody SuggestionBody(CategorySuggestion s) =>
        new(s.Pending ? null : s.Category, s.Pending ? null : MathF.Round(s.Confidence, 4), s.NeedsReview, s.Pending);

    private Task CategoryReviews(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller);
        long? seller = principal.Role == Role.Seller ? principal.SellerId : null;
        if (principal.Role == Role.Admin && context.Request.Query.TryGetValue("seller_id", out var given))
        {
            seller = Ids.TryParseSeller(given.ToString(), out var id) ? id : throw new RequestShapeException("seller_id: a seller id (\"sel_…\")");
        }
        var items = state.Categories.Where(s => (s.NeedsReview || s.Pending) && (seller is null || s.SellerId == seller))
            .OrderBy(s => s.SellerId).ThenBy(s => s.Sku, StringComparer.Ordinal).Take(PageOrdersMax)
            .Select(s => new CategoryReviewBody(Ids.Seller(s.SellerId), s.Sku, SuggestionBody(s))).ToArray();
        return WriteAsync(context, 200, new CategoryReviewList(state.Categories.State.ToString().ToLowerInvariant(), items),
            ApiJson.Default.CategoryReviewList);
    }
}
