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
    public async Task ARotatedKey_KeepsWorkingForItsGracePeriod_ThenOnlyTheNewOneDoes()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(o => o with { Clock = clock, Flow = o.Flow with { Start = false } });
        var (seller, _) = await server.SellerWithStockAsync("rotated", units: 0);

        var rotated = await seller.PostAsync("/v1/keys/rotate", new { }, idempotencyKey: "rotate-1");
        var again = await seller.PostAsync("/v1/keys/rotate", new { }, idempotencyKey: "rotate-1");

        Assert.Equal(HttpStatusCode.Created, rotated.Status);
        var fresh = server.Client(rotated.Json!["api_key"]!.GetValue<string>());
        Assert.Equal(rotated.Json!["api_key"]!.GetValue<string>(), again.Json!["api_key"]!.GetValue<string>()); // a retry: the same new key
        Assert.Equal(clock.GetUtcNow() + server.Options.Http.KeyRotationGrace, rotated.Json!["previous_key_expires_at"]!.GetValue<DateTimeOffset>());
        Assert.Equal(HttpStatusCode.OK, (await seller.GetAsync("/v1/skus/rotated")).Status);
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/v1/skus/rotated")).Status);

        clock.Advance(server.Options.Http.KeyRotationGrace);

        Assert.Equal(HttpStatusCode.Unauthorized, (await seller.GetAsync("/v1/skus/rotated")).Status);
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/v1/skus/rotated")).Status);
        Assert.Equal("forbidden", (await server.Admin.PostAsync("/v1/keys/rotate", new { })).ProblemCode);
        Assert.Equal("invalid_request", (await fresh.PostAsync("/v1/keys/rotate", new { grace_seconds = 10_000_000 })).ProblemCode);
    }

    [Fact]
    public async Task WithAManagementPort_TheDashboardAndMetricsLeaveThePublicPort_AndTheApiStaysOffIt()
    {
        await using var server = await TestServer.StartAsync(o => o with { Http = o.Http with { ManagementPort = 0 } });
        var management = server.Server.ManagementAddress;
        Assert.NotNull(management);
        Assert.NotEqual(server.Server.BaseAddress.Port, management.Port);
        var publicPort = new ApiClient(server.Server.BaseAddress, server.Server.AdminKey);
        var operators = new ApiClient(management, server.Server.AdminKey);

        Assert.Equal(HttpStatusCode.NotFound, (await publicPort.GetAsync("/metrics")).Status);
        Assert.Equal("not_found", (await publicPort.GetAsync("/")).ProblemCode);
        Assert.Equal(HttpStatusCode.OK, (await operators.GetAsync("/metrics")).Status);
        Assert.Equal(HttpStatusCode.OK, (await operators.GetAsync("/")).Status); // the login page
        Assert.Equal(HttpStatusCode.NotFound, (await operators.GetAsync("/v1/warehouses")).Status);
        Assert.Equal(HttpStatusCode.OK, (await publicPort.GetAsync("/v1/warehouses")).Status);
        Assert.Equal(HttpStatusCode.OK, (await publicPort.GetAsync("/healthz")).Status);
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
