using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Surge.Server;

/// <summary>Shapes the served OpenAPI document: title, bearer-key security (public routes opt out), and the
/// path parameters of handlers that read their route values themselves.</summary>
internal static class OpenApiDocument
{
    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Surge order API",
                Version = "v1",
                Description = "Orders, stock and flash sales for multi-seller marketplaces. Errors are RFC 9457 problem+json; "
                    + "the problem's `code` is a stable reason such as `insufficient_stock`.",
                License = new OpenApiLicense { Name = "Proprietary", Identifier = "LicenseRef-Proprietary" },
            };
            document.Servers = [new OpenApiServer { Url = "http://127.0.0.1:8080", Description = "surge serve (default port)" }];
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
            {
                ["bearer"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "An API key: the admin key, a storefront key, or a seller key.",
                },
            };
            document.Tags = new HashSet<OpenApiTag>
            {
                new() { Name = "catalog", Description = "Sellers, keys, warehouses and SKUs." },
                new() { Name = "stock", Description = "Stock receipts, levels and flash sales." },
                new() { Name = "orders", Description = "Placing, paying, cancelling and listing orders." },
                new() { Name = "tracking", Description = "Public order tracking by token." },
                new() { Name = "operations", Description = "Health of the node." },
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAllowAnonymous>().Any() || context.Description.RelativePath == "healthz")
            {
                operation.Security = [];
            }
            var path = context.Description.RelativePath ?? "";
            foreach (var name in RouteParameters(path))
            {
                operation.Parameters ??= [];
                if (!operation.Parameters.Any(p => p.Name == name && p.In == ParameterLocation.Path))
                {
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name,
                        In = ParameterLocation.Path,
                        Required = true,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }
            }
            return Task.CompletedTask;
        });
    }

    private static IEnumerable<string> RouteParameters(string path)
    {
        var start = path.IndexOf('{');
        while (start >= 0)
        {
            var end = path.IndexOf('}', start);
            yield return path[(start + 1)..end];
            start = path.IndexOf('{', end);
        }
    }
}
