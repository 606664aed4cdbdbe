using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Surge.Flow;

namespace Surge.Server;

/// <summary>Carriers: their delivery health, dead letters and redrive (admin), and the signed tracking events they
/// send back (no API key: the Standard Webhooks signature under the carrier's secret is the authentication).</summary>
public sealed partial class Api
{
    /// <summary>Tracking events in one request.</summary>
    public const int TrackingEventsPerRequestMax = 1_000;

    private void MapCarriers(RouteGroupBuilder v1)
    {
        v1.MapGet("/carriers", Handler(ListCarriers)).WithName("listCarriers").WithSummary("Carriers and their delivery health: breaker, queue, dead letters (admin)")
            .WithTags("carriers").Produces<CarrierList>(200).Problems(401, 403);
        v1.MapGet("/carriers/{id}/dead-letters", Handler(ListDeadLetters)).WithName("listDeadLetters").WithSummary("Shipments a carrier never accepted (admin)")
            .WithTags("carriers").Produces<DeadLetterList>(200).Problems(401, 403, 404, 503);
        v1.MapPost("/carriers/{id}/dead-letters/redrive", Handler(Redrive)).WithName("redriveDeadLetters")
            .WithSummary("Send dead-lettered shipments again: all of the carrier's, or those listed (admin)").WithTags("carriers")
            .Accepts<RedriveRequest>("application/json").Example("""{"shipment_ids":["shp_1"]}""").Produces<RedriveResponse>(200).Problems(400, 401, 403, 404, 422);
        v1.MapPost("/carriers/{id}/events", Handler(CarrierEvents)).WithName("postCarrierEvents").AllowAnonymous()
            .WithSummary("Tracking events from a carrier: a CloudEvent signed by Standard Webhooks under the carrier's secret").WithTags("carriers")
            .Produces<TrackingEventsResponse>(202).Problems(400, 401, 404, 409, 413, 415, 422, 503);
    }

    private CarrierConfig FindCarrier(HttpContext context) =>
        state.Flow.Rules.Carriers.FirstOrDefault(c => c.Id == (string)context.Request.RouteValues["id"]!)
        ?? throw new ApiProblemException(404, "unknown_carrier", "no carrier with this id is configured");

    /// <summary>Each carrier's figures summed over every partition (each partition's unit has its own lane and breaker:
    /// the breaker shown is the worst of them).</summary>
    private async Task ListCarriers(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var lanes = (await state.FlowQueries.StatusAsync()).SelectMany(s => s.Carriers).ToLookup(h => h.CarrierId);
        var list = state.Flow.Rules.Carriers.Select(c => lanes[c.Id].ToList() is { Count: > 0 } h
            ? new CarrierStatusBody(c.Id, c.Name, WorstBreaker(h.Select(x => x.Breaker)), h.Sum(x => x.Queued), h.Sum(x => x.Sent), h.Sum(x => x.Failed),
                h.Sum(x => x.DeadLetters))
            : new CarrierStatusBody(c.Id, c.Name, "not_called", 0, 0, 0, 0)).ToArray();
        await WriteAsync(context, 200, new CarrierList(list), ApiJson.Default.CarrierList);
    }

    private static readonly string[] BreakersWorstFirst = ["isolated", "open", "halfopen"];

    private static string WorstBreaker(IEnumerable<string> breakers)
    {
        var all = breakers.ToList();
        return BreakersWorstFirst.FirstOrDefault(all.Contains) ?? "closed";
    }

    private async Task ListDeadLetters(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var carrier = FindCarrier(context);
        var dead = (await state.FlowQueries.DeadLettersAsync(carrier.Id))
            .Select(s => new DeadLetterBody(s.Id, Ids.SellerOrder(s.Plan.OrderId), s.DeadLetterReason ?? "", s.DeadLetterAttempts)).ToArray();
        await WriteAsync(context, 200, new DeadLetterList(dead), ApiJson.Default.DeadLetterList);
    }

    private async Task Redrive(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var carrier = FindCarrier(context);
        var request = await ReadAsync(context, ApiJson.Default.RedriveRequest);
        var redriven = await state.FlowQueries.RedriveShipmentsAsync(carrier.Id, request.ShipmentIds?.ToHashSet(StringComparer.Ordinal));
        await WriteAsync(context, 200, new RedriveResponse(redriven), ApiJson.Default.RedriveResponse);
    }

