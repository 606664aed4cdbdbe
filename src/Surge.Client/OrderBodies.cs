using System.Buffers;
using System.Text.Json;

namespace Surge.Client;

/// <summary>What one order of a batch came to: its status, and the order id (accepted) or the problem code;
/// <see cref="Replayed"/>: the answer to an earlier request with this order's idempotency key.</summary>
public readonly record struct OrderAnswer(int Status, string? Id, string? Code, bool Replayed = false)
{
    public bool Accepted => Status is >= 200 and < 300;
}

/// <summary>
/// The one writer of order request bodies (a single order, or <c>{"orders":[…]}</c> for /v1/orders/batch) and the
/// reader of batch answers: <see cref="Utf8JsonWriter"/> and <see cref="Utf8JsonReader"/> over pooled buffers, so a
/// load generator can build a thousand orders without an object per order.
/// </summary>
public static class OrderBodies
{
    /// <summary>Writes one order object: buyer, ship-to and lines (seller id, SKU code, quantity).</summary>
    public static void Write(Utf8JsonWriter json, string buyer, string country, string region, IEnumerable<(string Seller, string Sku, int Quantity)> lines,
        string? postalCode = null, string? idempotencyKey = null)
    {
        json.WriteStartObject();
        if (idempotencyKey is not null)
        {
            json.WriteString("idempotency_key"u8, idempotencyKey); // an order of a batch only: a single order sends the header
        }
        json.WriteString("buyer_id"u8, buyer);
        json.WriteStartObject("ship_to"u8);
        json.WriteString("country"u8, country);
        json.WriteString("region"u8, region);
        if (postalCode is not null)
        {
            json.WriteString("postal_code"u8, postalCode);
        }
        json.WriteEndObject();
        json.WriteStartArray("lines"u8);
        foreach (var (seller, sku, quantity) in lines)
        {
            json.WriteStartObject();
            json.WriteString("seller_id"u8, seller);
            json.WriteString("sku"u8, sku);
            json.WriteNumber("quantity"u8, quantity);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Writes one order given as the contract's request record (with its own key, in a batch).</summary>
    public static void Write(Utf8JsonWriter json, PlaceOrderRequest order, string? idempotencyKey = null) =>
        Write(json, order.BuyerId, order.ShipTo.Country, order.ShipTo.Region, order.Lines.Select(l => (l.SellerId, l.Sku, l.Quantity)), order.ShipTo.PostalCode,
            idempotencyKey);

    /// <summary>One order as a whole request body (POST /v1/orders).</summary>
    public static byte[] Single(string buyer, string country, string region, IEnumerable<(string Seller, string Sku, int Quantity)> lines, string? postalCode = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            Write(json, buyer, country, region, lines, postalCode);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A whole <c>{"orders":[…]}</c> body (POST /v1/orders/batch) from orders written by <paramref name="write"/>.</summary>
    public static byte[] Batch(int count, Action<Utf8JsonWriter, int> write)
    {
        var buffer = new ArrayBufferWriter<byte>(count * 200 + 32);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("orders"u8);
            for (var i = 0; i < count; i++)
            {
                write(json, i);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a batch answer (<c>{"results":[{"status","id","order"|"problem"}…]}</c>): per order its status,
    /// and the id (accepted) or the problem code, in request order.</summary>
    public static List<OrderAnswer> ReadBatchAnswer(ReadOnlySpan<byte> body)
    {
        var answers = new List<OrderAnswer>();
        var reader = new Utf8JsonReader(body);
        int status = 0;
        string? id = null, code = null;
        var replayed = false;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.StartObject && reader.CurrentDepth == 2)
            {
                (status, id, code, replayed) = (0, null, null, false);
            }
            else if (reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.CurrentDepth == 3 && reader.ValueTextEquals("status"u8))
                {
                    reader.Read();
                    status = reader.GetInt32();
                }
                else if (reader.CurrentDepth == 3 && reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.GetString();
                }
                else if (reader.CurrentDepth == 3 && reader.ValueTextEquals("replayed"u8))
                {
                    reader.Read();
                    replayed = reader.GetBoolean();
                }
                else if (reader.CurrentDepth == 4 && reader.ValueTextEquals("code"u8))
                {
                    reader.Read();
                    code = reader.GetString();
                }
            }
            else if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 2)
            {
                answers.Add(new OrderAnswer(status, id, code, replayed));
            }
        }
        return answers;
    }
}
