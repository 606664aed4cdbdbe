using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace Surge.Server.Tests;

/// <summary>
/// The OpenAPI document a server serves, as a contract to check its answers against: each answer's status must be one
/// the operation documents, and a JSON body must validate (JSON Schema 2020-12, JsonSchema.Net) against the schema
/// documented for that status and media type. The document's component schemas become the <c>$defs</c> of every
/// schema evaluated, so their references resolve without a registry.
/// </summary>
public sealed partial class OpenApiContract
{
    private readonly JsonObject _document;
    private readonly List<(string Method, string Template, Regex Pattern, JsonObject Operation)> _operations = [];
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new();
    private readonly JsonObject _definitions;

    public OpenApiContract(string document)
    {
        _document = JsonNode.Parse(document)!.AsObject();
        _definitions = RewriteReferences(_document["components"]?["schemas"]?.DeepClone() ?? new JsonObject()).AsObject();
        foreach (var (template, item) in _document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (operation is JsonObject o && o.ContainsKey("responses"))
                {
                    var pattern = new Regex("^" + ParameterPattern().Replace(Regex.Escape(template).Replace("\\{", "{", StringComparison.Ordinal), "[^/]+") + "$");
                    _operations.Add((method.ToUpperInvariant(), template, pattern, o));
                }
            }
        }
    }

    /// <summary>Every operation, as "METHOD /template".</summary>
    public IReadOnlyList<string> Operations => [.. _operations.Select(o => $"{o.Method} {o.Template}")];

    public JsonObject Document => _document;

    /// <summary>The operation a request goes to, as "METHOD /template"; null for a request the document does not describe.</summary>
    public string? OperationOf(HttpMethod method, string path)
    {
        var bare = path.Split('?', 2)[0];
        var match = _operations.Where(o => o.Method == method.Method && o.Pattern.IsMatch(bare))
            .OrderBy(o => o.Template.Count(c => c == '{')).FirstOrDefault(); // a literal segment wins over a parameter
        return match.Operation is null ? null : $"{match.Method} {match.Template}";
    }

    /// <summary>What is wrong with an answer of <paramref name="operation"/>; empty when it conforms.</summary>
    public IReadOnlyList<string> Violations(string operation, int status, string? mediaType, string body)
    {
        var (method, template) = (operation.Split(' ', 2)[0], operation.Split(' ', 2)[1]);
        var entry = _operations.Single(o => o.Method == method && o.Template == template).Operation;
        var responses = entry["responses"]!.AsObject();
        var response = responses[status.ToString(System.Globalization.CultureInfo.InvariantCulture)] ?? responses["default"];
        if (response is null)
        {
            return [$"{operation}: status {status} is not documented (documented: {string.Join(", ", responses.Select(r => r.Key))})"];
        }
        var content = response["content"]?.AsObject();
        if (content is null || content.Count == 0)
        {
            return body.Length == 0 ? [] : [$"{operation} {status}: a body where the document describes none"];
        }
        if (mediaType is null || content[mediaType] is not { } described)
        {
            return [$"{operation} {status}: media type {mediaType ?? "(none)"} is not documented (documented: {string.Join(", ", content.Select(c => c.Key))})"];
        }
        if (described["schema"] is not JsonObject schema || !mediaType.Contains("json", StringComparison.Ordinal))
        {
            return [];
        }
        using var instance = JsonDocument.Parse(body);
        var results = SchemaOf(schema).Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        return results.IsValid ? [] : [$"{operation} {status}: {Describe(results)}\n  body: {Truncate(body)}"];
    }

    /// <summary>Every request example the document gives, each checked against its operation's request schema: the
    /// operations with one, and what is wrong with those that do not conform.</summary>
    public (IReadOnlyList<string> WithExamples, IReadOnlyList<string> Violations) RequestExamples()
    {
        var with = new List<string>();
        var violations = new List<string>();
        foreach (var (method, template, _, operation) in _operations)
        {
            if (operation["requestBody"]?["content"]?["application/json"] is not JsonObject media || media["example"] is not { } example
                || media["schema"] is not JsonObject schema)
            {
                continue;
            }
            with.Add($"{method} {template}");
            using var instance = JsonDocument.Parse(example.ToJsonString());
            var results = SchemaOf(schema).Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!results.IsValid)
            {
                violations.Add($"{method} {template} example: {Describe(results)}");
            }
        }
        return (with, violations);
    }

    private JsonSchema SchemaOf(JsonObject schema)
    {
        var key = schema.ToJsonString();
        return _schemas.GetOrAdd(key, _ =>
        {
            var standalone = RewriteReferences(schema.DeepClone()).AsObject();
            standalone["$schema"] = "https://json-schema.org/draft/2020-12/schema";
            standalone["$defs"] = _definitions.DeepClone();
            return JsonSchema.FromText(standalone.ToJsonString());
        });
    }

    /// <summary>A copy of <paramref name="node"/> with every <c>#/components/schemas/X</c> reference made <c>#/$defs/X</c>.</summary>
    private static JsonNode RewriteReferences(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o.ToList())
                {
                    if (name == "$ref" && value is JsonValue reference && reference.GetValue<string>() is { } text && text.StartsWith("#/components/schemas/", StringComparison.Ordinal))
                    {
                        o["$ref"] = "#/$defs/" + text["#/components/schemas/".Length..];
                    }
                    else if (value is not null)
                    {
                        RewriteReferences(value);
                    }
                }
                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    if (item is not null)
                    {
                        RewriteReferences(item);
                    }
                }
                break;
        }
        return node;
    }

    private static string Describe(EvaluationResults results) =>
        string.Join("; ", (results.Details ?? []).Where(d => !d.IsValid && d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).Take(5));

    private static string Truncate(string body) => body.Length <= 400 ? body : body[..400] + "…";

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex ParameterPattern();
}
