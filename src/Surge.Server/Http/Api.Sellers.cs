namespace Surge.Server;

// /v1 endpoints: sellers, their keys and warehouses.
public sealed partial class Api
{
    private void MapSellers(IEndpointRouteBuilder v1)
    {
        v1.MapPost("/sellers", Handler(CreateSeller)).WithName("createSeller").WithSummary("Create a seller and its API key (admin)").WithTags("catalog")
            .Accepts<CreateSellerRequest>("application/json").Example("""{"name":"Jeju Ceramics"}""").Produces<CreateSellerResponse>(201).Problems(400, 401, 403, 422)
            .Idempotent(201);
        v1.MapPost("/storefront-keys", Handler(CreateStorefrontKey)).WithName("createStorefrontKey").WithSummary("Create a storefront key that may place orders (admin)").WithTags("catalog")
            .Accepts<CreateKeyRequest>("application/json").Example("""{"name":"web shop"}""").Produces<CreateKeyResponse>(201).Problems(400, 401, 403, 422)
            .Idempotent(201);
        v1.MapPost("/keys/rotate", Handler(RotateKey)).WithName("rotateKey")
            .WithSummary("Replace the calling seller or storefront key with a new one (shown once); the old one keeps working for the grace period")
            .WithTags("catalog").Accepts<RotateKeyRequest>("application/json").Example("""{"grace_seconds":3600}""").Produces<RotateKeyResponse>(201).Problems(400, 401, 403, 422)
            .Idempotent(201);
        v1.MapGet("/me", Handler(Me)).WithName("me").WithSummary("Who the calling key belongs to: its role and, for a seller key, the seller")
            .WithTags("catalog").Produces<MeResponse>(200).Problems(401);
        v1.MapPost("/warehouses", Handler(CreateWarehouse)).WithName("createWarehouse").WithSummary("Add a warehouse to every partition (admin)").WithTags("catalog")
            .Accepts<WarehouseBody>("application/json").Example("""{"id":"wh-kr-1","region":"seoul","country":"KR"}""").Produces<WarehouseBody>(201).Produces<WarehouseBody>(200).Problems(400, 401, 403, 409, 422, 503)
            .Idempotent(201);
        v1.MapGet("/warehouses", Handler(ListWarehouses)).WithName("listWarehouses").WithSummary("List the warehouses").WithTags("catalog")
            .Produces<WarehouseList>(200).Problems(401);
    }

    private async Task CreateSeller(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin);
        await IdempotentWriteAsync(context, principal, ApiJson.Default.CreateSellerRequest, ApiJson.Default.CreateSellerResponse, request =>
        {
            var (seller, key) = state.Control.CreateSeller(Text(request.Name, "name", SellerNameCharsMax));
            return Task.FromResult((201, new CreateSellerResponse(Ids.Seller(seller.Id), seller.Name, key), (string?)("/v1/sellers/" + Ids.Seller(seller.Id))));
        });
    }

    private Task Me(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller, Role.Storefront);
        var seller = principal.Role == Role.Seller ? state.Control.FindSeller(principal.SellerId) : null;
        return WriteAsync(context, 200, new MeResponse(principal.Role.ToString().ToLowerInvariant(), seller is null ? null : Ids.Seller(seller.Id), seller?.Name),
            ApiJson.Default.MeResponse);
    }

    private async Task RotateKey(HttpContext context)
    {
        var (principal, key) = AuthorizeKey(context, Role.Seller, Role.Storefront);
        await IdempotentWriteAsync(context, principal, ApiJson.Default.RotateKeyRequest, ApiJson.Default.RotateKeyResponse, request =>
        {
            var graceMax = Options.Http.KeyRotationGrace;
            if (request.GraceSeconds is < 0 || request.GraceSeconds > graceMax.TotalSeconds)
            {
                throw new RequestShapeException($"grace_seconds: 0 to {graceMax.TotalSeconds:0} (the old key's grace period; default the most)");
            }
            var retireAt = Options.Clock.GetUtcNow() + (request.GraceSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : graceMax);
            var fresh = state.Control.RotateKey(key, retireAt.ToUnixTimeMilliseconds())
                ?? throw new ApiProblemException(403, "forbidden", "only a seller's or storefront's key can be rotated");
            return Task.FromResult((201, new RotateKeyResponse(fresh, retireAt), (string?)null));
        });
    }

    private async Task CreateStorefrontKey(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin);
        await IdempotentWriteAsync(context, principal, ApiJson.Default.CreateKeyRequest, ApiJson.Default.CreateKeyResponse, request =>
        {
            var name = Text(request.Name, "name", SellerNameCharsMax);
            return Task.FromResult((201, new CreateKeyResponse(name, state.Control.CreateStorefrontKey(name)), (string?)null));
        });
    }

    private async Task CreateWarehouse(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin);
        await IdempotentWriteAsync(context, principal, ApiJson.Default.WarehouseBody, ApiJson.Default.WarehouseBody, async request =>
        {
            var warehouse = new Warehouse(Code(request.Id, "id"), Text(request.Region, "region", OrderJson.RegionCharsMax), Country(request.Country, "country"));
            if (state.Control.Warehouses.Count >= Limits.WarehousesMax && Catalog.WarehouseIndex(warehouse.Id) < 0)
            {
                throw new ApiProblemException(409, RejectReason.CapacityExceeded.ToCode(), $"at most {Limits.WarehousesMax} warehouses");
            }
            if (!state.Control.AddWarehouse(warehouse, out var created))
            {
                throw new ApiProblemException(409, "warehouse_exists", $"warehouse '{warehouse.Id}' exists with another region or country");
            }
            await state.Warehouses.SyncWarehousesAsync();
            return (created ? 201 : 200, new WarehouseBody(warehouse.Id, warehouse.Region, warehouse.Country), (string?)null);
        });
    }

    private Task ListWarehouses(HttpContext context)
    {
        Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var list = state.Control.Warehouses.Select(w => new WarehouseBody(w.Id, w.Region, w.Country)).ToArray();
        return WriteAsync(context, 200, new WarehouseList(list), ApiJson.Default.WarehouseList);
    }
}
