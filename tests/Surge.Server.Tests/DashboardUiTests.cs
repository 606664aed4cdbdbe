using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Playwright;
using Surge.Flow;

namespace Surge.Server.Tests;

/// <summary>
/// The operator dashboard and the buyer's tracking page in a real browser: Playwright driving Debian's chromium
/// (`apt-get install chromium`; scripts/test.sh installs it). Screenshots go to docs/screenshots/.
/// </summary>
public sealed class DashboardUiTests
{
    private const string Chromium = "/usr/bin/chromium";
    internal static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    internal static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install chromium (scripts/test.sh does)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        return (playwright, browser);
    }

    internal static string Screenshot(string name)
    {
        var directory = Path.Combine(CliProcess.RepositoryRoot(), "docs", "screenshots");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }

    /// <summary>A new page on the dashboard, signed in with the admin key.</summary>
    private static async Task<IPage> SignedInAsync(IBrowser browser, TestServer server)
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(server.Server.BaseAddress.ToString());
        await page.FillAsync("#key", server.Server.AdminKey);
        await page.ClickAsync("button[type=submit]");
        return page;
    }

    private static Task<IJSHandle> WaitForNumberAsync(IPage page, string id, string comparison) =>
        page.WaitForFunctionAsync($"() => Number((document.getElementById('{id}')?.textContent ?? '').replace(/,/g, '')) {comparison}", null,
            new PageWaitForFunctionOptions { Timeout = (float)Patience.TotalMilliseconds, PollingInterval = 100 });

    [Fact]
    public async Task Dashboard_RefusesAWrongKeyAndASellerKey_ThenShowsNumbersThatMove_AndTheFlashSaleStockStopsAtZero()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, sellerId) = await server.SellerWithStockAsync("console", units: 0);
        await seller.PostAsync("/v1/stock/receipts", new { sku = "console", warehouse_id = "wh-kr-1", quantity = 25 });
        Assert.Equal(HttpStatusCode.Created,
            (await seller.PostAsync("/v1/flash-sales", new { sku = "console", starts_at = DateTimeOffset.UtcNow.AddSeconds(-1), per_buyer_limit = 1 })).Status);
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        var url = server.Server.BaseAddress.ToString();

        await page.GotoAsync(url);
        await page.FillAsync("#key", "ak_not_the_key");
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.Locator("#error")).ToContainTextAsync("not the admin key");
        await page.FillAsync("#key", seller.Key!);
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.Locator("#error")).ToContainTextAsync("not the admin key");
        await page.FillAsync("#key", server.Server.AdminKey);
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.Locator("#connection")).ToHaveTextAsync("live", new LocatorAssertionsToHaveTextOptions { Timeout = (float)Patience.TotalMilliseconds });

        // A flash sale rush (40 buyers for 25 units) and a stream of normal orders, while the page watches.
        var (_, other) = await server.SellerWithStockAsync("mug", units: 100_000);
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await server.Admin.PostAsync("/v1/orders", TestServer.Order($"steady-{i}", (other, "mug", 1)));
            }
        }, CancellationToken.None);
        var rush = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            server.Admin.PostAsync("/v1/orders", TestServer.Order($"rush-{i}", (sellerId, "console", 1)))));
        Assert.Equal(25, rush.Count(r => r.Status == HttpStatusCode.Created));

        await WaitForNumberAsync(page, "accepted", "> 0");
        await Assertions.Expect(page.Locator("#flash tr[data-sku=console] .flash-left")).ToHaveTextAsync("0",
            new LocatorAssertionsToHaveTextOptions { Timeout = (float)Patience.TotalMilliseconds });
        Assert.Equal(0, await seller.AvailableAsync("console")); // never below zero
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("dashboard.png"), FullPage = true });
        await stop.CancelAsync();
        await load;
    }

    [Fact]
    public async Task Dashboard_DrawsTheRecentPastOnLoad_OverAFixedWindow_AndDrillsDownIntoOneSeller_AndShowsWhereThePartitionsLive()
    {
        await using var server = await TestServer.StartAsync();
        var (_, sellerId) = await server.SellerWithStockAsync("mug", units: 3);
        for (var i = 0; i < 5; i++)
        {
            await server.Admin.PostAsync("/v1/orders", TestServer.Order($"b{i}", (sellerId, "mug", 1))); // 3 accepted, 2 refused
        }
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await SignedInAsync(browser, server);
        await Assertions.Expect(page.Locator("#connection")).ToHaveTextAsync("live", new LocatorAssertionsToHaveTextOptions { Timeout = (float)Patience.TotalMilliseconds });

        // The node samples every second whether a page is open or not: wait for a few seconds of history, then open
        // the page again — its charts start with them, not empty, and the time axis spans the window, not years.
        await page.WaitForFunctionAsync("async () => (await (await fetch('/dashboard/history')).json()).points.length >= 4", null,
            new PageWaitForFunctionOptions { Timeout = (float)Patience.TotalMilliseconds, PollingInterval = 250 });
        await page.ReloadAsync();
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-rate').dataset.points) >= 4", null,
            new PageWaitForFunctionOptions { Timeout = (float)Patience.TotalMilliseconds });
        Assert.Equal("900", await page.GetAttributeAsync("#chart-rate", "data-span-s"));

        await page.FillAsync("#drill-seller", sellerId);
        await page.ClickAsync("#drill-form button");
        await Assertions.Expect(page.Locator("#drill-summary")).ToContainTextAsync("3 accepted, 2 refused", new LocatorAssertionsToContainTextOptions { Timeout = (float)Patience.TotalMilliseconds });
        await Assertions.Expect(page.Locator("#drill-reasons tbody")).ToContainTextAsync("insufficient_stock");
        await Assertions.Expect(page.Locator("#cluster-silos tbody tr")).ToHaveCountAsync(1);
        Assert.Equal(server.Options.Partitions.ToString(CultureInfo.InvariantCulture), await page.GetAttributeAsync("#cluster-silos tbody tr", "data-partitions"));
        await page.FillAsync("#drill-seller", "sel_999");
        await page.ClickAsync("#drill-form button");
        await Assertions.Expect(page.Locator("#drill-summary")).ToContainTextAsync("no such seller");
        Assert.Equal(HttpStatusCode.Unauthorized, (await new ApiClient(server.Server.BaseAddress, null).GetAsync("/dashboard/history")).Status);
    }

    [Fact]
    public async Task SellerForecastPanel_ChartsASkusHistoryAndForecast_WithItsStockoutAndOrderAdvice()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero));
        await using var server = await TestServer.StartAsync(o => o with { Clock = clock, Flow = o.Flow with { Start = false }, Orders = o.Orders with { ReservationTtl = TimeSpan.FromDays(30) } });
        var (_, sellerId) = await server.SellerWithStockAsync("tea", units: 60);
        for (var week = 0; week < 10; week++)
        {
            for (var n = 0; n < 4 + week % 2; n++)
            {
                var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order($"w{week}-{n}", (sellerId, "tea", 1)));
                await server.Admin.PostAsync($"/v1/orders/{placed.Json!["id"]}/payment", new { });
            }
            clock.Advance(TimeSpan.FromDays(7));
        }
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await SignedInAsync(browser, server);

        await page.FillAsync("#forecast-seller", sellerId);
        await page.ClickAsync("#forecast-form button");

        await Assertions.Expect(page.Locator("#forecast-summary")).ToContainTextAsync("tea: ", new LocatorAssertionsToContainTextOptions { Timeout = (float)Patience.TotalMilliseconds });
        var summary = await page.InnerTextAsync("#forecast-summary");
        Assert.True(summary.Contains("available", StringComparison.Ordinal), summary);
        await Assertions.Expect(page.Locator("#chart-sku canvas")).ToHaveCountAsync(1);
        await page.Locator("#forecast-summary").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("forecast-panel.png"), FullPage = true });
        await page.FillAsync("#forecast-seller", "sel_999");
        await page.ClickAsync("#forecast-form button");
        await Assertions.Expect(page.Locator("#forecast-summary")).ToContainTextAsync("no such seller");
    }

    [Fact]
    public async Task TrackingPage_InKorean_FollowsAnOrderToDelivered_AndAnUnknownTokenGetsAFriendlyPage()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        await using var server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { Rules = KrPost(key) } });
        var (_, sellerId) = await server.SellerWithStockAsync("hanbok", units: 5);
        var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order("kim", (sellerId, "hanbok", 1)));
        var id = placed.Json!["id"]!.GetValue<string>();
        var token = placed.Json!["tracking_token"]!.GetValue<string>();
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { Locale = "ko-KR", ViewportSize = new ViewportSize { Width = 390, Height = 844 } });
        var page = await context.NewPageAsync();

        await page.GotoAsync(new Uri(server.Server.BaseAddress, $"/track/{token}").ToString());
        await Assertions.Expect(page.Locator("#title")).ToHaveTextAsync("주문 배송 조회");
        await server.Admin.PostAsync($"/v1/orders/{id}/payment", new { });
        var shipment = await WaitForShipmentAsync(server, id);
        foreach (var (n, code) in new[] { (1, "PU"), (2, "OD"), (3, "DL") })
        {
            Assert.Equal(HttpStatusCode.Accepted, await CarrierEventAsync(server, key, $"evt-{n}", shipment, code));
        }

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("배송 완료", new LocatorAssertionsToHaveTextOptions { Timeout = (float)Patience.TotalMilliseconds });
        await Assertions.Expect(page.Locator("#timeline")).ToContainTextAsync("배송이 완료되었습니다");
        Assert.Equal(["placed", "paid", "shipment_planned", "in_transit", "out_for_delivery", "delivered"],
            await page.Locator("#timeline li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.status)"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("tracking-ko.png"), FullPage = true });

        var missing = await page.GotoAsync(new Uri(server.Server.BaseAddress, "/track/not-a-real-token").ToString());
        Assert.Equal(404, missing!.Status);
        await Assertions.Expect(page.Locator("#title")).ToHaveTextAsync("주문을 찾을 수 없습니다");
    }

    /// <summary>One carrier for parcels to Korea whose events are signed with <paramref name="key"/> (see <see cref="CarrierEventAsync"/>).</summary>
    internal static FulfillmentRules KrPost(byte[] key) => new()
    {
        Carriers =
        [
            new CarrierConfig
            {
                Id = "kr-post", Name = "우체국택배", Secret = "whsec_" + Convert.ToBase64String(key), Countries = ["KR"], Classes = [ShippingClass.Parcel],
                Services = ["standard"], Prices = new Dictionary<ShippingClass, PriceRule> { [ShippingClass.Parcel] = new(3_000, 100) },
            },
        ],
    };

    internal static async Task<string> WaitForShipmentAsync(TestServer server, string orderId)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var order = (await server.Admin.GetAsync($"/v1/orders/{orderId}")).Json!;
            if (order["seller_orders"]![0]!["shipments"]!.AsArray().FirstOrDefault() is { } shipment)
            {
                return shipment["id"]!.GetValue<string>();
            }
            Assert.True(clock.Elapsed < Patience, "the order was never planned");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    internal static async Task<HttpStatusCode> CarrierEventAsync(TestServer server, byte[] key, string eventId, string shipment, string code)
    {
        var now = DateTimeOffset.UtcNow;
        var body = Encoding.UTF8.GetBytes(
            $$$"""{"specversion":"1.0","type":"post.tracking","source":"/post","id":"{{{eventId}}}","data":{"shipment_id":"{{{shipment}}}","code":"{{{code}}}","occurred_at":"{{{now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)}}}"}}""");
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Server.BaseAddress, "/v1/carriers/kr-post/events"))
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/cloudevents+json");
        request.Headers.Add("webhook-id", eventId);
        request.Headers.Add("webhook-timestamp", now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", StandardWebhooks.Sign(key, eventId, now.ToUnixTimeSeconds(), body));
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
