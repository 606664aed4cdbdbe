namespace Surge.Server;

// /v1 endpoints: orders: placement (single and batch), lookup, payment, cancellation (listings: Api.Listings.cs).
public sealed partial class Api
{
    private void MapOrders(IEndpointRouteBuilder v1)
    {
        v1.MapPost("/orders", Handler(PlaceOrder)).WithName("placeOrder").WithSummary("Place an order (one seller order per seller, all or nothing)").WithTags("orders")
            .Accepts<PlaceOrderRequest>("application/json").Example("""{"buyer_id":"buyer-42","ship_to":{"country":"KR","region":"seoul","postal_code":"04524"},"lines":[{"seller_id":"sel_1","sku":"mug-blue","quantity":2}]}""").Produces<OrderBody>(201).Problems(400, 401, 403, 409, 413, 422, 429, 503)
            .Idempotent(201).ResponseHeader(201, "Location", ParameterType.String, "The new order's URL.");
        v1.MapPost("/orders/batch", Handler(PlaceOrders)).WithName("placeOrders").WithSummary("Place up to 1,000 orders; answers in request order").WithTags("orders")
            .Accepts<PlaceOrdersRequest>("application/json").Example("""{"orders":[{"buyer_id":"buyer-42","ship_to":{"country":"KR","region":"seoul"},"lines":[{"seller_id":"sel_1","sku":"mug-blue","quantity":1}],"idempotency_key":"cart-42-1"}]}""").Produces<OrderBatchResponse>(200).Problems(400, 401, 403, 413, 422, 503)
            .Idempotent(200);
        v1.MapGet("/orders/{id}", Handler(GetOrder)).WithName("getOrder").WithSummary("An order and its seller orders").WithTags("orders")
            .Produces<OrderBody>(200).Problems(401, 403, 404, 503);
        v1.MapPost("/orders/{id}/payment", Handler(PayOrder)).WithName("payOrder").WithSummary("Confirm payment of every seller order of an order").WithTags("orders")
            .Produces<OrderBody>(200).Problems(401, 403, 404, 409, 429, 503)
            .Idempotent(200);
        v1.MapPost("/orders/{id}/cancel", Handler(CancelOrder)).WithName("cancelOrder").WithSummary("Cancel an order before it is dispatched, all its seller orders (stock returns); a seller key: an order it sells in").WithTags("orders")
            .Produces<OrderBody>(200).Problems(401, 403, 404, 409, 429, 503)
            .Idempotent(200);
    }

