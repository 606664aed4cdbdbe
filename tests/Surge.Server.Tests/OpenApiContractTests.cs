using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surge.Server.Tests;

/// <summary>
/// The served OpenAPI document against the server that serves it: real requests for every operation, each answer
/// validated against the document (status, media type, JSON Schema of the body); then a fuzz of mutated requests
/// (bodies, query parameters, path segments, headers) that must never get a 5xx, and whose every 4xx is problem+json.
/// </summary>
public sealed class OpenApiContractTests
{
    /// <summary>Mutated requests the fuzz sends (the issue asks for at least 20,000).</summary>
    private const int FuzzRequests = 20_000;

    private const int FuzzWorkers = 8;

    private static readonly string[] PaidEvents = ["order.paid"];

    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>One request of the walk through the API, and the answer it got.</summary>
    private sealed record Exchange(string Operation, HttpMethod Method, string Path, string? Key, string? Body, int Status, string? MediaType, string Answer);

    private sealed class Walk(Uri baseAddress, OpenApiContract contract)
    {
        public List<Exchange> Exchanges { get; } = [];

        public async Task<JsonNode?> SendAsync(HttpMethod method, string path, string? key, object? body = null, int? expect = null,
            IReadOnlyDictionary<string, string>? headers = null, bool headersOnly = false, string contentType = "application/json")
        {
            var text = body switch { null => null, string s => s, _ => JsonSerializer.Serialize(body) };
            var (status, mediaType, answer) = await SendRawAsync(baseAddress, method, path, key, text, headers, headersOnly, contentType);
            var operation = contract.OperationOf(method, path);
            Assert.True(operation is not null, $"{method} {path} is not in the OpenAPI document");
            Exchanges.Add(new Exchange(operation!, method, path, key, text, status, mediaType, answer));
            if (expect is { } expected)
            {
                Assert.True(expected == status, $"{method} {path}: expected {expected}, got {status}: {answer}");
            }
            return mediaType?.Contains("json", StringComparison.Ordinal) == true && answer.Length > 0 ? JsonNode.Parse(answer) : null;
        }
    }

