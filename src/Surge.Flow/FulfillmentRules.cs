using System.Text.Json;
using System.Text.Json.Serialization;

namespace Surge.Flow;

/// <summary>How an item has to travel. The first rule that matches decides, in this order: hazmat, cold chain,
/// bulky, parcel (see <see cref="FulfillmentPlanner.ClassOf"/>). Names are the snake_case strings of the API.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ShippingClass>))]
public enum ShippingClass
{
    [JsonStringEnumMemberName("parcel")] Parcel,
    [JsonStringEnumMemberName("bulky")] Bulky,
    [JsonStringEnumMemberName("cold_chain")] ColdChain,
    [JsonStringEnumMemberName("hazmat")] Hazmat,
}

/// <summary>When an item is bulky: over any one of these bounds.</summary>
public sealed record BulkyRule
{
    /// <summary>Weight of one unit above which it is bulky, in grams.</summary>
    public int WeightGramsOver { get; init; } = 30_000;

    /// <summary>Longest side above which it is bulky, in millimetres.</summary>
    public int LongestSideMmOver { get; init; } = 1_200;

    /// <summary>Length + girth (longest side + 2 × the other two) above which it is bulky, in millimetres.</summary>
    public int LengthPlusGirthMmOver { get; init; } = 3_000;
}

/// <summary>A carrier's price for one shipping class: a base price plus a price per started kilogram, in minor
/// units of the carrier's currency.</summary>
public sealed record PriceRule(long BaseMinor, long PerKgMinor);

/// <summary>A carrier Surge can hand shipments to.</summary>
public sealed record CarrierConfig
{
    /// <summary>Stable id, [a-z0-9-], used in URLs (<c>/v1/carriers/{id}/events</c>) and in shipments.</summary>
    public required string Id { get; init; }

    public string? Name { get; init; }

    /// <summary>Where shipments are sent (Standard Webhooks POSTs); null for a carrier that is planned but not called.</summary>
    public string? Endpoint { get; init; }

    /// <summary>The shared signing secret, <c>whsec_</c> + base64 of at least 24 bytes.</summary>
    public string? Secret { get; init; }

    /// <summary>Countries served (ISO 3166-1 alpha-2).</summary>
    public required IReadOnlyList<string> Countries { get; init; }

    /// <summary>Regions served; empty means every region of <see cref="Countries"/>.</summary>
    public IReadOnlyList<string> Regions { get; init; } = [];

    /// <summary>Shipping classes the carrier can carry; a class needs a price in <see cref="Prices"/>.</summary>
    public required IReadOnlyList<ShippingClass> Classes { get; init; }

    /// <summary>Service levels offered (e.g. standard, express, freight).</summary>
    public required IReadOnlyList<string> Services { get; init; }

    /// <summary>Price per shipping class.</summary>
    public required IReadOnlyDictionary<ShippingClass, PriceRule> Prices { get; init; }

    /// <summary>ISO 4217 currency of the prices.</summary>
    public string Currency { get; init; } = "KRW";

    /// <summary>Most webhook deliveries sent to the carrier per second.</summary>
    public int RateLimitPerSecond { get; init; } = 100;

    /// <summary>The carrier's raw tracking codes → tracking statuses (see <see cref="TrackingStatuses"/>); codes
    /// not listed fall back to <see cref="TrackingStatuses.DefaultCodes"/>.</summary>
    public IReadOnlyDictionary<string, string> StatusCodes { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Fulfillment planning rules as data (a JSON file, snake_case; see docs/FULFILLMENT.md). Every field has a
/// default, so an empty object is valid: it plans shipments but assigns no carrier.
/// </summary>
public sealed record FulfillmentRules
{
    public BulkyRule Bulky { get; init; } = new();

    /// <summary>A parcel shipment is split into several once its weight would exceed this, in grams.</summary>
    public int ParcelShipmentGramsMax { get; init; } = 30_000;

    /// <summary>Service level per shipping class.</summary>
    public IReadOnlyDictionary<ShippingClass, string> ServiceLevels { get; init; } = new Dictionary<ShippingClass, string>
    {
        [ShippingClass.Parcel] = "standard",
        [ShippingClass.Bulky] = "freight",
        [ShippingClass.ColdChain] = "express",
        [ShippingClass.Hazmat] = "ground",
    };

    public IReadOnlyList<CarrierConfig> Carriers { get; init; } = [];

    /// <summary>How shipments and subscriber notifications are delivered: manifest size, retries over hours,
    /// breaker (durations as "hh:mm:ss"). Defaults in <see cref="DispatchOptions"/>.</summary>
    public DispatchOptions Delivery { get; init; } = new();

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>Reads and validates rules; every problem is a <see cref="FulfillmentRulesException"/> naming the
    /// field.</summary>
    public static FulfillmentRules Parse(string json, string source = "fulfillment rules")
    {
        FulfillmentRules? rules;
        try
        {
            rules = JsonSerializer.Deserialize<FulfillmentRules>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new FulfillmentRulesException($"{source}: {e.Message}");
        }
        if (rules is null)
        {
            throw new FulfillmentRulesException($"{source}: expected a JSON object");
        }
        rules.Validate(source);
        return rules;
    }

    public static FulfillmentRules Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FulfillmentRulesException($"{path}: file not found");
        }
        return Parse(File.ReadAllText(path), path);
    }

