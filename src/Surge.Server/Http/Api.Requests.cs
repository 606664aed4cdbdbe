namespace Surge.Server;

// The request plumbing every endpoint shares: authentication, bodies, answers, and the validation of ids and text.
public sealed partial class Api
{
    private static async Task WriteRawAsync(HttpContext context, int status, ReadOnlyMemory<byte> body, bool problem = false)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = problem ? Problems.ContentType : "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static async Task WriteAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted);
    }

    /// <summary>The caller, from <c>Authorization: Bearer …</c>; 401 without a valid key, 403 when its role may not.</summary>
    private Principal Authorize(HttpContext context, params Role[] allowed) => AuthorizeKey(context, allowed).Principal;

    /// <summary><see cref="Authorize"/>, and the key the caller sent (for what acts on the key itself: its rotation).</summary>
    private (Principal Principal, string Key) AuthorizeKey(HttpContext context, params Role[] allowed)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || header.Length > 300)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            throw new ApiProblemException(401, "unauthorized", "send Authorization: Bearer <api key>");
        }
        var key = header["Bearer ".Length..].Trim();
        var principal = state.Control.Authenticate(key, Options.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        if (principal is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            throw new ApiProblemException(401, "unauthorized", "the API key is not valid");
        }
        if (state.RateLimits.KeyRefusal(principal.Value.Role, key) is { } wait)
        {
            throw new ApiProblemException(429, "rate_limited", $"this {principal.Value.Role.ToString().ToLowerInvariant()} key sent more requests a second "
                + "than its limit; slow down (batch endpoints take up to 1,000 orders or SKUs in one request)", wait);
        }
        if (!allowed.Contains(principal.Value.Role))
        {
            throw new ApiProblemException(403, "forbidden", $"a {principal.Value.Role.ToString().ToLowerInvariant()} key may not do this");
        }
        return (principal.Value, key);
    }

    /// <summary>The seller named in the route (<c>{id}</c>) that the caller may see: the admin any, a seller only
    /// itself (403 for another); 404 for no such seller.</summary>
    private long RouteSeller(HttpContext context, string what)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller);
        if (!Ids.TryParseSeller((string)context.Request.RouteValues["id"]!, out var seller) || state.Control.FindSeller(seller) is null)
        {
            throw new ApiProblemException(404, "unknown_seller", "no such seller");
        }
        if (principal.Role == Role.Seller && principal.SellerId != seller)
        {
            throw new ApiProblemException(403, "forbidden", $"a seller key sees only its own {what}");
        }
        return seller;
    }

    /// <summary>A SKU named in a route: a seller's own, or (admin) any seller's given <c>?seller_id=</c>.</summary>
    private async ValueTask<(long Seller, int Sku)> ResolveSkuAsync(HttpContext context, string code)
    {
        var principal = Authorize(context, Role.Admin, Role.Seller);
        var seller = principal.SellerId;
        if (principal.Role == Role.Admin)
        {
            if (!Ids.TryParseSeller(context.Request.Query["seller_id"].ToString(), out seller))
            {
                throw new RequestShapeException("seller_id: required with the admin key (\"sel_…\")");
            }
        }
        return (seller, await SellerSkuAsync(seller, code));
    }

    private async ValueTask<int> SellerSkuAsync(long seller, string code) =>
        await Catalog.FindSkuAsync(seller, code) is var sku and >= 0 ? sku
            : throw new ApiProblemException(404, RejectReason.UnknownSku.ToCode(), $"no SKU '{code}' for this seller");

    private static long OrderId(HttpContext context) =>
        Ids.TryParseOrder((string)context.Request.RouteValues["id"]!, out var parent) ? parent
            : throw new ApiProblemException(404, RejectReason.OrderNotFound.ToCode(), "not an order id");

    private static ApiProblemException NotFound(long parent) => new(404, RejectReason.OrderNotFound.ToCode(), $"no order {Ids.Order(parent)}");

    private static int ParseInt(string? text, string name, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
            : throw new RequestShapeException($"{name}: an integer from {min} to {max}");

    private static string Text(string value, string name, int charsMax) =>
        value.Length > 0 && value.Length <= charsMax && !value.Any(char.IsControl) && Encoding.UTF8.GetByteCount(value) <= Limits.TextBytesMax
            ? value : throw new RequestShapeException($"{name}: 1 to {charsMax} printable characters");

    /// <summary>Whether the API takes <paramref name="value"/> as a code (SKU, warehouse, …): 1 to
    /// <see cref="Limits.CodeBytesMax"/> UTF-8 bytes, no spaces or control characters.</summary>
    public static bool IsCode(string value) =>
        value.Length > 0 && Encoding.UTF8.GetByteCount(value) <= Limits.CodeBytesMax && !value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c));

    private static string Code(string value, string name) =>
        IsCode(value)
            ? value : throw new RequestShapeException($"{name}: 1 to {Limits.CodeBytesMax} bytes, no spaces or control characters");

    private static string Country(string value, string name) =>
        value.Length == 2 && char.IsAsciiLetterUpper(value[0]) && char.IsAsciiLetterUpper(value[1])
            ? value : throw new RequestShapeException($"{name}: an ISO 3166-1 alpha-2 code such as \"KR\"");

    /// <summary>The request body (JSON only), at most <see cref="ServerOptions.RequestBodyBytesMax"/> bytes.</summary>
    private async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        var (bytes, _) = await ReadBodyAsync(context, pool: null); // a new array has exactly the body's length
        return bytes;
    }

    /// <summary>The request body in an array of <paramref name="pool"/> (returned by the caller) or a new one. A batch
    /// body is ~130 kB: a new array each time lands on the large-object heap and forced full collections
    /// (measured: a fifth of the CPU of the batch path went to the GC and to zeroing fresh pages).</summary>
    private async Task<(byte[] Bytes, int Length)> ReadBodyAsync(HttpContext context, ArrayPool<byte>? pool)
    {
        var type = context.Request.ContentType;
        if (type is null || !(type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith(Flow.CloudEvents.ContentType, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ApiProblemException(415, "unsupported_media_type", "send the body as application/json");
        }
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted);
            if (read.Buffer.Length > Options.Http.RequestBodyBytesMax)
            {
                reader.AdvanceTo(read.Buffer.End);
                throw new ApiProblemException(413, "body_too_large", $"the body exceeds {Options.Http.RequestBodyBytesMax} bytes");
            }
            if (read.IsCompleted)
            {
                var length = (int)read.Buffer.Length;
                var bytes = pool?.Rent(length) ?? new byte[length];
                read.Buffer.CopyTo(bytes);
                reader.AdvanceTo(read.Buffer.End);
                return (bytes, length);
            }
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    /// <summary>A file sent as the body (any media type; the caller checks it), at most <paramref name="bytesMax"/> bytes.</summary>
    private static async Task<byte[]> ReadFileAsync(HttpContext context, int bytesMax)
    {
        using var copy = new MemoryStream();
        var buffer = new byte[81_920];
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            if (copy.Length + read > bytesMax)
            {
                throw new ApiProblemException(413, "body_too_large", $"the file exceeds {bytesMax:N0} bytes");
            }
            copy.Write(buffer, 0, read);
        }
        return copy.ToArray();
    }

    /// <summary>Reads a JSON body into a request record: broken JSON → 400, wrong shape → 422 naming the problem.</summary>
    private async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type) where T : class => Deserialize(await ReadBodyAsync(context), type);

    private static T Deserialize<T>(byte[] body, JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new RequestShapeException("the body must be a JSON object");
        }
        catch (JsonException e)
        {
            OrderJson.ThrowIfMalformed(body); // broken JSON is a 400; only valid JSON of the wrong shape is a 422
            throw new RequestShapeException(e.Message);
        }
    }
}
