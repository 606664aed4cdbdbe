using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Surge.Client;

/// <summary>Connection settings of a <see cref="SurgeClient"/>; every bound has its unit in its name.</summary>
public sealed record SurgeClientOptions
{
    /// <summary>Keep-alive HTTP/1.1 connections to the server at most (a load generator wants many).</summary>
    public int ConnectionsMax { get; init; } = 64;

    /// <summary>How long one request may take, answer included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>An answer as it came: status, body bytes and the headers a caller may need.</summary>
public sealed record SurgeResponse(int Status, byte[] Body, string? ContentType, TimeSpan? RetryAfter, bool Replayed)
{
    public bool IsSuccess => Status is >= 200 and < 300;

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>
/// The typed client of Surge's /v1 API. One instance holds a pool of keep-alive connections and the API key it sends
/// (<see cref="WithKey"/> gives a view that sends another key over the same pool). Typed calls return the contract's
/// records and throw <see cref="SurgeApiException"/> for a problem+json answer; <see cref="SendAsync"/> and
/// <see cref="PostJsonAsync"/> give the raw answer for callers that check statuses themselves (load generators).
/// Writes take an optional Idempotency-Key: the same key with the same body replays the stored answer.
/// </summary>
public sealed class SurgeClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly AuthenticationHeaderValue _authorization;

