using System.Text.Json;
using Surge.Core;

namespace Surge.Flow;

/// <summary>How shipments are named in JSON, the same in carrier manifests and in the API.</summary>
public static class ShipmentJson
{
    public static string ClassCode(ShippingClass shippingClass) => shippingClass switch
    {
        ShippingClass.Parcel => "parcel",
        ShippingClass.Bulky => "bulky",
        ShippingClass.ColdChain => "cold_chain",
        ShippingClass.Hazmat => "hazmat",
        _ => "unknown",
    };

    public static string TemperatureCode(TemperatureClass temperature) => temperature switch
    {
        TemperatureClass.Chilled => "chilled",
        TemperatureClass.Frozen => "frozen",
        _ => "ambient",
    };

    /// <summary>Writes <c>"items": [{"sku", "quantity"}, …]</c>.</summary>
    public static void WriteItems(Utf8JsonWriter json, IReadOnlyList<ShipmentItem> items)
    {
        json.WriteStartArray("items"u8);
        foreach (var item in items)
        {
            json.WriteStartObject();
            json.WriteString("sku"u8, item.SkuCode);
            json.WriteNumber("quantity"u8, item.Quantity);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
