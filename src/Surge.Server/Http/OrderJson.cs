using System.Globalization;
using System.Text.Json;
using Surge.Core;
using Surge.Flow;

namespace Surge.Server;

/// <summary>A request body that is valid JSON but not a valid request: 422 with this message.</summary>
public sealed class RequestShapeException(string message) : Exception(message);

/// <summary>
/// The order hot path's JSON, by hand: a <see cref="Utf8JsonReader"/> over the request bytes into
/// <see cref="OrderRequest"/> (unknown fields, wrong types, missing fields and out-of-range values are
/// <see cref="RequestShapeException"/>s naming the field; broken JSON is the reader's <see cref="JsonException"/>),
/// and replies written with a <see cref="Utf8JsonWriter"/> straight to the response.
/// </summary>
public static class OrderJson
{
    public const int BuyerIdCharsMax = 64;
    public const int RegionCharsMax = 64;
    public const int PostalCodeCharsMax = 16;

    public static OrderRequest ReadOrder(ReadOnlySpan<byte> json)
    {
        try
        {
            return ReadOneOrder(json);
        }
        catch (RequestShapeException)
        {
            ThrowIfMalformed(json); // broken JSON is a 400 even when the shape went wrong first
            throw;
        }
    }

    /// <summary>Throws the reader's <see cref="JsonException"/> when the bytes are not one well-formed JSON value.</summary>
    public static void ThrowIfMalformed(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        while (reader.Read())
        {
        }
    }

    private static OrderRequest ReadOneOrder(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        reader.Read();
        var order = ReadOrder(ref reader, "");
        if (reader.Read())
        {
            throw new JsonException("unexpected data after the JSON value");
        }
        return order;
    }

    /// <summary>Reads <c>{"orders":[…]}</c>: each element parsed on its own, so that one invalid order is that
    /// order's 422 while the others go on. Broken JSON anywhere fails the whole request.</summary>
    public static List<(OrderRequest? Order, string? Error)> ReadBatch(ReadOnlySpan<byte> json, int ordersMax)
    {
        try
        {
            return ReadOrders(json, ordersMax);
        }
        catch (RequestShapeException)
        {
            ThrowIfMalformed(json);
            throw;
        }
    }