    public SurgeClient(Uri baseAddress, string apiKey, SurgeClientOptions? options = null)
    {
        options ??= new SurgeClientOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ConnectionsMax, 1);
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.ConnectionsMax,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseProxy = false,
        })
        {
            BaseAddress = baseAddress,
            Timeout = options.RequestTimeout,
        };
        _ownsHttp = true;
        _authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        ApiKey = apiKey;
    }

    private SurgeClient(HttpClient http, string apiKey)
    {
        _http = http;
        _authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        ApiKey = apiKey;
    }

    public string ApiKey { get; }

    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>The same connections, another key (a seller's, a storefront's). Disposing the view does nothing.</summary>
    public SurgeClient WithKey(string apiKey) => new(_http, apiKey);

    // ---- raw ----

    /// <summary>Sends a request with an optional JSON body; the answer whatever its status.</summary>
    public async Task<SurgeResponse> SendAsync(HttpMethod method, string path, ReadOnlyMemory<byte>? json = null, string? idempotencyKey = null,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = _authorization;
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        if (json is { } content)
        {
            request.Content = new ReadOnlyMemoryContent(content);
            request.Content.Headers.ContentType = JsonType;
        }
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true");
        return new SurgeResponse((int)response.StatusCode, body, response.Content.Headers.ContentType?.MediaType, retryAfter, replayed);
    }

    /// <summary>POSTs prepared JSON (e.g. from <see cref="OrderBodies"/>); the answer whatever its status.</summary>
    public Task<SurgeResponse> PostJsonAsync(string path, ReadOnlyMemory<byte> json, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, path, json, idempotencyKey, cancellationToken);

    /// <summary>Sends and returns the JSON of a success; a problem answer throws <see cref="SurgeApiException"/>.</summary>
    public async Task<JsonNode> CheckedAsync(HttpMethod method, string path, ReadOnlyMemory<byte>? json = null, string? idempotencyKey = null,
        CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(method, path, json, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return response.IsSuccess ? response.Json ?? new JsonObject() : throw Problem(response);
    }

    /// <summary>The typed error of a non-success answer (problem+json, or whatever a proxy sent instead).</summary>
    public static SurgeApiException Problem(SurgeResponse response)
    {
        string code = "http_" + response.Status.ToString(CultureInfo.InvariantCulture), detail = "the server answered without a problem body";
        if (response.Body.Length > 0 && response.ContentType is "application/problem+json" or "application/json")
        {
            try
            {
                var problem = JsonSerializer.Deserialize(response.Body, ClientJson.Default.ProblemBody);
                if (problem is not null)
                {
                    (code, detail) = (problem.Code ?? code, problem.Detail ?? detail);
                }
            }
            catch (JsonException)
            {
            }
        }
        return new SurgeApiException(response.Status, code, detail, response.RetryAfter, System.Text.Encoding.UTF8.GetString(response.Body));
    }

    // ---- typed ----

    public Task<CreateSellerResponse> CreateSellerAsync(string name, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/sellers", new CreateSellerRequest(name), ClientJson.Default.CreateSellerRequest, ClientJson.Default.CreateSellerResponse, idempotencyKey, cancellationToken);

    public Task<CreateKeyResponse> CreateStorefrontKeyAsync(string name, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/storefront-keys", new CreateKeyRequest(name), ClientJson.Default.CreateKeyRequest, ClientJson.Default.CreateKeyResponse, idempotencyKey, cancellationToken);

    public Task<WarehouseBody> CreateWarehouseAsync(WarehouseBody warehouse, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/warehouses", warehouse, ClientJson.Default.WarehouseBody, ClientJson.Default.WarehouseBody, idempotencyKey, cancellationToken);

    public Task<WarehouseList> ListWarehousesAsync(CancellationToken cancellationToken = default) =>
        GetAsync("/v1/warehouses", ClientJson.Default.WarehouseList, cancellationToken);

    /// <summary>Creates or updates one of the caller's SKUs (a seller key).</summary>
    public Task<SkuResponse> UpsertSkuAsync(SkuBody sku, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/skus", sku, ClientJson.Default.SkuBody, ClientJson.Default.SkuResponse, idempotencyKey, cancellationToken);

    /// <summary>Creates or updates up to 1,000 SKUs; each has its own result (a refused one does not fail the rest).</summary>
    public Task<SkuBatchResponse> UpsertSkusAsync(IReadOnlyList<SkuBody> skus, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/skus/batch", new SkuBatchRequest([.. skus]), ClientJson.Default.SkuBatchRequest, ClientJson.Default.SkuBatchResponse, idempotencyKey, cancellationToken);

    public Task<SkuResponse> GetSkuAsync(string sku, CancellationToken cancellationToken = default) =>
        GetAsync($"/v1/skus/{Uri.EscapeDataString(sku)}", ClientJson.Default.SkuResponse, cancellationToken);

    public Task<StockResponse> ReceiveStockAsync(string sku, string warehouseId, int quantity, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/stock/receipts", new StockReceiptRequest(sku, warehouseId, quantity), ClientJson.Default.StockReceiptRequest, ClientJson.Default.StockResponse,
            idempotencyKey, cancellationToken);

    public Task<StockResponse> GetStockAsync(string sku, CancellationToken cancellationToken = default) =>
        GetAsync($"/v1/skus/{Uri.EscapeDataString(sku)}/stock", ClientJson.Default.StockResponse, cancellationToken);

    public Task<FlashSaleResponse> ConfigureFlashSaleAsync(string sku, DateTimeOffset startsAt, int perBuyerLimit, string? idempotencyKey = null,
        CancellationToken cancellationToken = default) =>
        PostAsync("/v1/flash-sales", new FlashSaleRequest(sku, startsAt, perBuyerLimit), ClientJson.Default.FlashSaleRequest, ClientJson.Default.FlashSaleResponse,
            idempotencyKey, cancellationToken);

    /// <summary>Places an order (one seller order per seller, all or nothing).</summary>
    public Task<OrderBody> PlaceOrderAsync(PlaceOrderRequest order, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        PostAsync("/v1/orders", order, ClientJson.Default.PlaceOrderRequest, ClientJson.Default.OrderBody, idempotencyKey, cancellationToken);

    /// <summary>Places up to 1,000 orders in one request; the answers come in request order, each accepted or refused.
    /// <paramref name="idempotencyKey"/> names the whole batch; <paramref name="orderKeys"/> (same length as
    /// <paramref name="orders"/>, null for none) name each order, so a retried batch places only what is new —
    /// also after a server restart or through another node.</summary>
    public async Task<List<OrderAnswer>> PlaceOrdersAsync(IReadOnlyList<PlaceOrderRequest> orders, string? idempotencyKey = null,
        IReadOnlyList<string?>? orderKeys = null, CancellationToken cancellationToken = default)
    {
        if (orderKeys is not null && orderKeys.Count != orders.Count)
        {
            throw new ArgumentException($"{orderKeys.Count} keys for {orders.Count} orders", nameof(orderKeys));
        }
        var body = OrderBodies.Batch(orders.Count, (json, i) => OrderBodies.Write(json, orders[i], orderKeys?[i]));
        var response = await PostJsonAsync("/v1/orders/batch", body, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return response.IsSuccess ? OrderBodies.ReadBatchAnswer(response.Body) : throw Problem(response);
    }

    public Task<OrderBody> GetOrderAsync(string id, CancellationToken cancellationToken = default) =>
        GetAsync($"/v1/orders/{Uri.EscapeDataString(id)}", ClientJson.Default.OrderBody, cancellationToken);

    public Task<OrderBody> PayOrderAsync(string id, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendTypedAsync(HttpMethod.Post, $"/v1/orders/{Uri.EscapeDataString(id)}/payment", null, ClientJson.Default.OrderBody, idempotencyKey, cancellationToken);

    public Task<OrderBody> CancelOrderAsync(string id, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendTypedAsync(HttpMethod.Post, $"/v1/orders/{Uri.EscapeDataString(id)}/cancel", null, ClientJson.Default.OrderBody, idempotencyKey, cancellationToken);

    /// <summary>One page of a seller's orders, oldest first; pass the page's <c>NextCursor</c> for the next. The filters
    /// (status code, placement time from/to, buyer id, SKU) need the server's read model.</summary>
    public Task<SellerOrderPage> ListSellerOrdersAsync(string sellerId, string? cursor = null, int? limit = null, string? status = null,
        DateTimeOffset? from = null, DateTimeOffset? to = null, string? buyerId = null, string? sku = null, CancellationToken cancellationToken = default) =>
        GetAsync(WithQuery($"/v1/sellers/{Uri.EscapeDataString(sellerId)}/orders", ("cursor", cursor), ("limit", limit?.ToString(CultureInfo.InvariantCulture)),
            ("status", status), ("from", Instant(from)), ("to", Instant(to)), ("buyer_id", buyerId), ("sku", sku)), ClientJson.Default.SellerOrderPage, cancellationToken);

    /// <summary>One page of a buyer's seller orders across sellers, oldest first (admin or storefront key).</summary>
    public Task<SellerOrderPage> ListBuyerOrdersAsync(string buyerId, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync(WithQuery($"/v1/buyers/{Uri.EscapeDataString(buyerId)}/orders", ("cursor", cursor), ("limit", limit?.ToString(CultureInfo.InvariantCulture))),
            ClientJson.Default.SellerOrderPage, cancellationToken);

    /// <summary>Units and revenue per SKU of a seller's paid orders, per day or per week ("day", "week"), for placement
    /// dates from <paramref name="from"/> up to (not including) <paramref name="to"/>; the last four weeks by default.</summary>
    public Task<SellerSalesResponse> GetSellerSalesAsync(string sellerId, DateOnly? from = null, DateOnly? to = null, string? granularity = null,
        CancellationToken cancellationToken = default) =>
        GetAsync(WithQuery($"/v1/sellers/{Uri.EscapeDataString(sellerId)}/sales", ("from", from?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            ("to", to?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("granularity", granularity)), ClientJson.Default.SellerSalesResponse, cancellationToken);

    private static string? Instant(DateTimeOffset? at) => at?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string WithQuery(string path, params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => p.Value is not null).Select(p => p.Name + "=" + Uri.EscapeDataString(p.Value!)).ToList();
        return given.Count == 0 ? path : path + "?" + string.Join('&', given);
    }

    /// <summary>The downstream stages' positions and lag (admin).</summary>
    public Task<FlowStatusResponse> GetFlowAsync(CancellationToken cancellationToken = default) =>
        GetAsync("/v1/flow", ClientJson.Default.FlowStatusResponse, cancellationToken);

    private Task<T> GetAsync<T>(string path, JsonTypeInfo<T> answer, CancellationToken cancellationToken) =>
        SendTypedAsync(HttpMethod.Get, path, null, answer, null, cancellationToken);

    private Task<TAnswer> PostAsync<TRequest, TAnswer>(string path, TRequest body, JsonTypeInfo<TRequest> request, JsonTypeInfo<TAnswer> answer,
        string? idempotencyKey, CancellationToken cancellationToken) =>
        SendTypedAsync(HttpMethod.Post, path, JsonSerializer.SerializeToUtf8Bytes(body, request), answer, idempotencyKey, cancellationToken);

    private async Task<T> SendTypedAsync<T>(HttpMethod method, string path, byte[]? body, JsonTypeInfo<T> answer, string? idempotencyKey,
        CancellationToken cancellationToken)
    {
        var response = await SendAsync(method, path, body, idempotencyKey, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw Problem(response);
        }
        return JsonSerializer.Deserialize(response.Body, answer)
            ?? throw new SurgeApiException(response.Status, "empty_answer", $"{method} {path} answered {response.Status} without a body");
    }

    private static readonly MediaTypeHeaderValue JsonType = new("application/json");

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}

/// <summary>The client's JSON: the contract's snake_case, and tolerant of fields a newer server adds.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateSellerRequest))]
[JsonSerializable(typeof(CreateSellerResponse))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(CreateKeyResponse))]
[JsonSerializable(typeof(WarehouseBody))]
[JsonSerializable(typeof(WarehouseList))]
[JsonSerializable(typeof(SkuBody))]
[JsonSerializable(typeof(SkuBatchRequest))]
[JsonSerializable(typeof(SkuBatchResponse))]
[JsonSerializable(typeof(SkuResponse))]
[JsonSerializable(typeof(StockReceiptRequest))]
[JsonSerializable(typeof(StockResponse))]
[JsonSerializable(typeof(FlashSaleRequest))]
[JsonSerializable(typeof(FlashSaleResponse))]
[JsonSerializable(typeof(PlaceOrderRequest))]
[JsonSerializable(typeof(OrderBody))]
[JsonSerializable(typeof(SellerOrderPage))]
[JsonSerializable(typeof(SellerSalesResponse))]
[JsonSerializable(typeof(FlowStatusResponse))]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class ClientJson : JsonSerializerContext;