    private static async Task<(int Status, string? MediaType, string Body)> SendRawAsync(Uri baseAddress, HttpMethod method, string path, string? key, string? body,
        IReadOnlyDictionary<string, string>? headers = null, bool headersOnly = false, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, new Uri(baseAddress, path));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        using var response = await Http.SendAsync(request, headersOnly ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead,
            TestContext.Current.CancellationToken);
        var text = headersOnly ? "" : await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, text);
    }

    private static async Task<(TestServer Server, OpenApiContract Contract, Walk Walk)> WalkTheApiAsync()
    {
        var server = await TestServer.StartAsync(o => o with { Partitions = 2 });
        var document = await new ApiClient(server.Server.BaseAddress, null).GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, document.Status);
        var contract = new OpenApiContract(document.Body);
        var walk = new Walk(server.Server.BaseAddress, contract);
        var admin = server.Server.AdminKey;
        var get = HttpMethod.Get;
        var post = HttpMethod.Post;

        await walk.SendAsync(get, "/healthz", null, expect: 200);
        await walk.SendAsync(get, "/readyz", null, expect: 200);
        await walk.SendAsync(post, "/v1/warehouses", admin, new { id = "wh-kr-1", region = "seoul", country = "KR" }, expect: 201);
        await walk.SendAsync(get, "/v1/warehouses", admin, expect: 200);
        var seller = (await walk.SendAsync(post, "/v1/sellers", admin, new { name = "Contract Goods" }, expect: 201))!;
        var (sellerId, sellerKey) = (seller["id"]!.GetValue<string>(), seller["api_key"]!.GetValue<string>());
        var storefront = (await walk.SendAsync(post, "/v1/storefront-keys", admin, new { name = "web shop" }, expect: 201))!["api_key"]!.GetValue<string>();
        await walk.SendAsync(post, "/v1/skus", sellerKey, TestServer.Sku("mug"), expect: 201);
        await walk.SendAsync(post, "/v1/skus/batch", sellerKey, new { skus = new[] { TestServer.Sku("plate"), TestServer.Sku("bowl") } }, expect: 200);
        await walk.SendAsync(get, "/v1/skus/mug", sellerKey, expect: 200);
        await walk.SendAsync(get, "/v1/me", sellerKey, expect: 200);
        await walk.SendAsync(get, "/v1/skus?q=mug&limit=10", sellerKey, expect: 200);
        await walk.SendAsync(post, "/v1/skus/import?currency=KRW", sellerKey, "sku,title,price\ncup,Cup,\"1,500\"\n,No code,100\n", expect: 200, contentType: "text/csv");
        await walk.SendAsync(post, "/v1/skus/import", sellerKey, "colour\nred\n", expect: 422, contentType: "text/csv");
        await walk.SendAsync(get, $"/v1/skus/mug?seller_id={sellerId}", admin, expect: 200);
        await walk.SendAsync(get, "/v1/category-reviews", admin, expect: 200);
        await walk.SendAsync(post, "/v1/stock/receipts", sellerKey, new { sku = "mug", warehouse_id = "wh-kr-1", quantity = 100 }, expect: 200,
            headers: new Dictionary<string, string> { ["Idempotency-Key"] = "receipt-1" });
        await walk.SendAsync(post, "/v1/stock/receipts", sellerKey, new { sku = "plate", warehouse_id = "wh-kr-1", quantity = 100 }, expect: 200);
        await walk.SendAsync(get, "/v1/skus/mug/stock", sellerKey, expect: 200);
        await walk.SendAsync(post, "/v1/stock/adjustments", sellerKey, new { sku = "mug", warehouse_id = "wh-kr-1", delta = -1, reason = "damaged" }, expect: 200);
        await walk.SendAsync(post, "/v1/flash-sales", sellerKey, new { sku = "plate", starts_at = DateTimeOffset.UtcNow.AddDays(1), per_buyer_limit = 2 }, expect: 201);
        var order = (await walk.SendAsync(post, "/v1/orders", storefront, TestServer.Order("buyer-7", (sellerId, "mug", 2)), expect: 201,
            headers: new Dictionary<string, string> { ["Idempotency-Key"] = "order-1" }))!;
        await walk.SendAsync(post, "/v1/orders", storefront, TestServer.Order("buyer-7", (sellerId, "mug", 2)), expect: 201,
            headers: new Dictionary<string, string> { ["Idempotency-Key"] = "order-1" }); // the kept answer
        var orderId = order["id"]!.GetValue<string>();
        await walk.SendAsync(post, "/v1/orders/batch", storefront, new { orders = new[] { TestServer.Order("buyer-8", (sellerId, "mug", 1)) } }, expect: 200);
        await walk.SendAsync(get, $"/v1/orders/{orderId}", admin, expect: 200);
        await walk.SendAsync(post, $"/v1/orders/{orderId}/payment", storefront, new { }, expect: 200);
        var other = (await walk.SendAsync(post, "/v1/orders", storefront, TestServer.Order("buyer-9", (sellerId, "mug", 1)), expect: 201))!["id"]!.GetValue<string>();
        await walk.SendAsync(post, $"/v1/orders/{other}/cancel", storefront, new { }, expect: 200);
        await new ApiClient(server.Server.BaseAddress, sellerKey).ReadModelCaughtUpAsync(sellerId);
        await walk.SendAsync(get, $"/v1/sellers/{sellerId}/orders?limit=2", sellerKey, expect: 200);
        await walk.SendAsync(get, $"/v1/sellers/{sellerId}/orders?status=paid&buyer_id=buyer-7&sku=mug", sellerKey, expect: 200);
        await walk.SendAsync(get, $"/v1/sellers/{sellerId}/orders/export", sellerKey, expect: 200);
        await walk.SendAsync(get, "/v1/buyers/buyer-7/orders", storefront, expect: 200);
        await walk.SendAsync(get, $"/v1/sellers/{sellerId}/sales?granularity=week", sellerKey, expect: 200);
        await walk.SendAsync(get, $"/v1/sellers/{sellerId}/forecast", sellerKey, expect: 200);
        await walk.SendAsync(get, $"/v1/track/{order["tracking_token"]!.GetValue<string>()}?lang=ko", null, expect: 200);
        await walk.SendAsync(get, $"/v1/track/{order["tracking_token"]!.GetValue<string>()}/events", null, expect: 200, headersOnly: true);
        await walk.SendAsync(get, "/v1/flow", admin, expect: 200);
        await walk.SendAsync(get, "/v1/carriers", admin, expect: 200);
        await walk.SendAsync(get, "/v1/carriers/no-such-carrier/dead-letters", admin);
        await walk.SendAsync(post, "/v1/carriers/no-such-carrier/dead-letters/redrive", admin, new { });
        await walk.SendAsync(post, "/v1/carriers/no-such-carrier/events", null, new { });
        var hook = (await walk.SendAsync(post, "/v1/webhooks", sellerKey, new { url = "https://hooks.example.com/surge", event_types = PaidEvents }, expect: 201))!["id"]!.GetValue<string>();
        await walk.SendAsync(get, "/v1/webhooks", sellerKey, expect: 200);
        await walk.SendAsync(post, $"/v1/webhooks/{hook}/redrive", sellerKey, new { });
        await walk.SendAsync(get, $"/v1/webhooks/{hook}/deliveries?limit=10", sellerKey, expect: 200);
        await walk.SendAsync(get, "/v1/webhooks/wh_999999/deliveries", sellerKey, expect: 404);
        await walk.SendAsync(HttpMethod.Delete, $"/v1/webhooks/{hook}", sellerKey);
        await walk.SendAsync(post, "/v1/keys/rotate", sellerKey, new { grace_seconds = 3_600 }, expect: 201); // the old key works for the hour
        // Answers that are problems: each must be a documented status with the problem schema.
        await walk.SendAsync(get, "/v1/warehouses", null, expect: 401);
        await walk.SendAsync(get, "/v1/flow", sellerKey, expect: 403);
        await walk.SendAsync(get, "/v1/orders/o-unknown", admin, expect: 404);
        await walk.SendAsync(post, "/v1/sellers", admin, "{\"name\":", expect: 400);
        await walk.SendAsync(post, "/v1/sellers", admin, new { name = "x", rank = 1 }, expect: 422);
        await walk.SendAsync(post, "/v1/orders", storefront, TestServer.Order("buyer-7", (sellerId, "mug", 1000)), expect: 409);
        return (server, contract, walk);
    }

    [Fact]
    public async Task EveryOperation_AnswersWhatTheServedDocumentDescribes()
    {
        var (server, contract, walk) = await WalkTheApiAsync();
        await using var _ = server;

        var violations = walk.Exchanges.SelectMany(e => contract.Violations(e.Operation, e.Status, e.MediaType, e.Answer)).ToList();

        Assert.True(violations.Count == 0, $"{violations.Count} of {walk.Exchanges.Count} answers break the document:\n{string.Join("\n", violations)}");
        var codes = walk.Exchanges.Where(e => e.MediaType == "application/problem+json").Select(e => JsonNode.Parse(e.Answer)!["code"]!.GetValue<string>()).ToHashSet();
        Assert.Subset(ProblemCodes.All.Keys.ToHashSet(), codes);
        var untested = contract.Operations.Except(walk.Exchanges.Select(e => e.Operation)).ToList();
        Assert.True(untested.Count == 0, "operations the walk never called: " + string.Join(", ", untested));
        TestContext.Current.SendDiagnosticMessage($"contract: {walk.Exchanges.Count} requests over {contract.Operations.Count} operations, all conform");
    }

    [Fact]
    public async Task TheDocument_DescribesTheWire_SnakeCaseNames_ParametersAndHeaders_AndARelativeServer()
    {
        await using var server = await TestServer.StartAsync();
        var document = JsonNode.Parse((await new ApiClient(server.Server.BaseAddress, null).GetAsync("/openapi/v1.json")).Body)!;

        var schemas = document["components"]!["schemas"]!.AsObject();
        var names = schemas.SelectMany(s => s.Value!["properties"]?.AsObject().Select(p => p.Key) ?? []).ToList();
        Assert.Contains("price_minor", names);
        Assert.Contains("seller_id", names);
        Assert.DoesNotContain(names, n => n.Any(char.IsUpper));
        Assert.Equal("/", document["servers"]![0]!["url"]!.GetValue<string>());
        var listing = document["paths"]!["/v1/sellers/{id}/orders"]!["get"]!;
        var parameters = listing["parameters"]!.AsArray().Select(p => (p!["name"]!.GetValue<string>(), p["in"]!.GetValue<string>())).ToList();
        Assert.Contains(("limit", "query"), parameters);
        Assert.Contains(("cursor", "query"), parameters);
        Assert.Contains(("id", "path"), parameters);
        var place = document["paths"]!["/v1/orders"]!["post"]!;
        Assert.Contains(place["parameters"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "Idempotency-Key" && p["in"]!.GetValue<string>() == "header");
        Assert.NotNull(place["responses"]!["201"]!["headers"]!["Location"]);
        Assert.NotNull(place["responses"]!["201"]!["headers"]!["Idempotent-Replayed"]);
        Assert.NotNull(place["responses"]!["429"]!["headers"]!["Retry-After"]);
        var (withExamples, badExamples) = new OpenApiContract(document.ToJsonString()).RequestExamples();
        Assert.True(withExamples.Count >= 12, "request examples: " + string.Join(", ", withExamples));
        Assert.Empty(badExamples);
        var problem = place["responses"]!["422"]!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>();
        Assert.Equal("#/components/schemas/ProblemBody", problem);
        Assert.Contains("code", schemas["ProblemBody"]!["required"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task TheRenderedReference_IsServedByTheNodeItself_AndPointsAtTheServedDocument()
    {
        await using var server = await TestServer.StartAsync();
        var anonymous = new ApiClient(server.Server.BaseAddress, null);

        var page = await anonymous.GetAsync("/docs/api/v1");

        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal("text/html", page.ContentType);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", page.Body); // no CDN: every script from this node
        foreach (System.Text.RegularExpressions.Match script in System.Text.RegularExpressions.Regex.Matches(page.Body, "src=\"([^\"]+)\""))
        {
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/docs/api/" + script.Groups[1].Value)).Status);
        }
        Assert.Matches("\"url\":\"/?openapi/v1\\.json\"", page.Body); // resolved against the node's root by the page's script
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/openapi/v1.json")).Status);
    }

    [Fact]
    public async Task Fuzz_OfMutatedRequests_NeverGets5xx_AndEvery4xxIsProblemJson()
    {
        var (server, contract, walk) = await WalkTheApiAsync();
        await using var _ = server;
        var seeds = walk.Exchanges.Where(e => e.Status < 300 && !e.Path.EndsWith("/events", StringComparison.Ordinal)).ToList();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var sent = 0;
        var refusedByKestrel = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, FuzzWorkers), TestContext.Current.CancellationToken, async (worker, token) =>
        {
            var random = new Random(1_000 + worker);
            for (var i = worker; i < FuzzRequests; i += FuzzWorkers)
            {
                var seed = seeds[random.Next(seeds.Count)];
                var (path, body, key, headers, contentType) = Mutate(seed, random);
                int status;
                string? mediaType;
                string answer;
                try
                {
                    (status, mediaType, answer) = await SendRawAsync(server.Server.BaseAddress, seed.Method, path, key, body, headers, contentType: contentType);
                }
                catch (HttpRequestException e)
                {
                    failures.Add($"{seed.Method} {path}: the connection failed: {e.Message}");
                    continue;
                }
                Interlocked.Increment(ref sent);
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (status >= 500)
                {
                    failures.Add($"{seed.Method} {path} -> {status}: {answer}\n  body: {body}");
                }
                else if (answer.Length == 0 && mediaType is null && (status is 414 or 431 || (status == 400 && HasControlCharacter(path))))
                {
                    // Kestrel refuses a request line with a NUL or another control character (400), or longer than its
                    // limit (414), itself, before the application sees it (no body): counted, not the application's answer.
                    Interlocked.Increment(ref refusedByKestrel);
                }
                else if (status >= 400 && (mediaType != "application/problem+json" || JsonNode.Parse(answer)?["code"] is null))
                {
                    failures.Add($"{seed.Method} {path[..Math.Min(path.Length, 200)]} -> {status} {mediaType}: not problem+json: {answer}");
                }
                else if (status >= 400 && JsonNode.Parse(answer)!["code"]!.GetValue<string>() is var code && !ProblemCodes.All.ContainsKey(code))
                {
                    failures.Add($"{seed.Method} {path[..Math.Min(path.Length, 200)]} -> {status}: code {code} is not among the documented problem codes");
                }
            }
        });

        Assert.True(failures.IsEmpty, $"{failures.Count} of {sent} mutated requests failed:\n{string.Join("\n", failures.Take(20))}");
        Assert.Equal(FuzzRequests, sent);
        Assert.Equal(HttpStatusCode.OK, (await new ApiClient(server.Server.BaseAddress, null).GetAsync("/readyz")).Status);
        TestContext.Current.SendDiagnosticMessage($"fuzz: {sent} requests ({refusedByKestrel} refused by Kestrel before the application); statuses {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}"))}");
    }

    /// <summary>One mutation of a request that succeeded: its JSON body changed (a member dropped, given a value of another
    /// type, a huge string, a huge or negative number, an unknown member, the text cut short), its query parameters or path
    /// segments replaced with junk, its key or content type wrong.</summary>
    private static (string Path, string? Body, string? Key, Dictionary<string, string> Headers, string ContentType) Mutate(Exchange seed, Random random)
    {
        var path = seed.Path;
        var body = seed.Body;
        var key = seed.Key;
        var headers = new Dictionary<string, string>();
        var csv = body is not null && !body.StartsWith('{') && !body.StartsWith('['); // a spreadsheet import
        var contentType = csv ? "text/csv" : "application/json";
        switch (random.Next(10))
        {
            case < 5 when csv:
                body = body!.Insert(random.Next(body.Length + 1), random.Next(2) == 0 ? Junk(random) : ",\"\n\r;\t");
                break;
            case < 5 when body is not null && JsonNode.Parse(body) is JsonObject json:
                MutateJson(json, random);
                body = json.ToJsonString();
                break;
            case 5 when body is not null:
                body = body[..random.Next(body.Length)];
                break;
            case 6 when path.Split('?', 2)[0].Split('/').Length > 2:
                var segments = path.Split('?', 2)[0].Split('/');
                segments[random.Next(2, segments.Length)] = Uri.EscapeDataString(Junk(random));
                path = string.Join('/', segments) + (path.Contains('?', StringComparison.Ordinal) ? "?" + path.Split('?', 2)[1] : "");
                break;
            case 7:
                var names = new[] { "limit", "cursor", "status", "from", "to", "buyer_id", "sku", "seller_id", "granularity", "weeks", "lead_time_weeks", "service_level", "lang", "q", "currency", "encoding" };
                path = path.Split('?', 2)[0] + "?" + string.Join('&', Enumerable.Range(0, 1 + random.Next(3))
                    .Select(_ => $"{names[random.Next(names.Length)]}={Uri.EscapeDataString(Junk(random))}"));
                break;
            case 8:
                headers["Idempotency-Key"] = random.Next(3) == 0 ? new string('k', 300) : HeaderText(Junk(random));
                break;
            default:
                if (random.Next(2) == 0)
                {
                    key = random.Next(2) == 0 ? null : "sk_" + HeaderText(Junk(random)).Trim();
                }
                else
                {
                    contentType = random.Next(2) == 0 ? "text/plain" : "application/xml";
                    body ??= "{}";
                }
                break;
        }
        return (path, body, key, headers, contentType);
    }

    private static void MutateJson(JsonObject json, Random random)
    {
        var members = json.Select(m => m.Key).ToList();
        if (members.Count == 0 || random.Next(8) == 0)
        {
            json["unexpected_" + random.Next(100)] = Junk(random);
            return;
        }
        var name = members[random.Next(members.Count)];
        if (json[name] is JsonObject inner && random.Next(2) == 0)
        {
            MutateJson(inner, random);
            return;
        }
        if (json[name] is JsonArray array && array.Count > 0 && random.Next(2) == 0)
        {
            var index = random.Next(array.Count);
            if (array[index] is JsonObject item)
            {
                MutateJson(item, random);
            }
            else
            {
                array[index] = Value(random);
            }
            return;
        }
        if (random.Next(4) == 0)
        {
            json.Remove(name);
        }
        else
        {
            json[name] = Value(random);
        }
    }

    private static JsonNode? Value(Random random) => random.Next(9) switch
    {
        0 => null,
        1 => JsonValue.Create(-random.Next(1, 1_000_000)),
        2 => JsonValue.Create(long.MaxValue),
        3 => JsonValue.Create(1e308),
        4 => JsonValue.Create(random.Next(2) == 0),
        5 => new JsonArray(JsonValue.Create(1), null, JsonValue.Create("x")),
        6 => new JsonObject { ["nested"] = Junk(random) },
        7 => JsonValue.Create(new string('x', 10_000 + random.Next(50_000))),
        _ => JsonValue.Create(Junk(random)),
    };

    private static bool HasControlCharacter(string path) =>
        Uri.UnescapeDataString(path).Any(char.IsControl);

    /// <summary>What a header can carry at all (HTTP/1.1: visible ASCII and spaces).</summary>
    private static string HeaderText(string text) => new([.. text.Where(c => c is >= ' ' and < '\u007f')]);

    private static string Junk(Random random) => random.Next(8) switch
    {
        0 => "",
        1 => "-1",
        2 => "99999999999999999999999",
        3 => "../../etc/passwd",
        4 => "' OR 1=1 --",
        5 => "🙂\u0000\u202e주문",
        6 => new string('z', 1 + random.Next(5_000)),
        _ => Guid.NewGuid().ToString("N")[..random.Next(1, 32)],
    };
}
