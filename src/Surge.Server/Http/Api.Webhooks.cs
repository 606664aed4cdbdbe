using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Surge.Flow;

namespace Surge.Server;

/// <summary>Subscriptions of sellers (their own orders), storefronts and admins (every order) to order events: as
/// signed CloudEvents to a URL (Standard Webhooks, the subscription's own <c>whsec_</c> secret) or as e-mail in
/// English, Korean or Simplified Chinese through the configured SMTP server.</summary>
public sealed partial class Api
{
    /// <summary>Subscriptions per owner.</summary>
    public const int WebhooksPerOwnerMax = 20;

    private void MapWebhooks(RouteGroupBuilder v1)
    {
        v1.MapPost("/webhooks", Handler(CreateWebhook)).WithName("createWebhook")
            .WithSummary("Subscribe a URL to order events (a seller gets its own orders; storefront and admin keys every order); the answer has the signing secret, once")
            .WithTags("webhooks").Accepts<CreateWebhookRequest>("application/json").Example("""{"url":"https://hooks.example.com/surge","event_types":["order.paid","order.delivered"],"language":"en"}""").Produces<WebhookBody>(201).Problems(400, 401, 409, 422)
            .Idempotent(201);
        v1.MapGet("/webhooks", Handler(ListWebhooks)).WithName("listWebhooks").WithSummary("The caller's subscriptions with delivery counts (admin: all)")
            .WithTags("webhooks").Produces<WebhookList>(200).Problems(401);
        v1.MapDelete("/webhooks/{id}", Handler(DeleteWebhook)).WithName("deleteWebhook").WithSummary("Delete a subscription; its undelivered events are dropped")
            .WithTags("webhooks").Produces(204).Problems(401, 404);
        v1.MapGet("/webhooks/{id}/deliveries", Handler(WebhookDeliveries)).WithName("listWebhookDeliveries")
            .WithSummary("A subscription's latest notifications, newest first: delivered, pending or dead-lettered with the reason")
            .WithTags("webhooks").Produces<WebhookDeliveryList>(200).Problems(401, 404, 422)
            .Query("limit", ParameterType.Integer, $"Notifications, 1–{DeliveriesMax} (default {DeliveriesDefault}).");
        v1.MapPost("/webhooks/{id}/redrive", Handler(RedriveWebhook)).WithName("redriveWebhook")
            .WithSummary("Send a subscription's dead-lettered events again").WithTags("webhooks").Produces<RedriveResponse>(200).Problems(401, 404);
    }

    private async Task CreateWebhook(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        await IdempotentWriteAsync(context, principal, ApiJson.Default.CreateWebhookRequest, ApiJson.Default.WebhookBody,
            request => CreateWebhookAsync(principal, request, context.RequestAborted));
    }

