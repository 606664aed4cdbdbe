using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Surge.Server;

/// <summary>
/// The operator dashboard served by the node: a login form that takes the admin key and opens a session (a signed
/// token in an HttpOnly, SameSite=Strict cookie, valid on every silo of a cluster: <see cref="SessionTokens"/>; only
/// the admin key opens it, so no seller sees another's data), a page
/// with live numbers and charts (uPlot, bundled into the assembly at build time — nothing is fetched at run
/// time), fed once a second by Server-Sent Events, and the buyer's tracking page at <c>/track/{token}</c>.
/// </summary>
/// <summary>Marks an endpoint for operators only (dashboard, /metrics): served on the management port when one is set.</summary>
public sealed class ManagementEndpoint
{
    public static readonly ManagementEndpoint Instance = new();

    private ManagementEndpoint()
    {
    }
}

public sealed class Dashboard(ServerState state, NodeSampler sampler)
{
    public const string SessionCookie = "surge_session";

    /// <summary>How long a login lasts.</summary>
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);

    private readonly SessionTokens _sessions = new(state.Control.TrackingSecret(null), state.Options.Clock);

    // One-time login links of the demo (embedded, one node): kept on the node that made them.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _links = new(StringComparer.Ordinal);

    public void Map(WebApplication app)
    {
        // The operator's pages go to the management port when there is one; the buyers' tracking page and the assets it
        // shares with the dashboard stay on the public port.
        app.MapGet("/", Index).ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
        app.MapPost("/login", Login).ExcludeFromDescription().DisableAntiforgery().WithMetadata(ManagementEndpoint.Instance);
        app.MapPost("/logout", Logout).ExcludeFromDescription().DisableAntiforgery().WithMetadata(ManagementEndpoint.Instance);
        app.MapGet("/assets/{file}", Asset).ExcludeFromDescription();
        app.MapGet("/dashboard/stream", Stream).ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
        app.MapGet("/track/{token}", TrackPage).ExcludeFromDescription();
        app.MapGet("/seller", SellerPage).ExcludeFromDescription();
        app.MapGet("/favicon.svg", Favicon).ExcludeFromDescription();
        app.MapGet("/favicon.ico", Favicon).ExcludeFromDescription();
        app.MapGet("/dashboard/forecast", Forecast).ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
        app.MapGet("/dashboard/history", History).ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
        app.MapGet("/dashboard/sellers/{id}", SellerDrillDown).ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
        app.MapGet("/dashboard/cluster", Cluster).ExcludeFromDescription().WithMetadata(ManagementEndpoint.Instance);
    }

    /// <summary>A one-time login link (path and query) for the demo: opens a session once, without typing the key,
    /// within <paramref name="validFor"/>.</summary>
    public string NewLoginLink(TimeSpan validFor)
    {
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        _links[token] = DateTimeOffset.UtcNow + validFor;
        return "/?login=" + token;
    }

    private string NewSession() => _sessions.Issue(SessionLifetime);

    private bool SignedIn(HttpContext context) =>
        context.Request.Cookies.TryGetValue(SessionCookie, out var token) && _sessions.IsValid(token);

    private static Task Page(HttpContext context, string name, int status = 200, string? replace = null, string? with = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var html = Resource(name) ?? throw new InvalidOperationException($"the dashboard asset {name} is not embedded");
        var text = System.Text.Encoding.UTF8.GetString(html);
        if (replace is not null)
        {
            text = text.Replace(replace, System.Net.WebUtility.HtmlEncode(with ?? ""), StringComparison.Ordinal);
        }
        return context.Response.WriteAsync(text);
    }

    private Task Index(HttpContext context)
    {
        if (context.Request.Query.TryGetValue("login", out var link) && _links.TryRemove(link.ToString(), out var until) && until > DateTimeOffset.UtcNow)
        {
            SetCookie(context, NewSession()); // the demo's one-time link, used up now
            context.Response.Redirect("/");
            return Task.CompletedTask;
        }
        return SignedIn(context) ? Page(context, "index.html") : Page(context, "login.html", replace: "{{error}}", with: "");
    }

    private async Task Login(HttpContext context)
    {
        if (state.RateLimits.LoginRefusal(context.Connection.RemoteIpAddress?.ToString() ?? "") is { } wait)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            await Page(context, "login.html", 429, "{{error}}", "Too many attempts from this address; wait a minute and try again.");
            return;
        }
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted) : null;
        var key = form?["key"].ToString() ?? "";
        if (key.Length is 0 or > 300 || state.Control.Authenticate(key.Trim(), state.Options.Clock.GetUtcNow().ToUnixTimeMilliseconds()) is not { Role: Role.Admin })
        {
            await Page(context, "login.html", 401, "{{error}}", "That is not the admin key of this node.");
            return;
        }
        SetCookie(context, NewSession());
        context.Response.Redirect("/", permanent: false);
    }

    private static void SetCookie(HttpContext context, string token) =>
        context.Response.Cookies.Append(SessionCookie, token, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            MaxAge = SessionLifetime,
            Path = "/",
        });

    private Task Logout(HttpContext context)
    {
        if (context.Request.Cookies.TryGetValue(SessionCookie, out var token))
        {
            _sessions.Revoke(token);
        }
        context.Response.Cookies.Delete(SessionCookie);
        context.Response.Redirect("/");
        return Task.CompletedTask;
    }

    private static async Task Asset(HttpContext context)
    {
        var file = (string)context.Request.RouteValues["file"]!;
        var bytes = file.EndsWith(".js", StringComparison.Ordinal) || file.EndsWith(".css", StringComparison.Ordinal) ? Resource(file) : null;
        if (bytes is null)
        {
            await Problems.WriteAsync(context, 404, "not_found", "no such asset");
            return;
        }
        context.Response.ContentType = file.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
        context.Response.Headers.CacheControl = "public, max-age=3600";
        await context.Response.Body.WriteAsync(bytes);
    }

    private static byte[]? Resource(string name)
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("dashboard/" + name);
        if (stream is null)
        {
            return null;
        }
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>What the seller centre may load and talk to: its own origin only (no inline script, no other host).</summary>
    private const string SellerContentPolicy =
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    /// <summary>The seller centre (a client of the public API with the seller's own key; see seller.js).</summary>
    private static Task SellerPage(HttpContext context)
    {
        context.Response.Headers.ContentSecurityPolicy = SellerContentPolicy;
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Page(context, "seller.html");
    }

    private static async Task Favicon(HttpContext context)
    {
        context.Response.ContentType = "image/svg+xml";
        context.Response.Headers.CacheControl = "public, max-age=86400";
        await context.Response.Body.WriteAsync(Resource("favicon.svg")!);
    }

    private async Task TrackPage(HttpContext context)
    {
        var token = (string)context.Request.RouteValues["token"]!;
        if (!state.Tokens.TryRead(token, out var parent) || await state.Orders.GetAsync(parent) is null)
        {
            await Page(context, "track-missing.html", 404);
            return;
        }
        await Page(context, "track.html");
    }

    /// <summary>A seller's per-SKU forecast for the dashboard's panel (the same as <c>GET /v1/sellers/{id}/forecast</c>).</summary>
    private async Task Forecast(HttpContext context)
    {
        if (await RefusedAsync(context))
        {
            return;
        }
        if (await SellerAsync(context, context.Request.Query["seller_id"].ToString()) is not { } seller)
        {
            return;
        }
        var forecast = Api.ForecastBody(await state.Forecasts.ForecastAsync(seller.Id));
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, forecast, ApiJson.Default.SellerForecastResponse, context.RequestAborted);
    }

    /// <summary>The charts' recent past (<see cref="NodeSampler.HistoryPointsMax"/> seconds at most), so that a page opened
    /// now draws the last minutes at once.</summary>
    private async Task History(HttpContext context)
    {
        if (await RefusedAsync(context))
        {
            return;
        }
        await WriteJsonAsync(context, new { points = sampler.History() });
    }

    /// <summary>One seller as the operator sees it: the orders this node was sent for it (accepted, refused by reason,
    /// since start) and how far behind its partition's downstream and read model are.</summary>
    private async Task SellerDrillDown(HttpContext context)
    {
        if (await RefusedAsync(context))
        {
            return;
        }
        if (await SellerAsync(context, (string)context.Request.RouteValues["id"]!) is not { } found)
        {
            return;
        }
        var seller = found.Id;
        var (accepted, refused) = state.SellerTallies.Of(seller);
        var partition = state.Gateway.PartitionOf(seller);
        var grain = state.Gateway.Grain(partition);
        var flow = await grain.FlowStatus();
        var readModel = await grain.ReadModelStatus();
        await WriteJsonAsync(context, new
        {
            seller_id = Ids.Seller(seller), name = found.Name, accepted, refused, partition,
            lag_records = flow.LagRecords, lag_seconds = flow.LagSeconds,
            read_model_lag_records = readModel?.LagRecords, read_model_lag_seconds = readModel?.LagSeconds,
        });
    }

    /// <summary>The silos, the partitions each one is given, and the latest moves.</summary>
    private async Task Cluster(HttpContext context)
    {
        if (await RefusedAsync(context))
        {
            return;
        }
        await WriteJsonAsync(context, sampler.Cluster());
    }

    /// <summary>The seller an id names; null (a 404 written) for a malformed id or no such seller.</summary>
    private async Task<Seller?> SellerAsync(HttpContext context, string id)
    {
        if (Ids.TryParseSeller(id, out var seller) && state.Control.FindSeller(seller) is { } found)
        {
            return found;
        }
        await Problems.WriteAsync(context, 404, "unknown_seller", "no such seller (an id such as sel_1)");
        return null;
    }

    private async Task<bool> RefusedAsync(HttpContext context)
    {
        if (SignedIn(context))
        {
            return false;
        }
        await Problems.WriteAsync(context, 401, "unauthorized", "sign in on the dashboard first");
        return true;
    }

    private static Task WriteJsonAsync<T>(HttpContext context, T value)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, JsonOptions, context.RequestAborted);
    }

    /// <summary>One sample a second as Server-Sent Events, until the page closes.</summary>
    private async Task Stream(HttpContext context)
    {
        if (await RefusedAsync(context))
        {
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        using var timer = new PeriodicTimer(NodeSampler.SampleEvery);
        try
        {
            do
            {
                if (!state.Lifecycle.Ready)
                {
                    await context.Response.WriteAsync(": the node is still recovering\n\n", context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                    continue;
                }
                var sample = await sampler.SampleAsync();
                await context.Response.WriteAsync($"event: sample\ndata: {JsonSerializer.Serialize(sample, JsonOptions)}\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
            while (await timer.WaitForNextTickAsync(context.RequestAborted));
        }
        catch (OperationCanceledException)
        {
            // the page was closed
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

}
