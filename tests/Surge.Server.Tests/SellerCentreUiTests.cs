using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace Surge.Server.Tests;

/// <summary>
/// The seller centre (/seller) in Debian's chromium through Playwright, at desktop and phone sizes and in English,
/// Korean and Simplified Chinese: a new seller signs in, uploads a messy spreadsheet and reads the report, receives
/// stock, watches an order arrive and follows it to delivered, sets up a flash sale, reads a forecast, rotates its key —
/// and never sees another seller's data. axe-core (npm, tools/a11y) checks each page. Screenshots go to docs/screenshots/.
/// </summary>
public sealed class SellerCentreUiTests
{
    private static readonly float Patience = (float)DashboardUiTests.Patience.TotalMilliseconds;

    private const string MessyCsv = "sku,title,price,currency,weight_g,temperature,hazmat,category\r\n"
        + "47503J ,Ceramic teapot,\"12,900\",KRW,800,ambient,no,Kitchen\r\n"
        + "\r\n"
        + "bad-price,Too vague,\"12,50\",CNY,100,ambient,no,\r\n"
        + "tea-cn,Green tea,12.50,CNY,100,chilled,no,\r\n";

    private static async Task<IPage> OpenAsync(IBrowser browser, string locale, int width, int height)
    {
        // Bypassing the page's CSP lets the test inject axe-core; the page itself loads nothing but its own files.
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = locale, ViewportSize = new ViewportSize { Width = width, Height = height }, BypassCSP = true,
        });
        var page = await context.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync(); // the confirmations (cancel, rotate)
        return page;
    }

    /// <summary>axe-core on the page as it is: no serious or critical violation.</summary>
    private static async Task AccessibleAsync(IPage page, string where)
    {
        var axe = Path.Combine(CliProcess.RepositoryRoot(), "tools", "a11y", "node_modules", "axe-core", "axe.min.js");
        Assert.True(File.Exists(axe), $"{axe} is missing: (cd tools/a11y && npm install) — scripts/test.sh does");
        await page.AddScriptTagAsync(new PageAddScriptTagOptions { Path = axe });
        var found = await page.EvaluateAsync<JsonElement>(
            "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
            + ".map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))");
        var violations = found.EnumerateArray().Select(v => v.GetString()).ToList();
        Assert.True(violations.Count == 0, $"{where}: {string.Join("\n", violations)}");
    }

    private static Task UploadAsync(IPage page, string name, string text) =>
        page.SetInputFilesAsync("#import-file", new FilePayload { Name = name, MimeType = "text/csv", Buffer = Encoding.UTF8.GetBytes(text) });

    [Fact]
    public async Task ANewSeller_SignsIn_UploadsAMessySheet_ReceivesStock_FollowsAnOrderToDelivered_AndRotatesItsKey_OnADesktopInEnglish()
    {
        var carrierKey = RandomNumberGenerator.GetBytes(32);
        await using var server = await TestServer.StartAsync(o => o with { Flow = o.Flow with { Rules = DashboardUiTests.KrPost(carrierKey) } });
        var (_, sellerId) = await server.SellerWithStockAsync("starter", units: 0);
        var seller = server.Client((await server.Admin.PostAsync("/v1/sellers", new { name = "Jeju Ceramics" })).Json!["api_key"]!.GetValue<string>());
        var me = (await seller.GetAsync("/v1/me")).Json!["seller_id"]!.GetValue<string>();
        string[] paidOnly = ["order.paid"];
        var hook = (await seller.PostAsync("/v1/webhooks", new { url = "http://127.0.0.1:9/hook", event_types = paidOnly })).Json!["id"]!.GetValue<string>();
        var (_, otherId) = await server.SellerWithStockAsync("secret-sku", units: 5);
        var theirs = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("lee", (otherId, "secret-sku", 1)))).Json!["id"]!.GetValue<string>();
        Assert.NotEqual(sellerId, me);

        var (playwright, browser) = await DashboardUiTests.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await OpenAsync(browser, "en-US", 1280, 900);
        var centre = new Uri(server.Server.BaseAddress, "/seller").ToString();

        // Sign-in: a wrong key and the admin key are turned away; the seller's key opens the catalog.
        await page.GotoAsync(centre);
        await page.FillAsync("#key", "sk_not_a_key");
        await page.ClickAsync("#signin-form button");
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("not a valid seller key");
        await page.FillAsync("#key", server.Server.AdminKey);
        await page.ClickAsync("#signin-form button");
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("not a seller key");
        await page.FillAsync("#key", seller.Key!);
        await page.ClickAsync("#signin-form button");
        await Assertions.Expect(page.Locator("#who")).ToContainTextAsync(me);
        await Assertions.Expect(page.Locator("#nav")).ToBeVisibleAsync();

        // A sheet with a trailing space, a blank line, an ambiguous price and a good CNY row: a report row by row.
        await UploadAsync(page, "products.csv", MessyCsv);
        await page.ClickAsync("#import-form button");
        await Assertions.Expect(page.Locator("#import-summary")).ToHaveTextAsync("2 created, 0 updated, 1 refused, 1 skipped", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#import-report tr[data-row='2']")).ToContainTextAsync("spaces trimmed from sku");
        await Assertions.Expect(page.Locator("#import-report tr[data-row='4']")).ToContainTextAsync("ambiguous");
        await Assertions.Expect(page.Locator("#import-report tr[data-row='4']")).ToHaveClassAsync("refused");
        await Assertions.Expect(page.Locator("#skus tr[data-sku='47503J'] td").Nth(2)).ToHaveTextAsync("₩12,900");
        await Assertions.Expect(page.Locator("#skus tr[data-sku='tea-cn'] td").Nth(2)).ToHaveTextAsync("CN¥12.50");
        await AccessibleAsync(page, "catalog");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-catalog.png"), FullPage = true });

        // Another seller's SKU is not found by a search; its order is not shown.
        await page.FillAsync("#search", "secret");
        await page.ClickAsync("#search-form button");
        await Assertions.Expect(page.Locator("#skus tbody")).ToHaveTextAsync("Nothing here yet.");

        // Stock: receive 20 units, take one out as damaged.
        await page.GotoAsync(centre + "#stock");
        await page.SelectOptionAsync("#stock-sku", "47503J");
        await page.FillAsync("#receive-form input[name=quantity]", "20");
        await page.ClickAsync("#receive-form button");
        await Assertions.Expect(page.Locator("#stock-table tr[data-warehouse='wh-kr-1'] td").Nth(3)).ToHaveTextAsync("20", new() { Timeout = Patience });
        await page.FillAsync("#adjust-form input[name=delta]", "-1");
        await page.SelectOptionAsync("#adjust-form select[name=reason]", "damaged");
        await page.ClickAsync("#adjust-form button");
        await Assertions.Expect(page.Locator("#stock-table tr[data-warehouse='wh-kr-1'] td").Nth(1)).ToHaveTextAsync("19", new() { Timeout = Patience });
        await AccessibleAsync(page, "stock");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-stock.png"), FullPage = true });

        // Orders: one arrives while the page is open, and is followed to delivered.
        await page.GotoAsync(centre + "#orders");
        var placed = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("kim", (me, "47503J", 2)))).Json!["id"]!.GetValue<string>();
        await Assertions.Expect(page.Locator($"#orders-table tr[data-order='{placed}']")).ToHaveCountAsync(1, new() { Timeout = Patience });
        await page.ClickAsync($"#orders-table tr[data-order='{placed}'] a");
        await Assertions.Expect(page.Locator("#order-status")).ToContainTextAsync("pending payment", new() { Timeout = Patience });
        await server.Admin.PostAsync($"/v1/orders/{placed}/payment", new { });
        var shipment = await DashboardUiTests.WaitForShipmentAsync(server, placed);
        foreach (var (n, code) in new[] { (1, "PU"), (2, "OD"), (3, "DL") })
        {
            Assert.Equal(HttpStatusCode.Accepted, await DashboardUiTests.CarrierEventAsync(server, carrierKey, $"evt-{n}", shipment, code));
        }
        await Assertions.Expect(page.Locator("#order-status")).ToHaveAttributeAsync("data-status", "delivered", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#order-shipments .timeline li")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("#order-cancel")).ToBeHiddenAsync();
        await AccessibleAsync(page, "order detail");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-order.png"), FullPage = true });

        // Another seller's order, asked for by its id, is not shown: the API answers 404 to this key.
        await page.GotoAsync(centre + $"#orders/{theirs}");
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("Error", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#order-detail")).ToBeHiddenAsync();

        // A second order, cancelled from the page: its stock returns.
        var second = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("park", (me, "47503J", 1)))).Json!["id"]!.GetValue<string>();
        await page.GotoAsync(centre + $"#orders/{second}");
        await page.ClickAsync("#order-cancel");
        await Assertions.Expect(page.Locator("#order-status")).ToHaveAttributeAsync("data-status", "cancelled", new() { Timeout = Patience });

        // Flash sale: set up, then the "left" column follows what buyers take.
        await page.GotoAsync(centre + "#flash");
        await page.SelectOptionAsync("#flash-sku", "47503J");
        await page.FillAsync("#flash-form input[name=starts_at]", DateTime.Now.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("#flash-form button");
        var left = page.Locator("#flash-table tr[data-sku='47503J'] td.left");
        await Assertions.Expect(left).ToHaveTextAsync("17", new() { Timeout = Patience });
        await server.Admin.PostAsync("/v1/orders", TestServer.Order("rush-1", (me, "47503J", 1)));
        await Assertions.Expect(left).ToHaveTextAsync("16", new() { Timeout = Patience });
        await AccessibleAsync(page, "flash sales");

        // The subscription's recent deliveries: the paid order's event, still being tried (nothing listens on port 9).
        await page.GotoAsync(centre + "#integrations");
        await page.ClickAsync($"#webhooks-table tr[data-webhook='{hook}'] button:first-child");
        await Assertions.Expect(page.Locator("#deliveries tbody tr").First).ToContainTextAsync("order.paid", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#deliveries tbody tr").First).ToContainTextAsync(placed);

        // Key rotation: the new key is shown once and works; the old one still works through its grace period.
        await page.ClickAsync("#rotate-key");
        await Assertions.Expect(page.Locator("#rotated")).ToContainTextAsync("sk_", new() { Timeout = Patience });
        var text = await page.InnerTextAsync("#rotated");
        var fresh = text[text.IndexOf("sk_", StringComparison.Ordinal)..].Trim();
        Assert.Equal(me, (await server.Client(fresh).GetAsync("/v1/me")).Json!["seller_id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await seller.GetAsync("/v1/me")).Status);
        await AccessibleAsync(page, "integrations");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-integrations.png"), FullPage = true });
    }

    [Fact]
    public async Task OnAPhone_ASignInLinkOpensTheCentre_InKorean_ThenChinese_WithPricesInEachCurrencysMinorUnits()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, _) = await server.SellerWithStockAsync("mug", units: 4);
        var (playwright, browser) = await DashboardUiTests.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await OpenAsync(browser, "ko-KR", 390, 844);

        await page.GotoAsync(new Uri(server.Server.BaseAddress, "/seller#key=" + seller.Key).ToString());
        await Assertions.Expect(page.Locator("#nav a[data-view='catalog']")).ToHaveTextAsync("상품", new() { Timeout = Patience });
        Assert.DoesNotContain(seller.Key!, page.Url, StringComparison.Ordinal); // the key left the address bar at once
        await Assertions.Expect(page.Locator("#skus tr[data-sku='mug'] td").Nth(2)).ToHaveTextAsync("₩12,900");

        await UploadAsync(page, "상품.csv", "상품코드,상품명,가격,통화,무게\r\ncny-tea,绿茶,12.50,CNY,100\r\n,이름만,1000,KRW,10\r\n");
        await page.ClickAsync("#import-form button");
        await Assertions.Expect(page.Locator("#import-summary")).ToHaveTextAsync("등록 1, 수정 0, 거부 1, 건너뜀 0", new() { Timeout = Patience });
        await AccessibleAsync(page, "catalog (ko, phone)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-catalog-ko-phone.png"), FullPage = true });

        await page.SelectOptionAsync("#lang", "zh");
        await Assertions.Expect(page.Locator("#nav a[data-view='catalog']")).ToHaveTextAsync("商品");
        await Assertions.Expect(page.Locator("#skus tr[data-sku='cny-tea'] td").Nth(2)).ToHaveTextAsync("¥12.50", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#skus tr[data-sku='mug'] td").Nth(2)).ToHaveTextAsync("₩12,900");
        await page.ReloadAsync(); // the tab keeps its key and its language
        await Assertions.Expect(page.Locator("#nav a[data-view='orders']")).ToHaveTextAsync("订单", new() { Timeout = Patience });
        await AccessibleAsync(page, "catalog (zh, phone)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-catalog-zh-phone.png"), FullPage = true });

        // An order in Chinese: its status in words, its amount in the SKU's currency.
        var sellerId = (await seller.GetAsync("/v1/me")).Json!["seller_id"]!.GetValue<string>();
        var order = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("wang", (sellerId, "mug", 2)))).Json!["id"]!.GetValue<string>();
        await page.ClickAsync("#nav a[data-view='orders']");
        var row = page.Locator($"#orders-table tr[data-order='{order}']");
        await Assertions.Expect(row).ToContainTextAsync("待付款", new() { Timeout = Patience });
        await Assertions.Expect(row).ToContainTextAsync("₩25,800");
        await AccessibleAsync(page, "orders (zh, phone)");

        await page.ClickAsync("#sign-out");
        await Assertions.Expect(page.Locator("#view-signin")).ToBeVisibleAsync();
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#view-signin")).ToBeVisibleAsync(); // signed out for good in this tab
    }

    [Fact]
    public async Task TheBuyersTrackingPage_SpeaksSimplifiedChinese_ToABrowserInChinese()
    {
        await using var server = await TestServer.StartAsync();
        var (_, sellerId) = await server.SellerWithStockAsync("kimchi", units: 5);
        var placed = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("wang", (sellerId, "kimchi", 1)))).Json!;
        var (playwright, browser) = await DashboardUiTests.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await OpenAsync(browser, "zh-CN", 390, 844);

        await page.GotoAsync(new Uri(server.Server.BaseAddress, $"/track/{placed["tracking_token"]}").ToString());
        await Assertions.Expect(page.Locator("#title")).ToHaveTextAsync("订单物流查询");
        await Assertions.Expect(page.Locator("#timeline li[data-status='placed']")).ToContainTextAsync("订单已提交", new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("已下单");
        await AccessibleAsync(page, "tracking (zh)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("tracking-zh.png"), FullPage = true });
        await page.GotoAsync(new Uri(server.Server.BaseAddress, "/track/no-such-token").ToString());
        await Assertions.Expect(page.Locator("#title")).ToHaveTextAsync("找不到此订单");
    }

    [Fact]
    public async Task Forecast_ChartsASkuWithEnoughHistory_AndTheWhatIfOnServiceLevelChangesTheReorderAdvice()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero));
        await using var server = await TestServer.StartAsync(o => o with { Clock = clock, Flow = o.Flow with { Start = false }, Orders = o.Orders with { ReservationTtl = TimeSpan.FromDays(30) } });
        var (seller, sellerId) = await server.SellerWithStockAsync("tea", units: 45);
        for (var week = 0; week < 10; week++)
        {
            for (var n = 0; n < 3 + week % 3; n++)
            {
                var placed = await server.Admin.PostAsync("/v1/orders", TestServer.Order($"w{week}-{n}", (sellerId, "tea", 1)));
                await server.Admin.PostAsync($"/v1/orders/{placed.Json!["id"]}/payment", new { });
            }
            clock.Advance(TimeSpan.FromDays(7));
        }
        var (playwright, browser) = await DashboardUiTests.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await OpenAsync(browser, "en-US", 1280, 900);
        await page.GotoAsync(new Uri(server.Server.BaseAddress, "/seller#key=" + seller.Key).ToString());
        await page.ClickAsync("#nav a[data-view='forecast']");

        await Assertions.Expect(page.Locator("#forecast-chart canvas")).ToHaveCountAsync(1, new() { Timeout = Patience });
        await Assertions.Expect(page.Locator("#forecast-facts")).ToContainTextAsync("Order now");
        var reorder = async () => double.Parse((await page.Locator("#forecast-facts dd").Nth(3).InnerTextAsync()).Replace(",", "", StringComparison.Ordinal),
            System.Globalization.CultureInfo.InvariantCulture);
        var atDefault = await reorder();
        await page.FillAsync("#service-level", "0.5");
        await page.FillAsync("#lead-time", "0");
        await page.ClickAsync("#forecast-form button");
        await page.WaitForFunctionAsync($"() => Number(document.querySelectorAll('#forecast-facts dd')[3]?.textContent.replace(/,/g, '')) < {atDefault}",
            null, new PageWaitForFunctionOptions { Timeout = Patience });
        await AccessibleAsync(page, "forecast");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = DashboardUiTests.Screenshot("seller-forecast.png"), FullPage = true });
    }
}