    /// <summary>
    /// Verifies the signature (401 when missing or wrong, or the timestamp is more than 5 minutes off), refuses a
    /// webhook id seen before (409), then reads a CloudEvent whose data is one event or <c>{"events": [...]}</c>,
    /// each <c>{shipment_id, code, occurred_at, description?}</c>. Codes are normalized to the tracking statuses
    /// (the raw code is kept); an unknown code or shipment is 422 and nothing of the request is stored.
    /// </summary>
    private async Task CarrierEvents(HttpContext context)
    {
        var carrier = FindCarrier(context);
        if (carrier.Secret is null || !WebhookSecret.TryParse(carrier.Secret, out var key))
        {
            throw new ApiProblemException(404, "unknown_carrier", "this carrier has no signing secret configured, so its events cannot be verified");
        }
        var body = await ReadBodyAsync(context);
        var headers = context.Request.Headers;
        var now = Options.Clock.GetUtcNow();
        var id = headers[StandardWebhooks.IdHeader].ToString();
        var verdict = StandardWebhooks.Verify(key, id, headers[StandardWebhooks.TimestampHeader].ToString(),
            headers[StandardWebhooks.SignatureHeader].ToString(), body, now);
        if (verdict != WebhookVerdict.Valid)
        {
            throw new ApiProblemException(401, StandardWebhooks.VerdictCode(verdict), verdict switch
            {
                WebhookVerdict.MissingHeaders => "send webhook-id, webhook-timestamp and webhook-signature",
                WebhookVerdict.TimestampOutOfTolerance => $"webhook-timestamp is more than {StandardWebhooks.Tolerance.TotalMinutes} minutes away from this server's clock",
                WebhookVerdict.BadTimestamp => "webhook-timestamp must be Unix seconds",
                _ => "no signature matches the body under this carrier's secret",
            });
        }
        var updates = ParseTrackingEvents(carrier, body);
        var shipments = await state.FlowQueries.FindShipmentsAsync(updates.Select(u => u.ShipmentId));
        for (var i = 0; i < updates.Count; i++)
        {
            if (!shipments.TryGetValue(updates[i].ShipmentId, out var found) || found.Shipment.Plan.CarrierId != carrier.Id)
            {
                var at = updates.Count == 1 ? "data" : $"data.events[{i}]";
                throw new ApiProblemException(422, "unknown_shipment", $"{at}.shipment_id: no shipment {updates[i].ShipmentId} was handed to {carrier.Id}");
            }
        }
        var replayKey = carrier.Id + "/" + id;
        switch (state.Flow.Replays.Begin(replayKey, now))
        {
            case ReplayVerdict.Replayed:
                throw new ApiProblemException(409, StandardWebhooks.VerdictCode(WebhookVerdict.Replayed), $"webhook {id} was received before");
            case ReplayVerdict.InProgress:
                throw new ApiProblemException(503, "webhook_in_progress", $"webhook {id} is still being stored from an earlier request; send it again shortly",
                    TimeSpan.FromSeconds(1));
        }
        int fresh;
        try
        {
            fresh = await state.FlowQueries.RecordTrackingAsync(updates, shipments);
        }
        catch
        {
            state.Flow.Replays.Release(replayKey); // not stored: the carrier's retry of this webhook must be taken, not refused as a replay
            throw;
        }
        state.Flow.Replays.Complete(replayKey);
        await WriteAsync(context, 202, new TrackingEventsResponse(fresh, updates.Count - fresh), ApiJson.Default.TrackingEventsResponse);
    }

    private List<TrackingUpdate> ParseTrackingEvents(CarrierConfig carrier, byte[] body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new ApiProblemException(400, "malformed_json", e.Message);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Str(root, "specversion") != "1.0" || Str(root, "id") is not { Length: > 0 } eventId
                || Str(root, "type") is not { Length: > 0 } || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                throw new RequestShapeException("the body must be a CloudEvents 1.0 JSON event (specversion \"1.0\", id, type, data object)");
            }
            var items = data.TryGetProperty("events", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray().ToList() : [data];
            if (items.Count is 0 or > TrackingEventsPerRequestMax)
            {
                throw new RequestShapeException($"data.events: 1 to {TrackingEventsPerRequestMax} events");
            }
            var updates = new List<TrackingUpdate>(items.Count);
            for (var i = 0; i < items.Count; i++)
            {
                var at = items.Count == 1 ? "data" : $"data.events[{i}]";
                var item = items[i];
                var shipmentId = Str(item, "shipment_id") ?? throw new RequestShapeException($"{at}.shipment_id: required");
                var code = Str(item, "code") is { Length: > 0 and <= 64 } c ? c : throw new RequestShapeException($"{at}.code: 1 to 64 characters");
                var occurred = Str(item, "occurred_at") is { } t && DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                    ? time : throw new RequestShapeException($"{at}.occurred_at: an RFC 3339 time");
                var description = Str(item, "description") is { } d ? Text(d, $"{at}.description", 500) : null;
                var status = TrackingStatuses.Normalize(carrier, code)
                    ?? throw new ApiProblemException(422, "unknown_tracking_code", $"{at}.code: '{code}' is not a known code of {carrier.Id} (map it in status_codes)");
                updates.Add(new TrackingUpdate(shipmentId, status, code, occurred.ToUnixTimeMilliseconds(),
                    items.Count == 1 ? eventId : $"{eventId}#{i}", description));
            }
            return updates;
        }
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
