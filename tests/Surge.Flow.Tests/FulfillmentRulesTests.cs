namespace Surge.Flow.Tests;

public sealed class FulfillmentRulesTests
{
    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException(relative);
    }

    [Fact]
    public void ExampleFile_Loads_WithItsCarriersPricesAndRegions()
    {
        var rules = FulfillmentRules.Load(RepositoryFile("config/fulfillment.example.json"));

        Assert.Equal(["hanjin-sim", "coldline-sim"], rules.Carriers.Select(c => c.Id));
        var cold = rules.Carriers[1];
        Assert.Equal(new PriceRule(6_000, 900), cold.Prices[ShippingClass.ColdChain]);
        Assert.Contains("kr-busan", cold.Regions);
        Assert.Equal("express", rules.ServiceLevels[ShippingClass.ColdChain]);
        Assert.True(WebhookSecret.TryParse(cold.Secret!, out var key) && key.Length >= WebhookSecret.KeyBytesMin);
        Assert.Equal((TimeSpan.FromDays(1), TimeSpan.FromSeconds(1), 100), (rules.Delivery.RetryHorizon, rules.Delivery.FirstRetryDelay, rules.Delivery.ManifestShipmentsMax));
    }

    [Fact]
    public void EmptyObject_IsValid_WithTheDocumentedDefaults()
    {
        var rules = FulfillmentRules.Parse("{}");
        Assert.Equal(30_000, rules.ParcelShipmentGramsMax);
        Assert.Equal(30_000, rules.Bulky.WeightGramsOver);
        Assert.Empty(rules.Carriers);
        Assert.Equal("standard", rules.ServiceLevels[ShippingClass.Parcel]);
    }

    private const string GoodCarrier =
        """{"id":"c1","countries":["KR"],"classes":["parcel"],"services":["standard"],"prices":{"parcel":{"base_minor":1,"per_kg_minor":1}}""";

    [Theory]
    [InlineData("""{"parcel_shipment_grams_max": 0}""", "parcel_shipment_grams_max")]
    [InlineData("""{"unknown_field": 1}""", "unknown_field")]
    [InlineData("""{"service_levels": {"parcel": "standard"}}""", "service_levels")]
    [InlineData("""{"carriers": [""" + GoodCarrier + "}, " + GoodCarrier + "}]}", "used twice")]
    [InlineData("""{"carriers": [{"id":"c1","countries":["Korea"],"classes":["parcel"],"services":["standard"],"prices":{"parcel":{"base_minor":1,"per_kg_minor":1}}}]}""", "countries")]
    [InlineData("""{"carriers": [{"id":"c1","countries":["KR"],"classes":["bulky"],"services":["standard"],"prices":{"parcel":{"base_minor":1,"per_kg_minor":1}}}]}""", "prices")]
    [InlineData("""{"carriers": [""" + GoodCarrier + """, "endpoint": "http://127.0.0.1:1/x"}]}""", "secret")]
    [InlineData("""{"carriers": [""" + GoodCarrier + """, "endpoint": "http://127.0.0.1:1/x", "secret": "whsec_c2hvcnQ="}]}""", "secret")]
    [InlineData("""{"carriers": [""" + GoodCarrier + """, "endpoint": "ftp://x"}]}""", "endpoint")]
    [InlineData("""{"carriers": [{"id":"Bad Id!","countries":["KR"],"classes":["parcel"],"services":["standard"],"prices":{"parcel":{"base_minor":1,"per_kg_minor":1}}}]}""", "id")]
    [InlineData("""[1, 2]""", "fulfillment rules")]
    [InlineData("""{"bulky": {"weight_grams_over": -1}}""", "bulky")]
    [InlineData("""{"delivery": {"first_retry_delay": "00:00:00"}}""", "delivery.first_retry_delay")]
    [InlineData("""{"delivery": {"retry_horizon": "soon"}}""", "retry_horizon")]
    [InlineData("""{"delivery": {"manifest_shipments_max": 0}}""", "delivery.manifest_shipments_max")]
    public void BadRules_AreRefused_NamingTheField(string json, string mentioned)
    {
        var e = Assert.Throws<FulfillmentRulesException>(() => FulfillmentRules.Parse(json));
        Assert.Contains(mentioned, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFile_IsAClearError()
    {
        var e = Assert.Throws<FulfillmentRulesException>(() => FulfillmentRules.Load("/nonexistent/rules.json"));
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }
}
