namespace Surge.Server;

// /v1 endpoints: the buyer's tracking by token.
public sealed partial class Api
{
    private void MapTracking(IEndpointRouteBuilder v1)
    {
        v1.MapGet("/track/{token}", Handler(Track)).WithName("trackOrder").WithSummary("Follow an order by its tracking token (no key needed)").WithTags("tracking").AllowAnonymous()
            .Produces<TrackingResponse>(200).Problems(404)
            .Query("lang", ParameterType.String, "Language of the status texts: en, ko or zh (Simplified Chinese); default: the Accept-Language header, else en.");
        v1.MapGet("/track/{token}/events", Handler(TrackEvents)).WithName("trackOrderEvents").AllowAnonymous()
            .WithSummary("The order's timeline as Server-Sent Events, live until it is delivered or cancelled (no key needed)").WithTags("tracking")
            .Produces<string>(200, "text/event-stream").Problems(404)
            .RequestHeader("Last-Event-ID", "The id of the last event received: the stream resumes after it.");
    }

    private async Task Track(HttpContext context)
    {
        var (parent, order) = await TrackedOrderAsync(context);
        var language = TrackingLanguage(context);
        var timeline = (await TimelineAsync(order, language)).Select(TrackingEventBody).ToArray();
        await WriteAsync(context, 200, new TrackingResponse(Ids.Order(parent), order.Status.ToCode(), DateTimeOffset.FromUnixTimeMilliseconds(order.PlacedAtMs),
            language, timeline), ApiJson.Default.TrackingResponse);
    }

    private async Task<(long Parent, OrderView Order)> TrackedOrderAsync(HttpContext context)
    {
        var token = (string)context.Request.RouteValues["token"]!;
        if (!state.Tokens.TryRead(token, out var parent) || await state.Orders.GetAsync(parent) is not { } order)
        {
            throw new ApiProblemException(404, "unknown_tracking_token", "no order has this tracking token");
        }
        return (parent, order);
    }

    private static string TrackingLanguage(HttpContext context) =>
        Flow.Messages.Language(context.Request.Query.TryGetValue("lang", out var lang) ? lang.ToString() : null,
            context.Request.Headers.AcceptLanguage.ToString());

    private async Task<List<TimelineEntry>> TimelineAsync(OrderView order, string language)
    {
        var shipments = await state.FlowQueries.ShipmentsAsync(order);
        return OrderTimeline.Build(order, id => shipments.GetValueOrDefault(id, []), id => state.Flow.Rules.Carriers.FirstOrDefault(c => c.Id == id)?.Name, language);
    }

    private static TrackingEvent TrackingEventBody(TimelineEntry e) =>
        new(e.Key, e.Status, e.AtMs is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null, e.Message, e.ShipmentId, e.RawCode);

    /// <summary>Most time one tracking stream stays open; the browser's EventSource reconnects (with Last-Event-ID).</summary>
    public static readonly TimeSpan TrackingStreamMax = TimeSpan.FromMinutes(30);

    /// <summary>A comment line this often keeps proxies from closing an idle stream.</summary>
    public static readonly TimeSpan TrackingHeartbeat = TimeSpan.FromSeconds(15);

    /// <summary>How often a tracking stream of a silo in a cluster looks at its order again (changes made on other silos
    /// do not wake it).</summary>
    public static readonly TimeSpan TrackingClusterLook = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Server-Sent Events: every timeline step as an <c>event: timeline</c> whose id is its position, then each new
    /// step as it happens; ends once the order is delivered, cancelled or returned (<c>event: end</c>), or after
    /// <see cref="TrackingStreamMax"/>. A reconnect with <c>Last-Event-ID: n</c> resumes after step n.
    /// </summary>
    private async Task TrackEvents(HttpContext context)
    {
        var (parent, order) = await TrackedOrderAsync(context);
        var language = TrackingLanguage(context);
        var sent = int.TryParse(context.Request.Headers["Last-Event-ID"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var last) ? last + 1 : 0;
        using var watch = state.Flow.Watchers.Subscribe(parent);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TrackingStreamMax);
        // Each step is sent once (by key); ids count the steps sent. A step can appear before others already sent
        // (a carrier event that happened earlier but arrived later): it is sent when it appears.
        var sentKeys = (await TimelineAsync(order, language)).Take(sent).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                foreach (var entry in await TimelineAsync(order, language))
                {
                    if (!sentKeys.Add(entry.Key))
                    {
                        continue;
                    }
                    var data = JsonSerializer.Serialize(TrackingEventBody(entry), ApiJson.Default.TrackingEvent);
                    await context.Response.WriteAsync($"id: {sent++}\nevent: timeline\ndata: {data}\n\n", timeout.Token);
                }
                if (OrderTimeline.IsFinal(order))
                {
                    await context.Response.WriteAsync($"event: end\ndata: {{\"status\":\"{order.Status.ToCode()}\"}}\n\n", timeout.Token);
                    return;
                }
                await context.Response.Body.FlushAsync(timeout.Token);
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                // A change made on this silo wakes the stream at once; in a cluster the order's partition may live on another
                // silo, whose changes are seen at the next look.
                heartbeat.CancelAfter(Options.Cluster is null ? TrackingHeartbeat : TrackingClusterLook);
                try
                {
                    await watch.Changes.ReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", timeout.Token);
                }
                order = await state.Orders.GetAsync(parent) ?? order;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // the buyer left, or the stream reached its time limit
        }
    }
}
