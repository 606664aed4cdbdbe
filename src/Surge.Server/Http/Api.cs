namespace Surge.Server;

/// <summary>The /v1 HTTP API: authentication, validation, and the translation between JSON and engine commands.
/// Every failure leaves as problem+json (see <see cref="Problems.Middleware"/>).</summary>
public sealed partial class Api(ServerState state, NodeSampler sampler)
{
    public const int TitleCharsMax = 200;
    public const int CategoryCharsMax = 100;
    public const int SellerNameCharsMax = 200;
    public const int PageOrdersMax = 500;
    public const int PageOrdersDefault = 100;
    public const int PageScanMax = 200_000;

    private ServerOptions Options => state.Options;
    private Gateway Gateway => state.Gateway;
    private Catalog Catalog => state.Catalog;

    public void Map(IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        MapSellers(v1);
        MapCatalog(v1);
        MapStock(v1);
        MapOrders(v1);
        MapListings(v1);
        MapTracking(v1);
        MapOperations(app, v1);
        MapCarriers(v1);
        MapWebhooks(v1);
        MapForecast(v1);
    }

    /// <summary>As a <see cref="Delegate"/>, so that the route gets a builder that takes OpenAPI metadata.</summary>
    private static Delegate Handler(Func<HttpContext, Task> handler) => handler;
}

internal static class EndpointMetadata
{
    /// <summary>The problem answers of a route. One that takes a key (401) may also be answered 429 `rate_limited`.</summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses.Contains(401) && !statuses.Contains(429) ? [.. statuses, 429] : statuses)
        {
            builder.Produces<ProblemBody>(status, Surge.Server.Problems.ContentType);
        }
        return builder;
    }

    /// <summary>A query parameter the handler reads itself (handlers take the raw <see cref="HttpContext"/>, so the
    /// OpenAPI document learns of it from this).</summary>
    public static RouteHandlerBuilder Query(this RouteHandlerBuilder builder, string name, ParameterType type, string description) =>
        builder.WithMetadata(new ParameterDoc(name, ParameterPlace.Query, type, description));

    /// <summary>A request header the handler reads.</summary>
    public static RouteHandlerBuilder RequestHeader(this RouteHandlerBuilder builder, string name, string description) =>
        builder.WithMetadata(new ParameterDoc(name, ParameterPlace.Header, ParameterType.String, description));

    /// <summary>A header the handler sets on answers of <paramref name="status"/>.</summary>
    public static RouteHandlerBuilder ResponseHeader(this RouteHandlerBuilder builder, int status, string name, ParameterType type, string description) =>
        builder.WithMetadata(new ResponseHeaderDoc(status, name, type, description));

    /// <summary>The Idempotency-Key request header and the Idempotent-Replayed answer header of <paramref name="status"/>.</summary>
    public static RouteHandlerBuilder Idempotent(this RouteHandlerBuilder builder, int status) => builder
        .RequestHeader("Idempotency-Key", $"1 to {IdempotencyKeys.KeyCharsMax} printable characters: a retry with the same key and body gets "
            + "the first answer again (kept 24 h); the same key with another body is 422 idempotency_key_reused, while the first is still "
            + "running 409 idempotency_key_in_use.")
        .ResponseHeader(status, "Idempotent-Replayed", ParameterType.String, "`true` when this is the kept answer of an earlier request with the same key.");

    /// <summary>An example request body (JSON, as on the wire) for the OpenAPI document; the contract test validates
    /// every example against its operation's schema.</summary>
    public static RouteHandlerBuilder Example(this RouteHandlerBuilder builder, string json) =>
        builder.WithMetadata(new RequestExample(json));

    /// <summary>The <c>limit</c> and <c>cursor</c> parameters of a paged listing.</summary>
    public static RouteHandlerBuilder Paged(this RouteHandlerBuilder builder) => builder
        .Query("limit", ParameterType.Integer, $"Orders per page, 1–{Api.PageOrdersMax} (default {Api.PageOrdersDefault}).")
        .Query("cursor", ParameterType.String, "The `next` of the previous page; absent for the first page.");
}

public enum ParameterPlace
{
    Query,
    Header,
}

public enum ParameterType
{
    String,
    Integer,
    Number,
}

/// <summary>OpenAPI metadata: an example request body.</summary>
public sealed record RequestExample(string Json);

/// <summary>OpenAPI metadata: a parameter a handler reads from the query or the headers.</summary>
public sealed record ParameterDoc(string Name, ParameterPlace Place, ParameterType Type, string Description);

/// <summary>OpenAPI metadata: a header a handler sets on answers of one status.</summary>
public sealed record ResponseHeaderDoc(int Status, string Name, ParameterType Type, string Description);
