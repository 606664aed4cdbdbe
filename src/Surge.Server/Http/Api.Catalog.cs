namespace Surge.Server;

// /v1 endpoints: SKUs and their categories.
public sealed partial class Api
{
    private void MapCatalog(IEndpointRouteBuilder v1)
    {
        v1.MapPost("/skus", Handler(UpsertSku)).WithName("upsertSku").WithSummary("Create or update one of the seller's SKUs").WithTags("catalog")
            .Accepts<SkuBody>("application/json").Example("""{"sku":"mug-blue","title":"Blue glazed mug 350 ml","price_minor":12900,"currency":"KRW","weight_g":350,"temperature":"ambient","hazmat":false,"category":"Kitchen"}""").Produces<SkuResponse>(201).Produces<SkuResponse>(200).Problems(400, 401, 403, 409, 422, 429, 503)
            .Idempotent(201);
        v1.MapPost("/skus/batch", Handler(UpsertSkus)).WithName("upsertSkus").WithSummary("Create or update up to 1,000 of the seller's SKUs").WithTags("catalog")
            .Accepts<SkuBatchRequest>("application/json").Example("""{"skus":[{"sku":"mug-blue","title":"Blue glazed mug 350 ml","price_minor":12900,"currency":"KRW","weight_g":350,"temperature":"ambient"}]}""").Produces<SkuBatchResponse>(200).Problems(400, 401, 403, 422, 429, 503)
            .Idempotent(200);
        v1.MapPost("/skus/import", Handler(ImportSkus)).WithName("importSkus")
            .WithSummary("Create or update the seller's SKUs from a spreadsheet (CSV or XLSX, header row first); answers what became of every row")
            .WithTags("catalog").Accepts<string>("text/csv", SkuImport.XlsxType).Produces<SkuImportResponse>(200).Problems(400, 401, 403, 413, 415, 422, 429, 503)
            .Query("currency", ParameterType.String, "Currency of rows without one (an ISO 4217 code such as KRW).")
            .Query("encoding", ParameterType.String, "Text encoding of a CSV file (default: UTF-8, else CP949, else GB18030, whichever reads).");
        v1.MapGet("/skus", Handler(ListSkus)).WithName("listSkus")
            .WithSummary("The seller's SKUs in catalog order with their stock, optionally those whose code or title contains q")
            .WithTags("catalog").Produces<SkuList>(200).Problems(401, 403, 422).Paged()
            .Query("q", ParameterType.String, $"Only SKUs whose code or title contains this text (any case; up to {SkuSearchCharsMax} characters).");
        v1.MapGet("/skus/{sku}", Handler(GetSku)).WithName("getSku").WithSummary("A SKU's catalog attributes and flash sale").WithTags("catalog")
            .Produces<SkuResponse>(200).Problems(401, 403, 404, 422)
            .Query("seller_id", ParameterType.String, "Admin key: the seller whose SKU this is (a seller key names itself).");
        v1.MapGet("/category-reviews", Handler(CategoryReviews)).WithName("listCategoryReviews")
            .WithSummary("SKUs whose suggested category needs a look (low confidence) or is still pending; a seller sees its own, admin all or ?seller_id=")
            .WithTags("catalog").Produces<CategoryReviewList>(200).Problems(401, 403, 422);
    }

    private async Task UpsertSku(HttpContext context)
    {
        var principal = Authorize(context, Role.Seller);
        var seller = principal.SellerId;
        await IdempotentWriteAsync(context, principal, ApiJson.Default.SkuBody, ApiJson.Default.SkuResponse, async body =>
        {
            var written = await state.Skus.UpsertAsync(seller, Definition(seller, body));
            ApiProblemException.ThrowIf(written.Problem);
            state.Skus.RecordCategories(seller, [(body.Sku, body.Title, body.Category, written.Suggestion)]);
            var view = await Gateway.Grain(Gateway.PartitionOf(seller)).GetSku(written.Sku);
            return (written.Created ? 201 : 200, SkuResponse(view!), (string?)null);
        });
    }

    /// <summary>Up to <see cref="ServerOptions.BatchSkusMax"/> SKUs; each is validated and written on its own, so one
    /// refused SKU does not fail the others.</summary>
    private async Task UpsertSkus(HttpContext context)
    {
        var principal = Authorize(context, Role.Seller);
        await IdempotentWriteAsync(context, principal, ApiJson.Default.SkuBatchRequest, ApiJson.Default.SkuBatchResponse,
            async body => (200, await UpsertSkusAsync(principal.SellerId, body), (string?)null));
    }

