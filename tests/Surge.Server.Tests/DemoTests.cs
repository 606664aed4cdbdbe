using System.Net;
using System.Text.Json.Nodes;

namespace Surge.Server.Tests;

/// <summary>`./surge demo` as the README runs it (shorter): it sells nothing twice, and the links it prints while the
/// server lingers lead where they say — the seller centre signed in as a seller, an order's tracking page.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task Demo_OversellsNothing_AndItsSellerCentreAndTrackingLinksWork()
    {
        var report = Path.Combine(Path.GetTempPath(), $"surge-demo-{Guid.NewGuid():N}.json");
        using var process = await CliProcess.StartAsync(["demo", "--duration", "5", "--rate", "200", "--linger", "120", "--json", report],
            "seller centre, signed in as the flash-sale seller:", patience: TimeSpan.FromMinutes(4));
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(File.Exists(report) && new FileInfo(report).Length > 0), "the demo wrote its report");
            var summary = JsonNode.Parse(await File.ReadAllTextAsync(report, TestContext.Current.CancellationToken))!;
            Assert.Equal(0, summary["oversold"]!.GetValue<long>());
            Assert.True(summary["accepted"]!.GetValue<long>() > 0, summary.ToJsonString());

            var signIn = new Uri(summary["seller_sign_in_url"]!.GetValue<string>());
            Assert.StartsWith("#key=sk_", signIn.Fragment, StringComparison.Ordinal);
            var origin = new Uri(signIn.GetLeftPart(UriPartial.Authority));
            var seller = new ApiClient(origin, signIn.Fragment["#key=".Length..]);
            var me = (await seller.GetAsync("/v1/me")).Json!;
            Assert.Equal("seller", me["role"]!.GetValue<string>());
            Assert.NotEmpty((await seller.GetAsync("/v1/skus?limit=5")).Json!["skus"]!.AsArray());
            var page = await new ApiClient(origin, null).GetAsync(signIn.AbsolutePath);
            Assert.Equal((HttpStatusCode.OK, "text/html"), (page.Status, page.ContentType));
            Assert.Contains("/assets/seller.js", page.Body, StringComparison.Ordinal);

            var tracking = new Uri(summary["tracking_url"]!.GetValue<string>());
            Assert.StartsWith("/track/", tracking.AbsolutePath, StringComparison.Ordinal); // the page, not the JSON API
            var trackPage = await new ApiClient(origin, null).GetAsync(tracking.AbsolutePath);
            Assert.Equal((HttpStatusCode.OK, "text/html"), (trackPage.Status, trackPage.ContentType));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            File.Delete(report);
        }
    }
}
