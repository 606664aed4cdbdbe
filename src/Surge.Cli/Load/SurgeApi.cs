using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surge.Cli.Load;

/// <summary>What one order in a batch answer came to.</summary>
public readonly record struct OrderAnswer(int Status, string? Id, string? Code);

/// <summary>
/// A client of the Surge HTTP API for the demo and the benchmarks: keep-alive HTTP/1.1 connections (bounded),
/// JSON bodies written with <see cref="Utf8JsonWriter"/>, batch answers read with <see cref="Utf8JsonReader"/>.
/// </summary>
public sealed class SurgeApi : IDisposable
{
    private readonly HttpClient _http;

    public SurgeApi(Uri baseAddress, string key, int connections = 64)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseProxy = false,
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        Key = key;
    }

    public string Key { get; }
    public Uri BaseAddress => _http.BaseAddress!;

    public async Task<(int Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, object? body = null, string? key = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), JsonOptions));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task<(int Status, JsonNode Body)> CheckedAsync(HttpMethod method, string path, object? body = null, string? key = null, CancellationToken cancellationToken = default)
    {
        var (status, json) = await SendAsync(method, path, body, key, cancellationToken).ConfigureAwait(false);
        return status is >= 200 and < 300 && json is not null ? (status, json)
            : throw new InvalidOperationException($"{method} {path}: {status} {json?.ToJsonString()}");
    }

    /// <summary>POSTs prepared JSON bytes; returns the status and the body bytes.</summary>
    public async Task<(int Status, byte[] Body)> PostRawAsync(string path, ReadOnlyMemory<byte> json, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ReadOnlyMemoryContent(json) };
        request.Content.Headers.ContentType = JsonType;
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
    }

    private static readonly MediaTypeHeaderValue JsonType = new("application/json");

    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes one order object: buyer, ship-to and lines (seller id, SKU code, quantity).</summary>
    public static void WriteOrder(Utf8JsonWriter json, string buyer, string country, string region, IEnumerable<(string Seller, string Sku, int Quantity)> lines)
    {
        json.WriteStartObject();
        json.WriteString("buyer_id"u8, buyer);
        json.WriteStartObject("ship_to"u8);
        json.WriteString("country"u8, country);
        json.WriteString("region"u8, region);
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

    /// <summary>One order as a whole request body (POST /v1/orders).</summary>
    public static byte[] OrderBody(string buyer, string country, string region, IEnumerable<(string Seller, string Sku, int Quantity)> lines)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteOrder(json, buyer, country, region, lines);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A whole <c>{"orders":[…]}</c> body from orders written by <paramref name="write"/>.</summary>
    public static byte[] BatchBody(int count, Action<Utf8JsonWriter, int> write)
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

    /// <summary>Reads a batch answer: per order its status, and the id (accepted) or the problem code.</summary>
    public static List<OrderAnswer> ReadBatchAnswer(ReadOnlySpan<byte> body)
    {
        var answers = new List<OrderAnswer>();
        var reader = new Utf8JsonReader(body);
        int status = 0;
        string? id = null, code = null;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.StartObject && reader.CurrentDepth == 2)
            {
                (status, id, code) = (0, null, null);
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
                else if (reader.CurrentDepth == 4 && reader.ValueTextEquals("code"u8))
                {
                    reader.Read();
                    code = reader.GetString();
                }
            }
            else if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 2)
            {
                answers.Add(new OrderAnswer(status, id, code));
            }
        }
        return answers;
    }

    public void Dispose() => _http.Dispose();
}