    /// <summary>Validates and creates one subscription (a retry with the same Idempotency-Key gets the same one, secret
    /// included, instead of a second subscription that would deliver every event twice).</summary>
    private async Task<(int Status, WebhookBody Body, string? Location)> CreateWebhookAsync(Principal principal, CreateWebhookRequest request,
        CancellationToken cancellationToken)
    {
        if ((request.Url is null) == (request.Email is null))
        {
            throw new RequestShapeException("give either url (signed webhooks) or email, not both");
        }
        if (request.Url is not null
            && (!Uri.TryCreate(request.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || request.Url.Length > 2_000))
        {
            throw new RequestShapeException("url: an absolute http(s) URL of at most 2,000 characters");
        }
        if (request.Url is not null && await state.Outbound.RefusalAsync(new Uri(request.Url), cancellationToken) is { } refusal)
        {
            throw new ApiProblemException(422, "url_not_allowed", $"url: {refusal}");
        }
        if (request.Email is not null && (request.Email.Length > 254 || !MimeKit.MailboxAddress.TryParse(request.Email, out var mailbox) || !mailbox.Address.Contains('@', StringComparison.Ordinal)))
        {
            throw new RequestShapeException("email: an e-mail address");
        }
        if (request.Email is not null && Options.Flow.Smtp is null)
        {
            throw new ApiProblemException(409, "smtp_not_configured", "this server has no SMTP server configured (serve --smtp); subscribe a url instead");
        }
        var language = request.Language ?? Messages.English;
        if (!Messages.Languages.Contains(language))
        {
            throw new RequestShapeException($"language: one of {string.Join(", ", Messages.Languages)}");
        }
        if (request.EventTypes is not { Length: > 0 } types || types.Any(t => !OrderEventTypes.All.Contains(t)))
        {
            throw new RequestShapeException($"event_types: one or more of {string.Join(", ", OrderEventTypes.All)}");
        }
        if (state.Control.Subscriptions.Count(s => ControlView.Owns(principal, s) && s.Owner == principal.Role) >= WebhooksPerOwnerMax)
        {
            throw new ApiProblemException(409, "too_many_webhooks", $"at most {WebhooksPerOwnerMax} subscriptions per key owner");
        }
        var subscription = state.Control.CreateSubscription(principal, request.Url, request.Email, language, types.Distinct().ToArray());
        return (201, new WebhookBody(WebhookId(subscription.Id), subscription.Url, subscription.Email, subscription.Language,
            [.. subscription.EventTypes], subscription.Url is null ? null : subscription.Secret), "/v1/webhooks/" + WebhookId(subscription.Id));
    }

    private async Task ListWebhooks(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var list = new List<WebhookBody>();
        foreach (var s in state.Control.Subscriptions.Where(s => ControlView.Owns(principal, s)).OrderBy(s => s.Id))
        {
            var (pending, delivered, dead) = await state.FlowQueries.NotificationCountsAsync(s.Id);
            list.Add(new WebhookBody(WebhookId(s.Id), s.Url, s.Email, s.Language, [.. s.EventTypes], null, pending, delivered, dead));
        }
        await WriteAsync(context, 200, new WebhookList([.. list]), ApiJson.Default.WebhookList);
    }

    private Task DeleteWebhook(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        if (!state.Control.DeleteSubscription(SubscriptionId(context), principal))
        {
            throw UnknownWebhook();
        }
        context.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    /// <summary>Most notifications one deliveries listing answers.</summary>
    public const int DeliveriesMax = 200;

    public const int DeliveriesDefault = 50;

    private async Task WebhookDeliveries(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var id = SubscriptionId(context);
        if (!state.Control.Subscriptions.Any(s => s.Id == id && ControlView.Owns(principal, s)))
        {
            throw UnknownWebhook();
        }
        var query = context.Request.Query;
        var limit = query.TryGetValue("limit", out var l) ? ParseInt(l, "limit", 1, DeliveriesMax) : DeliveriesDefault;
        var recent = await state.FlowQueries.RecentNotificationsAsync(id, limit);
        var items = recent.Select(n => new WebhookDeliveryBody(n.Id, n.Type, Ids.Order(Ids.ParentOf(n.OrderId)), Ids.SellerOrder(n.OrderId), DateTimeOffset.FromUnixTimeMilliseconds(n.AtMs),
            n.State switch { NotificationState.Delivered => "delivered", NotificationState.DeadLetter => "dead_letter", _ => "pending" }, n.Reason)).ToArray();
        await WriteAsync(context, 200, new WebhookDeliveryList(items), ApiJson.Default.WebhookDeliveryList);
    }

    private async Task RedriveWebhook(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var id = SubscriptionId(context);
        if (!state.Control.Subscriptions.Any(s => s.Id == id && ControlView.Owns(principal, s)))
        {
            throw UnknownWebhook();
        }
        await WriteAsync(context, 200, new RedriveResponse(await state.FlowQueries.RedriveNotificationsAsync(id)), ApiJson.Default.RedriveResponse);
    }

    private static string WebhookId(long id) => "wh_" + id.ToString(CultureInfo.InvariantCulture);

    private static long SubscriptionId(HttpContext context)
    {
        var text = (string)context.Request.RouteValues["id"]!;
        return text.StartsWith("wh_", StringComparison.Ordinal) && long.TryParse(text.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id : throw UnknownWebhook();
    }

    private static ApiProblemException UnknownWebhook() => new(404, "unknown_webhook", "no such webhook subscription for this key");
}