    private async Task<SkuBatchResponse> UpsertSkusAsync(long seller, SkuBatchRequest body)
    {
        if (body.Skus.Length == 0 || body.Skus.Length > Options.Http.BatchSkusMax)
        {
            throw new RequestShapeException($"skus: 1 to {Options.Http.BatchSkusMax} items");
        }
        var results = await Task.WhenAll(body.Skus.Select(async (item, i) =>
        {
            SkuDefinition definition;
            try
            {
                definition = Definition(seller, item ?? throw new RequestShapeException($"skus[{i}]: a SKU object, not null"));
            }
            catch (RequestShapeException e)
            {
                return (Result: new BatchItemResult(422, null, Problems.Body(422, "invalid_request", e.Message)), Item: item, Written: default(SkuWrite));
            }
            var written = await state.Skus.UpsertAsync(seller, definition);
            var result = written.Problem is { } problem
                ? new BatchItemResult(Problems.StatusOf(problem.Kind), null, Problems.Body(problem))
                : new BatchItemResult(written.Created ? 201 : 200, item.Sku);
            return (Result: result, Item: item, Written: written);
        }));
        state.Skus.RecordCategories(seller, [.. results.Where(r => r.Result.Problem is null)
            .Select(r => (r.Item!.Sku, r.Item.Title, r.Item.Category, r.Written.Suggestion))]);
        return new SkuBatchResponse([.. results.Select(r => r.Result)]);
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

    /// <summary>A spreadsheet of SKUs (<see cref="SkuImport"/>): every row planned, the good ones written in batches of
    /// <see cref="ServerOptions.BatchSkusMax"/> like <c>POST /v1/skus/batch</c>, and every row answered. Writing a SKU is
    /// an upsert, so sending the same file again changes nothing more.</summary>
    private async Task ImportSkus(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var type = context.Request.ContentType ?? "";
        if (!SkuImport.ContentTypes.Any(t => type.StartsWith(t, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ApiProblemException(415, "unsupported_media_type", $"send the file as one of {string.Join(", ", SkuImport.ContentTypes)}");
        }
        var query = context.Request.Query;
        var currency = query["currency"].ToString().Trim().ToUpperInvariant();
        if (currency.Length > 0 && !CurrencyCode.IsValid(currency))
        {
            throw new RequestShapeException("currency: an ISO 4217 code such as \"KRW\"");
        }
        var file = await ReadFileAsync(context, SkuImport.FileBytesMax);
        var (table, encoding) = SkuImport.ReadTable(file, query["encoding"].ToString() is { Length: > 0 } e ? e.Trim().ToLowerInvariant() : null);
        var entries = SkuImport.Plan(table, currency.Length > 0 ? currency : null);
        var report = new SkuImportRow[entries.Count];
        var writes = entries.Select((entry, i) => (entry, i)).Where(x => x.entry.Body is not null).ToArray();
        foreach (var (entry, i) in entries.Select((entry, i) => (entry, i)).Where(x => x.entry.Outcome is not null))
        {
            report[i] = entry.Outcome!;
        }
        foreach (var chunk in writes.Chunk(Options.Http.BatchSkusMax))
        {
            var answer = await UpsertSkusAsync(seller, new SkuBatchRequest([.. chunk.Select(x => x.entry.Body!)]));
            for (var j = 0; j < chunk.Length; j++)
            {
                var (entry, i) = chunk[j];
                var result = answer.Results[j];
                var notes = entry.Notes.Length == 0 ? null : entry.Notes;
                report[i] = result.Problem is { } problem
                    ? new SkuImportRow(entry.Row, "refused", entry.Body!.Sku, problem.Code, problem.Detail, notes)
                    : new SkuImportRow(entry.Row, result.Status == 201 ? "created" : "updated", entry.Body!.Sku, Notes: notes);
            }
        }
        await WriteAsync(context, 200, new SkuImportResponse(report.Length, report.Count(r => r.Status == "created"), report.Count(r => r.Status == "updated"),
            report.Count(r => r.Status == "refused"), report.Count(r => r.Status == "skipped"), encoding, report), ApiJson.Default.SkuImportResponse);
    }

    /// <summary>Longest search text of the SKU listing, in characters.</summary>
    public const int SkuSearchCharsMax = 100;

    /// <summary>A page of the caller's SKUs, read from its partition's catalog (a bounded scan per page: the cursor is
    /// where the scan stopped, so a page may be short and still have a next).</summary>
    private async Task ListSkus(HttpContext context)
    {
        var seller = Authorize(context, Role.Seller).SellerId;
        var query = context.Request.Query;
        var limit = query.TryGetValue("limit", out var l) ? ParseInt(l, "limit", 1, PageOrdersMax) : PageOrdersDefault;
        var from = query.TryGetValue("cursor", out var c) ? ParseInt(c, "cursor", 0, int.MaxValue) : 0;
        var search = query["q"].ToString().Trim();
        if (search.Length > SkuSearchCharsMax)
        {
            throw new RequestShapeException($"q: at most {SkuSearchCharsMax} characters");
        }
        var page = await Gateway.Grain(Gateway.PartitionOf(seller)).ListSkus(seller, search.Length == 0 ? null : search, from, limit, PageScanMax);
        var items = page.Skus.Select(v =>
        {
            var r = SkuResponse(v);
            long onHand = v.Stock.Sum(s => (long)s.OnHand), reserved = v.Stock.Sum(s => (long)s.Reserved), sold = v.Stock.Sum(s => s.Sold);
            return new SkuListItem(r.Sku, r.Title, r.Category, r.PriceMinor, r.Currency, r.WeightG, r.Temperature, r.Hazmat, r.FlashSale,
                r.CategorySuggestion, onHand, reserved, onHand - reserved, sold,
                v.LengthMm == 0 && v.WidthMm == 0 && v.HeightMm == 0 ? null : new DimensionsBody(v.LengthMm, v.WidthMm, v.HeightMm));
        }).ToArray();
        var next = page.More ? page.NextIndex.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        await WriteAsync(context, 200, new SkuList(items, next), ApiJson.Default.SkuList);
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
