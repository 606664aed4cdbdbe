using System.Net;

namespace Surge.Server.Tests;

/// <summary>What a seller's key cannot make the server do: call addresses inside the operator's network (SSRF).</summary>
public sealed class SecurityTests
{
    private static readonly string[] PaidEvents = ["order.paid"];

    [Theory]
    [InlineData("http://127.0.0.1:1/hook", "loopback")]
    [InlineData("http://localhost:8080/hook", "loopback")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "cloud metadata")]
    [InlineData("https://192.168.0.10/hook", "private")]
    [InlineData("http://[::1]:8080/hook", "loopback")]
    public async Task AWebhookUrlInsideTheNetwork_Is422UrlNotAllowed_UnlessTheOperatorAllowsItsHost(string url, string kind)
    {
        await using var server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { OutboundAllowedHosts = [] } });
        var (seller, _) = await server.SellerWithStockAsync("ssrf", units: 0);

        var refused = await seller.PostAsync("/v1/webhooks", new { url, event_types = PaidEvents });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
        Assert.Equal("url_not_allowed", refused.ProblemCode);
        Assert.Contains(kind, refused.Json!["detail"]!.GetValue<string>());
        Assert.Empty((await seller.GetAsync("/v1/webhooks")).Json!["webhooks"]!.AsArray());
    }

    [Fact]
    public async Task ACarrierEndpointOnLoopback_StopsTheStart_NamingTheCarrierAndTheFlag()
    {
        var rules = CarrierFlowTests.Rules(carrierPort: 9); // a carrier on loopback

        var e = await Assert.ThrowsAsync<ArgumentException>(() => TestServer.StartAsync(o => o with { Flow = new() { Rules = rules, OutboundAllowedHosts = [] } }));

        Assert.Contains($"carrier {CarrierFlowTests.CarrierId}", e.Message);
        Assert.Contains("loopback", e.Message);
        Assert.Contains("--allow-outbound-host", e.Message);
    }
}