    public void Validate(string source = "fulfillment rules")
    {
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new FulfillmentRulesException($"{source}: {message}");
            }
        }
        Require(Bulky is { WeightGramsOver: > 0, LongestSideMmOver: > 0, LengthPlusGirthMmOver: > 0 }, "bulky: every bound must be > 0");
        Require(ParcelShipmentGramsMax > 0, "parcel_shipment_grams_max must be > 0");
        Delivery.Validate(source);
        foreach (var shippingClass in Enum.GetValues<ShippingClass>())
        {
            Require(ServiceLevels.TryGetValue(shippingClass, out var level) && !string.IsNullOrWhiteSpace(level),
                $"service_levels: no service level for {JsonSerializer.Serialize(shippingClass, JsonOptions)}");
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Carriers.Count; i++)
        {
            var c = Carriers[i];
            var at = $"carriers[{i}]";
            Require(c.Id is { Length: >= 1 and <= 64 } && c.Id.All(ch => char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch == '-'),
                $"{at}.id: 1..64 characters of a-z, 0-9 and -");
            Require(ids.Add(c.Id), $"{at}.id: '{c.Id}' is used twice");
            Require(c.Countries.Count > 0 && c.Countries.All(x => x.Length == 2 && x.All(char.IsAsciiLetterUpper)),
                $"{at}.countries: one or more ISO 3166-1 alpha-2 codes such as \"KR\"");
            Require(c.Classes.Count > 0, $"{at}.classes: at least one shipping class");
            Require(c.Services.Count > 0 && c.Services.All(s => !string.IsNullOrWhiteSpace(s)), $"{at}.services: at least one service level");
            foreach (var shippingClass in c.Classes)
            {
                Require(c.Prices.TryGetValue(shippingClass, out var price) && price is { BaseMinor: >= 0, PerKgMinor: >= 0 },
                    $"{at}.prices: a price (base_minor, per_kg_minor ≥ 0) for every class it carries");
            }
            Require(c.Currency.Length == 3 && c.Currency.All(char.IsAsciiLetterUpper), $"{at}.currency: an ISO 4217 code such as \"KRW\"");
            Require(c.RateLimitPerSecond > 0, $"{at}.rate_limit_per_second must be > 0");
            Require(c.StatusCodes.Values.All(TrackingStatuses.All.Contains),
                $"{at}.status_codes: every value must be one of {string.Join(", ", TrackingStatuses.All.Order(StringComparer.Ordinal))}");
            Require(c.Endpoint is null || (Uri.TryCreate(c.Endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"),
                $"{at}.endpoint: an absolute http(s) URL");
            Require(c.Endpoint is null || c.Secret is not null, $"{at}.secret: required when an endpoint is set");
            Require(c.Secret is null || WebhookSecret.TryParse(c.Secret, out _), $"{at}.secret: whsec_ followed by base64 of 24 bytes or more");
        }
    }
}

public sealed class FulfillmentRulesException(string message) : Exception(message);

/// <summary>The <c>whsec_</c> secrets of Standard Webhooks: the prefix and the base64 of the key.</summary>
public static class WebhookSecret
{
    public const string Prefix = "whsec_";
    public const int KeyBytesMin = 24;

    public static bool TryParse(string secret, out byte[] key)
    {
        key = [];
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var buffer = new byte[secret.Length];
        if (!Convert.TryFromBase64String(secret[Prefix.Length..], buffer, out var written) || written < KeyBytesMin)
        {
            return false;
        }
        key = buffer[..written];
        return true;
    }
}
