namespace Surge.Server;

/// <summary>
/// Every stable <c>code</c> a problem answer can carry, with what it means — described in the OpenAPI document on
/// <c>ProblemBody.code</c>. The contract test and the fuzz check that every code the API answered is one of these, so a
/// new code cannot go undocumented once a test meets it.
/// </summary>
public static class ProblemCodes
{
    public static readonly IReadOnlyDictionary<string, string> All = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // The request itself.
        ["malformed_json"] = "the body is not JSON (400)",
        ["bad_request"] = "the HTTP request was refused as such (400)",
        ["invalid_request"] = "valid JSON of the wrong shape or with a value out of range; the detail names the member (422)",
        ["invalid_idempotency_key"] = "the Idempotency-Key header is empty, too long or not printable (400)",
        ["body_too_large"] = "the body is larger than the server takes (413)",
        ["unsupported_media_type"] = "the body is not application/json (415)",
        ["not_found"] = "no such route (404)",
        ["method_not_allowed"] = "the route does not take this method (405)",
        ["error"] = "another HTTP error without a more specific code",
        // Keys.
        ["unauthorized"] = "no key, or not a valid one (401)",
        ["forbidden"] = "the key may not do this (403)",
        ["rate_limited"] = "the key sent more requests a second than its limit; retry after Retry-After (429)",
        // Idempotency.
        ["idempotency_key_reused"] = "the Idempotency-Key was used with another request (422)",
        ["idempotency_key_in_use"] = "a request with this Idempotency-Key is still running; retry after Retry-After (409)",
        // Catalog, stock and orders (the engine's refusals among them).
        ["unknown_seller"] = "no such seller (404)",
        ["unknown_sku"] = "no such SKU for this seller (404/422)",
        ["unknown_warehouse"] = "no such warehouse (404/422)",
        ["warehouse_exists"] = "a warehouse with this id exists with other attributes (409)",
        ["insufficient_stock"] = "not enough available units (409)",
        ["limit_exceeded"] = "the buyer's flash-sale limit would be exceeded (409)",
        ["sale_not_started"] = "the SKU's flash sale has not started (409)",
        ["duplicate_order"] = "an order with this id exists (409)",
        ["invalid_quantity"] = "a quantity out of range (422)",
        ["invalid_argument"] = "an argument the engine refused (422)",
        ["capacity_exceeded"] = "the partition's tables are full (503)",
        ["too_many_sellers"] = "an order spans more sellers than allowed (422)",
        ["order_not_found"] = "no such order (404)",
        ["order_retired"] = "the order has retired from its partition and is read-only (409)",
        ["invalid_transition"] = "the order's status does not allow this (409)",
        ["order_not_placed"] = "the order was not placed as a whole; nothing is held (409)",
        ["order_incomplete"] = "not every seller order of the order exists (409)",
        ["reservation_expired"] = "the order was not paid before its hold expired; it is cancelled (409)",
        // Downstream, tracking, webhooks.
        ["unknown_carrier"] = "no such carrier (404)",
        ["unknown_shipment"] = "no such shipment (404/422)",
        ["unknown_tracking_code"] = "a carrier event names a tracking code the server does not know (422)",
        ["unknown_tracking_token"] = "no order has this tracking token (404)",
        ["missing_webhook_headers"] = "a carrier event without its webhook-id, -timestamp or -signature header (401)",
        ["bad_webhook_timestamp"] = "a carrier event's webhook-timestamp is not a number (401)",
        ["webhook_timestamp_out_of_tolerance"] = "a carrier event's timestamp is too far from the server's clock (401)",
        ["bad_webhook_signature"] = "a carrier event's signature does not verify (401)",
        ["webhook_replayed"] = "a carrier event seen before (409)",
        ["webhook_in_progress"] = "a carrier event whose earlier request is still being stored; send it again after Retry-After (503)",
        ["unknown_webhook"] = "no such subscription of the caller (404)",
        ["url_not_allowed"] = "a webhook URL that resolves inside the network (422)",
        ["smtp_not_configured"] = "an e-mail subscription on a server without SMTP (409)",
        ["too_many_webhooks"] = "the key's owner has the most subscriptions allowed (409)",
        ["read_model_unavailable"] = "this node keeps no read model (503)",
        // The node.
        ["starting"] = "the partitions are still recovering; retry after Retry-After (503)",
        ["draining"] = "this node is stopping; send the request to another (503)",
        ["not_ready"] = "readiness: the detail names the checks that failed (503)",
        ["partition_overloaded"] = "the partition's queue is full (a hot seller); retry after Retry-After (429)",
        ["node_saturated"] = "the node's queues are full; retry after Retry-After (503)",
        ["silo_capacity"] = "the node's capacity cap is reached; retry after Retry-After (503)",
        ["deadline_exceeded"] = "not answered within the request deadline; the order may still be placed, retry with the same Idempotency-Key (503)",
        ["partition_unavailable"] = "a partition did not answer (moving, its silo died, its journal failed, or its downstream is opening); retry after Retry-After (503)",
        ["internal_error"] = "a bug: logged, answered without details (500)",
    };
}
