using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using System.Globalization;
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
            // Relative: the server that serves this document (whatever host, port or proxy path it was fetched through).
            document.Servers = [new OpenApiServer { Url = "/", Description = "the Surge node serving this document" }];
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
        // The API leaves a null member out of what it writes (ApiJson: WhenWritingNull), so a nullable member is never
        // required on the wire, whatever the constructor says.
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (context.JsonTypeInfo.Type == typeof(ProblemBody) && schema.Properties?.TryGetValue("code", out var code) == true && code is OpenApiSchema described)
            {
                described.Description = "A stable reason, one of: " + string.Join("; ", ProblemCodes.All.Select(c => $"`{c.Key}` — {c.Value}"));
            }
            if (schema.Required is { Count: > 0 } required)
            {
                foreach (var property in context.JsonTypeInfo.Properties)
                {
                    if (property.IsGetNullable || Nullable.GetUnderlyingType(property.PropertyType) is not null)
                    {
                        required.Remove(property.Name);
                    }
                }
            }
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAllowAnonymous>().Any() || context.Description.RelativePath is "healthz" or "readyz")
            {
                operation.Security = [];
            }
            foreach (var parameter in metadata.OfType<ParameterDoc>())
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = parameter.Name,
                    In = parameter.Place == ParameterPlace.Query ? ParameterLocation.Query : ParameterLocation.Header,
                    Description = parameter.Description,
                    Schema = Schema(parameter.Type),
                });
            }
            if (metadata.OfType<RequestExample>().FirstOrDefault() is { } example
                && operation.RequestBody?.Content?.TryGetValue("application/json", out var media) == true && media is OpenApiMediaType body)
            {
                body.Example = System.Text.Json.Nodes.JsonNode.Parse(example.Json);
            }
            foreach (var (status, response) in operation.Responses ?? [])
            {
                var headers = metadata.OfType<ResponseHeaderDoc>().Where(h => h.Status.ToString(CultureInfo.InvariantCulture) == status)
                    .Select(h => (h.Name, h.Type, h.Description)).ToList();
                if (status is "429" or "503")
                {
                    headers.Add(("Retry-After", ParameterType.Integer, "Seconds to wait before retrying."));
                }
                if (headers.Count > 0 && response is OpenApiResponse answer)
                {
                    answer.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    foreach (var (name, type, description) in headers)
                    {
                        answer.Headers[name] = new OpenApiHeader { Description = description, Schema = Schema(type) };
                    }
                }
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
                        Schema = Schema(ParameterType.String),
                    });
                }
            }
            return Task.CompletedTask;
        });
    }

    private static OpenApiSchema Schema(ParameterType type) => new()
    {
        Type = type switch
        {
            ParameterType.Integer => JsonSchemaType.Integer,
            ParameterType.Number => JsonSchemaType.Number,
            _ => JsonSchemaType.String,
        },
    };

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