    private async Task PlaceOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront);
        if (state.Capacity is { } capacity && capacity.Take(1) == 0)
        {
            state.Metrics.Order("silo_capacity");
            throw capacity.Refusal();
        }
        var started = Stopwatch.GetTimestamp();
        var body = await ReadBodyAsync(context);
        await IdempotentAsync(context, principal, body, 201, async () =>
        {
            var order = OrderJson.ReadOrder(body);
            var key = context.Request.Headers.TryGetValue("Idempotency-Key", out var given) ? OrderKey(principal, given.ToString(), order) : (IdempotencyKey?)null;
            var result = await WithDeadline(state.Orders.PlaceAsync(order, key));
            state.Metrics.Order(result.Problem?.Code);
            state.SellerTallies.Count(order, result.Problem?.Code);
            return result;
        });
        state.Metrics.Request("single", Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Up to <see cref="ServerOptions.BatchOrdersMax"/> orders in one request, answered in request order. The
    /// batch as a whole may carry an Idempotency-Key: its answer is kept unless an order in it was told to retry
    /// (429, 503), in which case the key is released and a retry runs the batch again.</summary>
    private async Task PlaceOrders(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront);
        var started = Stopwatch.GetTimestamp();
        var (rented, length) = await ReadBodyAsync(context, ArrayPool<byte>.Shared);
        var returned = false;
        void Return()
        {
            // Back to the pool as soon as the orders are read, not after they are placed: arrays held across the
            // placement make the pool miss, and a fresh ~130 kB array lands on the large-object heap.
            if (!returned)
            {
                returned = true;
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
        try
        {
            await IdempotentAsync(context, principal, rented.AsMemory(0, length), () =>
            {
                List<(OrderRequest? Order, string? Error)> requests;
                try
                {
                    requests = OrderJson.ReadBatch(rented.AsSpan(0, length), Options.Http.BatchOrdersMax);
                }
                finally
                {
                    Return();
                }
                return PlaceBatchAsync(principal, requests);
            });
        }
        finally
        {
            Return();
        }
        state.Metrics.Request("batch", Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The engine's key for an order placed with a client's key: kept in the order's partition with its
    /// answer for <see cref="OrderOptions.IdempotencyRetention"/>, so a retry after a restart or through another silo
    /// gets the same order.</summary>
    private IdempotencyKey OrderKey(Principal principal, string key, OrderRequest order) =>
        IdempotencyKeys.Of(IdempotencyKeys.OrderScope(principal), key, IdempotencyKeys.RequestHash(order),
            (Options.Clock.GetUtcNow() + Options.Orders.IdempotencyRetention).ToUnixTimeMilliseconds());

    private async Task<(StoredResponse Answer, bool Final)> PlaceBatchAsync(Principal principal, List<(OrderRequest? Order, string? Error)> requests)
    {
        var orders = requests.Select(r => r.Order).ToArray();
        var keys = orders.Any(o => o?.IdempotencyKey is not null)
            ? orders.Select(o => o?.IdempotencyKey is { } key ? OrderKey(principal, key, o) : (IdempotencyKey?)null).ToArray()
            : null;
        var granted = state.Capacity?.Take(orders.Count(o => o is not null)) ?? int.MaxValue;
        var overCapacity = new HashSet<int>();
        for (var i = 0; i < orders.Length; i++)
        {
            if (orders[i] is not null && granted-- <= 0)
            {
                orders[i] = null; // beyond this silo's capacity: answered below without being placed
                overCapacity.Add(i);
            }
        }
        var placing = state.Orders.PlaceManyAsync(orders, i => overCapacity.Contains(i)
            ? new BatchAnswer(0, state.Capacity!.Refusal().Problem)
            : new BatchAnswer(0, new Problem(Refusal.Invalid, "invalid_request", requests[i].Error!)), keys);
        BatchAnswer[]? answers = null;
        try
        {
            answers = await placing.WaitAsync(Options.Http.RequestDeadline, Options.Clock);
        }
        catch (TimeoutException)
        {
            // Answered below as deadline_exceeded, order by order.
        }
        state.Metrics.Orders(requests.Count, i => answers is null ? "deadline_exceeded" : answers[i].Problem?.Code);
        for (var i = 0; i < requests.Count; i++)
        {
            state.SellerTallies.Count(requests[i].Order, answers is null ? "deadline_exceeded" : answers[i].Problem?.Code);
        }
        var final = answers is not null;
        var buffer = new ArrayBufferWriter<byte>(64 + requests.Count * 48);
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        json.WriteStartObject();
        json.WriteStartArray("results"u8);
        for (var i = 0; i < requests.Count; i++)
        {
            json.WriteStartObject();
            if (answers is null)
            {
                json.WriteNumber("status"u8, 503);
                json.WritePropertyName("problem"u8);
                Problems.Write(json, Problems.Body(503, "deadline_exceeded", "not answered within the deadline; the order may still be placed"));
            }
            else if (answers[i].Problem is { } problem)
            {
                var written = Problems.Body(problem);
                final &= !Transient(written.Status, written.Code);
                json.WriteNumber("status"u8, written.Status);
                json.WritePropertyName("problem"u8);
                Problems.Write(json, written);
            }
            else
            {
                json.WriteNumber("status"u8, 201);
                json.WriteString("id"u8, Ids.Order(answers[i].Id));
            }
            if (answers?[i].Replayed == true)
            {
                json.WriteBoolean("replayed"u8, true);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        return (new StoredResponse(200, buffer.WrittenMemory, null), final);
    }

    private async Task GetOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var parent = OrderId(context);
        var order = await state.Orders.GetAsync(parent) ?? throw NotFound(parent);
        if (principal.Role == Role.Seller)
        {
            var own = order.SellerOrders.Where(c => c.SellerId == principal.SellerId).ToArray();
            order = own.Length > 0 ? order with { SellerOrders = own } : throw NotFound(parent);
        }
        var shipments = await state.FlowQueries.ShipmentsAsync(order);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            OrderJson.WriteOrder(json, order, Catalog.Warehouses, state.Tokens, id => shipments.GetValueOrDefault(id, []));
        }
        await WriteRawAsync(context, 200, buffer.WrittenMemory);
    }

    private async Task PayOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront);
        var parent = OrderId(context);
        await IdempotentAsync(context, principal, Encoding.UTF8.GetBytes(context.Request.Path.Value!), 200,
            () => WithDeadline(state.Orders.PayAsync(parent)));
    }

    private async Task CancelOrder(HttpContext context)
    {
        var principal = Authorize(context, Role.Admin, Role.Storefront, Role.Seller);
        var parent = OrderId(context);
        var reason = principal.Role switch { Role.Admin => CancelReason.Operator, Role.Seller => CancelReason.Seller, _ => CancelReason.Buyer };
        if (principal.Role == Role.Seller
            && (await state.Orders.GetAsync(parent))?.SellerOrders.Any(c => c.SellerId == principal.SellerId) != true)
        {
            throw NotFound(parent); // a seller cancels only orders it sells in (the whole order: its seller orders go together)
        }
        await IdempotentAsync(context, principal, Encoding.UTF8.GetBytes(context.Request.Path.Value!), 200,
            () => WithDeadline(state.Orders.CancelAsync(parent, reason)));
    }

    private async Task<OrderResult> WithDeadline(Task<OrderResult> work)
    {
        try
        {
            return await work.WaitAsync(Options.Http.RequestDeadline, Options.Clock);
        }
        catch (TimeoutException)
        {
            return OrderResult.Refused(Problem.DeadlineExceeded(Options.Http.RequestDeadline));
        }
    }

    /// <summary>Runs a write on an order (<paramref name="run"/>, which applies the request deadline with
    /// <see cref="WithDeadline"/>) with the request's Idempotency-Key, and answers the order with
    /// <paramref name="successStatus"/>, or the problem.</summary>
    private Task IdempotentAsync(HttpContext context, Principal principal, byte[] body, int successStatus, Func<Task<OrderResult>> run) =>
        IdempotentAsync(context, principal, body, async () =>
        {
            var result = await run();
            if (result.Replayed)
            {
                context.Response.Headers["Idempotent-Replayed"] = "true";
            }
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var json = new Utf8JsonWriter(buffer))
            {
                if (result.Order is { } written)
                {
                    OrderJson.WriteOrder(json, written, Catalog.Warehouses, state.Tokens);
                }
                else
                {
                    Problems.Write(json, Problems.Body(result.Problem!.Value));
                }
            }
            var status = result.Problem is { } refused ? Problems.StatusOf(refused.Kind) : successStatus;
            var location = status == 201 && result.Order is { } placed ? "/v1/orders/" + Ids.Order(placed.Id) : null;
            return (new StoredResponse(status, buffer.WrittenMemory, location), result.Problem is not { } p || !Transient(status, p.Code));
        });

    /// <summary>Conflicts that pass by themselves: a placement still at work (or left half done until reconciliation
    /// releases it), an order not yet placed with every seller.</summary>
    private static readonly string[] TransientConflicts = ["idempotency_key_in_use", "order_incomplete"];

    /// <summary>An answer that says "ask again later": never kept under its Idempotency-Key, or every repeat to this silo
    /// would be told the same long after the cause has passed (found by `bench chaos`: a key answered 409 for minutes).</summary>
    private static bool Transient(int status, string code) => status is 429 or >= 500 || TransientConflicts.Contains(code);

    /// <summary>
    /// The one path of every write on orders, single or batch: under the request's Idempotency-Key (if any, see
    /// <see cref="IdempotencyStore"/>) a repeat gets the stored answer (<c>Idempotent-Replayed: true</c>), a different
    /// body 422 and a repeat while the first still runs 409; otherwise <paramref name="run"/> answers. The answer is kept
    /// unless <c>Final</c> is false (a batch some of whose orders were told to retry); the store itself forgets an answer
    /// whose own status says "retry" (429, 5xx), so a retry runs again.
    /// </summary>
    private async Task IdempotentAsync(HttpContext context, Principal principal, ReadOnlyMemory<byte> body, Func<Task<(StoredResponse Answer, bool Final)>> run)
    {
        string? scoped = null;
        if (context.Request.Headers.TryGetValue("Idempotency-Key", out var keys))
        {
            var key = keys.ToString();
            if (!IdempotencyKeys.IsValid(key))
            {
                throw new ApiProblemException(400, "invalid_idempotency_key", $"Idempotency-Key: 1 to {IdempotencyKeys.KeyCharsMax} printable characters");
            }
            scoped = $"{principal.Role}:{principal.SellerId}:{context.Request.Path}:{key}";
            switch (state.Idempotency.Begin(scoped, body.Span, out var stored))
            {
                case IdempotencyStore.Verdict.Replay:
                    context.Response.Headers["Idempotent-Replayed"] = "true";
                    await WriteStoredAsync(context, stored!);
                    return;
                case IdempotencyStore.Verdict.InFlight:
                    throw new ApiProblemException(409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running", TimeSpan.FromSeconds(1));
                case IdempotencyStore.Verdict.Mismatch:
                    throw new ApiProblemException(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request body");
            }
        }
        (StoredResponse Answer, bool Final) result;
        try
        {
            result = await run();
        }
        catch
        {
            if (scoped is not null)
            {
                state.Idempotency.Abandon(scoped);
            }
            throw;
        }
        if (scoped is not null)
        {
            if (result.Final)
            {
                state.Idempotency.Complete(scoped, result.Answer);
            }
            else
            {
                state.Idempotency.Abandon(scoped);
            }
        }
        if (result.Answer.Status is 429 or 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }
        await WriteStoredAsync(context, result.Answer);
    }

    /// <summary>Any other write (sellers, keys, warehouses, SKUs, stock, flash sales, subscriptions) through the same
    /// Idempotency-Key path as the orders: the body is read, then <paramref name="run"/> gets the request and answers
    /// (status, value, Location). A problem it throws is not kept: a retry runs again.</summary>
    private async Task IdempotentWriteAsync<TRequest, TAnswer>(HttpContext context, Principal principal, JsonTypeInfo<TRequest> request,
        JsonTypeInfo<TAnswer> answer, Func<TRequest, Task<(int Status, TAnswer Value, string? Location)>> run) where TRequest : class
    {
        var body = await ReadBodyAsync(context);
        await IdempotentAsync(context, principal, body, async () =>
        {
            var (status, value, location) = await run(Deserialize(body, request));
            return (new StoredResponse(status, JsonSerializer.SerializeToUtf8Bytes(value, answer), location), true);
        });
    }

    private static Task WriteStoredAsync(HttpContext context, StoredResponse answer)
    {
        if (answer.Location is not null)
        {
            context.Response.Headers.Location = answer.Location;
        }
        return WriteRawAsync(context, answer.Status, answer.Body, answer.Status >= 400);
    }
}