    private static List<(OrderRequest? Order, string? Error)> ReadOrders(ReadOnlySpan<byte> json, int ordersMax)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        reader.Read();
        Expect(ref reader, JsonTokenType.StartObject, "the body");
        var orders = new List<(OrderRequest?, string?)>();
        var seen = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("orders"u8))
            {
                throw new RequestShapeException($"unknown field '{reader.GetString()}' (expected 'orders')");
            }
            reader.Read();
            Expect(ref reader, JsonTokenType.StartArray, "orders");
            seen = true;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (orders.Count == ordersMax)
                {
                    throw new RequestShapeException($"a batch holds at most {ordersMax} orders");
                }
                var start = reader; // a copy: the reader is a struct over one span, so this is a bookmark
                try
                {
                    orders.Add((ReadOrder(ref reader, $"orders[{orders.Count}]."), null));
                }
                catch (RequestShapeException e)
                {
                    orders.Add((null, e.Message));
                    reader = start;
                    reader.Skip(); // the whole order (a no-op when the element is not an object or array)
                }
            }
        }
        if (!seen)
        {
            throw new RequestShapeException("missing field 'orders'");
        }
        if (orders.Count == 0)
        {
            throw new RequestShapeException("'orders' is empty");
        }
        if (reader.Read())
        {
            throw new JsonException("unexpected data after the JSON value");
        }
        return orders;
    }

    private static OrderRequest ReadOrder(ref Utf8JsonReader reader, string path)
    {
        Expect(ref reader, JsonTokenType.StartObject, path.Length == 0 ? "the body" : path.TrimEnd('.'));
        string? buyer = null;
        (string Country, string Region, string Postal)? shipTo = null;
        OrderLineRequest[]? lines = null;
        string? key = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (path.Length > 0 && reader.ValueTextEquals("idempotency_key"u8))
            {
                // One order of a batch may carry its own key (a single order sends it as the Idempotency-Key header).
                reader.Read();
                key = ReadText(ref reader, path + "idempotency_key", IdempotencyKeys.KeyCharsMax);
                if (!IdempotencyKeys.IsValid(key))
                {
                    throw new RequestShapeException($"{path}idempotency_key: 1 to {IdempotencyKeys.KeyCharsMax} printable characters");
                }
            }
            else if (reader.ValueTextEquals("buyer_id"u8))
            {
                reader.Read();
                buyer = ReadText(ref reader, path + "buyer_id", BuyerIdCharsMax);
            }
            else if (reader.ValueTextEquals("ship_to"u8))
            {
                reader.Read();
                shipTo = ReadShipTo(ref reader, path + "ship_to.");
            }
            else if (reader.ValueTextEquals("lines"u8))
            {
                reader.Read();
                lines = ReadLines(ref reader, path + "lines");
            }
            else
            {
                throw new RequestShapeException($"{path}{reader.GetString()}: unknown field");
            }
        }
        if (buyer is null || shipTo is null || lines is null)
        {
            throw new RequestShapeException($"{path}{(buyer is null ? "buyer_id" : shipTo is null ? "ship_to" : "lines")}: required");
        }
        return new OrderRequest(buyer, shipTo.Value.Country, shipTo.Value.Region, shipTo.Value.Postal, lines) { IdempotencyKey = key };
    }

    private static (string, string, string) ReadShipTo(ref Utf8JsonReader reader, string path)
    {
        Expect(ref reader, JsonTokenType.StartObject, path.TrimEnd('.'));
        string? country = null, region = null, postal = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("country"u8))
            {
                reader.Read();
                country = ReadText(ref reader, path + "country", 2);
                if (country.Length != 2 || !char.IsAsciiLetterUpper(country[0]) || !char.IsAsciiLetterUpper(country[1]))
                {
                    throw new RequestShapeException($"{path}country: an ISO 3166-1 alpha-2 code such as \"KR\"");
                }
            }
            else if (reader.ValueTextEquals("region"u8))
            {
                reader.Read();
                region = ReadText(ref reader, path + "region", RegionCharsMax);
            }
            else if (reader.ValueTextEquals("postal_code"u8))
            {
                reader.Read();
                postal = ReadText(ref reader, path + "postal_code", PostalCodeCharsMax, allowEmpty: true);
            }
            else
            {
                throw new RequestShapeException($"{path}{reader.GetString()}: unknown field");
            }
        }
        if (country is null || region is null)
        {
            throw new RequestShapeException($"{path}{(country is null ? "country" : "region")}: required");
        }
        return (country, region, postal ?? "");
    }

    private static OrderLineRequest[] ReadLines(ref Utf8JsonReader reader, string path)
    {
        Expect(ref reader, JsonTokenType.StartArray, path);
        var lines = new List<OrderLineRequest>(4);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var at = $"{path}[{lines.Count}].";
            if (lines.Count == Limits.LinesPerOrderMax)
            {
                throw new RequestShapeException($"{path}: at most {Limits.LinesPerOrderMax} lines");
            }
            Expect(ref reader, JsonTokenType.StartObject, at.TrimEnd('.'));
            long? seller = null;
            string? sku = null;
            int? quantity = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("seller_id"u8))
                {
                    reader.Read();
                    var text = ReadText(ref reader, at + "seller_id", 32);
                    seller = Ids.TryParseSeller(text, out var id) ? id : throw new RequestShapeException($"{at}seller_id: not a seller id (\"sel_…\")");
                }
                else if (reader.ValueTextEquals("sku"u8))
                {
                    reader.Read();
                    sku = ReadText(ref reader, at + "sku", Limits.CodeBytesMax);
                }
                else if (reader.ValueTextEquals("quantity"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var q))
                    {
                        throw new RequestShapeException($"{at}quantity: an integer");
                    }
                    quantity = q is >= 1 and <= Limits.QuantityPerLineMax ? q
                        : throw new RequestShapeException($"{at}quantity: must be 1..{Limits.QuantityPerLineMax}, not {q}");
                }
                else
                {
                    throw new RequestShapeException($"{at}{reader.GetString()}: unknown field");
                }
            }
            if (seller is null || sku is null || quantity is null)
            {
                throw new RequestShapeException($"{at}{(seller is null ? "seller_id" : sku is null ? "sku" : "quantity")}: required");
            }
            lines.Add(new OrderLineRequest(seller.Value, sku, quantity.Value));
        }
        if (lines.Count == 0)
        {
            throw new RequestShapeException($"{path}: at least one line");
        }
        return lines.ToArray();
    }

    private static string ReadText(ref Utf8JsonReader reader, string path, int charsMax, bool allowEmpty = false)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new RequestShapeException($"{path}: a string");
        }
        var text = reader.GetString()!;
        if ((!allowEmpty && text.Length == 0) || text.Length > charsMax || text.Any(char.IsControl))
        {
            throw new RequestShapeException($"{path}: 1 to {charsMax} printable characters");
        }
        return text;
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string what)
    {
        if (reader.TokenType != type)
        {
            throw new RequestShapeException($"{what}: expected {(type == JsonTokenType.StartObject ? "an object" : "an array")}");
        }
    }

    /// <summary>Writes an order; with <paramref name="shipments"/>, each seller order also lists its planned
    /// shipments (empty until the fulfillment stage planned it).</summary>
    public static void WriteOrder(Utf8JsonWriter json, OrderView order, IReadOnlyList<string> warehouses, TrackingTokens tokens,
        Func<long, IReadOnlyList<ShipmentState>>? shipments = null)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, Ids.Order(order.Id));
        json.WriteString("status"u8, order.Status.ToCode());
        json.WriteString("placed_at"u8, Time(order.PlacedAtMs));
        json.WriteString("expires_at"u8, Time(order.ExpiresAtMs));
        json.WriteString("tracking_token"u8, tokens.Issue(order.Id));
        json.WriteStartArray("seller_orders"u8);
        foreach (var child in order.SellerOrders)
        {
            WriteSellerOrder(json, child, warehouses, shipments);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    public static void WriteSellerOrder(Utf8JsonWriter json, ChildView child, IReadOnlyList<string> warehouses,
        Func<long, IReadOnlyList<ShipmentState>>? shipments = null)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, Ids.SellerOrder(child.Id));
        json.WriteString("seller_id"u8, Ids.Seller(child.SellerId));
        json.WriteString("status"u8, child.Status.ToCode());
        if (child.CancelReason != CancelReason.None)
        {
            json.WriteString("cancel_reason"u8, CancelCode(child.CancelReason));
        }
        json.WriteStartArray("lines"u8);
        foreach (var line in child.Lines)
        {
            json.WriteStartObject();
            json.WriteString("sku"u8, line.Sku);
            json.WriteNumber("quantity"u8, line.Quantity);
            json.WriteString("warehouse_id"u8, line.Warehouse < warehouses.Count ? warehouses[line.Warehouse] : "");
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (shipments is not null)
        {
            json.WriteStartArray("shipments"u8);
            foreach (var shipment in shipments(child.Id))
            {
                WriteShipment(json, shipment);
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    private static void WriteShipment(Utf8JsonWriter json, ShipmentState state)
    {
        var shipment = state.Plan;
        json.WriteStartObject();
        json.WriteString("id"u8, state.Id);
        json.WriteString("status"u8, state.Status);
        if (state.TrackingNumber is not null)
        {
            json.WriteString("tracking_number"u8, state.TrackingNumber);
        }
        if (state.DeadLetterReason is not null)
        {
            json.WriteString("dead_letter_reason"u8, state.DeadLetterReason);
        }
        json.WriteString("shipping_class"u8, ShipmentJson.ClassCode(shipment.Class));
        json.WriteString("temperature"u8, ShipmentJson.TemperatureCode(shipment.Temperature));
        json.WriteString("service_level"u8, shipment.ServiceLevel);
        json.WriteString("warehouse_id"u8, shipment.WarehouseCode);
        if (shipment.CarrierId is not null)
        {
            json.WriteString("carrier_id"u8, shipment.CarrierId);
            json.WriteNumber("price_minor"u8, shipment.PriceMinor);
            json.WriteString("currency"u8, shipment.Currency);
            json.WriteBoolean("carrier_degraded"u8, shipment.CarrierDegraded);
        }
        if (shipment.Problem is not null)
        {
            json.WriteString("problem"u8, shipment.Problem);
        }
        json.WriteNumber("weight_grams"u8, shipment.WeightGrams);
        json.WriteString("planned_at"u8, Time(shipment.PlannedAtMs));
        json.WriteStartArray("tracking"u8);
        foreach (var update in state.Tracking)
        {
            json.WriteStartObject();
            json.WriteString("status"u8, update.Status);
            json.WriteString("raw_code"u8, update.RawCode);
            json.WriteString("at"u8, Time(update.AtMs));
            if (update.Description is not null)
            {
                json.WriteString("description"u8, update.Description);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        ShipmentJson.WriteItems(json, shipment.Items);
        json.WriteEndObject();
    }

    public static string CancelCode(CancelReason reason) => reason switch
    {
        CancelReason.Buyer => "buyer",
        CancelReason.Seller => "seller",
        CancelReason.PaymentTimeout => "payment_timeout",
        CancelReason.Operator => "operator",
        CancelReason.ParentAborted => "parent_aborted",
        _ => "none",
    };

    public static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
