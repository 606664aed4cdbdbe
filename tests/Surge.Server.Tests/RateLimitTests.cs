using System.Net;

namespace Surge.Server.Tests;

/// <summary>One key cannot take a node's capacity: requests per second per key, and a throttled dashboard login.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task AKeyOverItsRate_Gets429WithRetryAfter_WhileOtherKeysAndTheAdminAreServed()
    {
        // One request a second per seller key, a burst of two: ten requests in a row cannot all pass.
        await using var server = await TestServer.StartAsync(o => o with
        {
            Http = o.Http with { RateLimits = new RateLimitOptions { SellerRequestsPerSecond = 1, BurstSeconds = 2 } },
        });
        var (busy, _) = await server.SellerWithStockAsync("busy", units: 0);
        var (quiet, _) = await server.SellerWithStockAsync("quiet", units: 0);

        var answers = new List<ApiResponse>();
        for (var i = 0; i < 10; i++)
        {
            answers.Add(await busy.GetAsync("/v1/skus/busy"));
        }

        var refused = answers.Where(a => a.Status == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, a => Assert.Equal("rate_limited", a.ProblemCode));
        Assert.All(refused, a => Assert.True(a.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After in seconds"));
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await quiet.GetAsync("/v1/skus/quiet")).Status);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await server.Admin.GetAsync("/v1/warehouses")).Status);
        }
    }

    [Fact]
    public async Task DashboardLogin_IsThrottledPerAddress_AfterItsAttemptsPerMinute()
    {
        await using var server = await TestServer.StartAsync(o => o with { Http = o.Http with { RateLimits = new RateLimitOptions { LoginAttemptsPerMinute = 3 } } });
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = server.Server.BaseAddress };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var form = new FormUrlEncodedContent([new("key", "ak_wrong_" + i)]);
            using var answer = await http.PostAsync(new Uri("/login", UriKind.Relative), form, TestContext.Current.CancellationToken);
            statuses.Add(answer.StatusCode);
            if (answer.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.NotNull(answer.Headers.RetryAfter);
            }
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], statuses.Take(3));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
    }
}
