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
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.ProducesProblem(status);
        }
        return builder;
    }
}
