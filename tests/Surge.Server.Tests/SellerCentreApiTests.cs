using System.Net;
using System.Text;
using MiniExcelLibs;

namespace Surge.Server.Tests;

/// <summary>The routes the seller centre stands on: who a key is, the seller's SKUs, a spreadsheet import with a
/// row-by-row report, stock adjustments with a reason, a seller's cancellation — each answered for the caller's own
/// data only.</summary>
public sealed class SellerCentreApiTests
{
    private const string Xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    [Fact]
    public async Task Me_NamesTheSellerOfAKey_AndTheAdminRole()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, id) = await server.SellerWithStockAsync("mug", units: 0);
        var me = (await seller.GetAsync("/v1/me")).Json!;
        Assert.Equal("seller", me["role"]!.GetValue<string>());
        Assert.Equal(id, me["seller_id"]!.GetValue<string>());
        Assert.Equal("seller mug", me["name"]!.GetValue<string>());
        Assert.Equal("admin", (await server.Admin.GetAsync("/v1/me")).Json!["role"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client("sk_wrong").GetAsync("/v1/me")).Status);
    }

    [Fact]
    public async Task SkuListing_ShowsOnlyTheCallersSkus_WithStock_SearchesCodeAndTitle_AndPagesWithACursor()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, _) = await server.SellerWithStockAsync("mug-blue", units: 7);
        var (other, _) = await server.SellerWithStockAsync("secret-sku", units: 3);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", TestServer.Sku($"plate-{i}"))).Status);
        }
        var boxed = new { sku = "plate-4", title = "Item plate-4", price_minor = 100, currency = "KRW", weight_g = 90, temperature = "ambient",
            dimensions_mm = new { length_mm = 300, width_mm = 200, height_mm = 40 } };
        Assert.Equal(HttpStatusCode.Created, (await seller.PostAsync("/v1/skus", boxed)).Status);

        var first = (await seller.GetAsync("/v1/skus?limit=4")).Json!;
        var all = first["skus"]!.AsArray().Select(s => s!["sku"]!.GetValue<string>()).ToList();
        var cursor = first["next_cursor"]!.GetValue<string>();
        var rest = (await seller.GetAsync($"/v1/skus?limit=4&cursor={cursor}")).Json!;
        all.AddRange(rest["skus"]!.AsArray().Select(s => s!["sku"]!.GetValue<string>()));
        Assert.Null(rest["next_cursor"]);
        Assert.Equal(["mug-blue", "plate-0", "plate-1", "plate-2", "plate-3", "plate-4"], all);
        Assert.Equal(7, first["skus"]![0]!["available"]!.GetValue<long>());
        var plate4 = rest["skus"]!.AsArray().Single(s => s!["sku"]!.GetValue<string>() == "plate-4")!;
        Assert.Equal(300, plate4["dimensions_mm"]!["length_mm"]!.GetValue<int>()); // what an edit must send back
        Assert.Null(first["skus"]![0]!["dimensions_mm"]);

        var found = (await seller.GetAsync("/v1/skus?q=MUG")).Json!["skus"]!.AsArray();
        Assert.Equal("mug-blue", Assert.Single(found)!["sku"]!.GetValue<string>());
        Assert.Equal(6, (await seller.GetAsync("/v1/skus?q=item")).Json!["skus"]!.AsArray().Count); // titles are "Item …"
        Assert.Empty((await seller.GetAsync("/v1/skus?q=secret")).Json!["skus"]!.AsArray());
        Assert.Single((await other.GetAsync("/v1/skus")).Json!["skus"]!.AsArray());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await seller.GetAsync("/v1/skus?limit=0")).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await seller.GetAsync($"/v1/skus?q={new string('x', 101)}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.Admin.GetAsync("/v1/skus")).Status);
    }

    [Fact]
    public async Task CsvImport_ReportsEveryRow_CleansWhatItSafelyCan_RefusesTheRestWithReasons_AndWritesTheGoodRows()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, _) = await server.SellerWithStockAsync("existing", units: 0);
        var csv = string.Join("\r\n",
            "sku,title,price,currency,weight_g,temperature,hazmat,category", // row 1
            "47503J ,Ceramic teapot,\"12,900\",KRW,800,ambient,no,Kitchen", // 2: trailing space, thousands comma
            "",                                                                // 3: blank
            "existing,Renamed item,₩5000,KRW,350,ambient,,",                  // 4: an update
            "tea-cn,绿茶 Green tea,12.50,CNY,100,상온,아니오,",                 // 5: CNY with decimals; a Korean temperature
            "bad-price,Too vague,\"12,50\",CNY,100,ambient,no,",               // 6: a decimal comma is ambiguous
            "krw-cents,Half won,10.5,KRW,100,ambient,no,",                     // 7: KRW has no minor unit
            "47503J,Duplicate,1000,KRW,100,ambient,no,",                       // 8: the same SKU again
            ",No code,1000,KRW,100,ambient,no,",                               // 9: no SKU
            "warm,Soup,1000,KRW,100,lukewarm,no,",                             // 10: unknown temperature
            "   ,  ,  ,  ,  ,  ,  ,  ");                                         // 11: blank but for spaces
        var answer = await seller.SendBytesAsync(HttpMethod.Post, "/v1/skus/import", Encoding.UTF8.GetBytes(csv), "text/csv");
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var report = answer.Json!;
        var rows = report["report"]!.AsArray().ToDictionary(r => r!["row"]!.GetValue<int>(), r => r!);
        string Status(int row) => rows[row]["status"]!.GetValue<string>();
        string Detail(int row) => rows[row]["detail"]?.GetValue<string>() ?? "";

        Assert.Equal(10, report["rows"]!.GetValue<int>());
        Assert.Equal("created", Status(2));
        Assert.Equal("47503J", rows[2]["sku"]!.GetValue<string>());
        Assert.Contains(rows[2]["notes"]!.AsArray(), n => n!.GetValue<string>().Contains("spaces trimmed from sku", StringComparison.Ordinal));
        Assert.Equal("skipped", Status(3));
        Assert.Equal("updated", Status(4));
        Assert.Equal("created", Status(5));
        Assert.Equal("refused", Status(6));
        Assert.Contains("ambiguous", Detail(6), StringComparison.Ordinal);
        Assert.Equal("refused", Status(7));
        Assert.Contains("no minor unit", Detail(7), StringComparison.Ordinal);
        Assert.Equal("refused", Status(8));
        Assert.Contains("also on row 2", Detail(8), StringComparison.Ordinal);
        Assert.Equal("refused", Status(9));
        Assert.Equal("refused", Status(10));
        Assert.Equal("skipped", Status(11));
        Assert.Equal((2, 1, 5, 2), (report["created"]!.GetValue<int>(), report["updated"]!.GetValue<int>(), report["refused"]!.GetValue<int>(),
            report["skipped"]!.GetValue<int>()));

        var teapot = (await seller.GetAsync("/v1/skus/47503J")).Json!;
        Assert.Equal(12_900, teapot["price_minor"]!.GetValue<long>());
        var tea = (await seller.GetAsync("/v1/skus/tea-cn")).Json!;
        Assert.Equal((1_250L, "CNY", "ambient"), (tea["price_minor"]!.GetValue<long>(), tea["currency"]!.GetValue<string>(), tea["temperature"]!.GetValue<string>()));
        Assert.Equal("Renamed item", (await seller.GetAsync("/v1/skus/existing")).Json!["title"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await seller.GetAsync("/v1/skus/bad-price")).Status);
    }

    [Fact]
    public async Task Import_ReadsKoreanHeadersInCp949_AndAnXlsxWorkbook_AndRefusesWhatIsNoSpreadsheet()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, _) = await server.SellerWithStockAsync("existing", units: 0);
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var korean = "상품코드,상품명,가격,무게\nkimchi,배추김치 1kg,\"15,000\",1000\n";
        var cp949 = Encoding.GetEncoding(949).GetBytes(korean);
        var answer = await seller.SendBytesAsync(HttpMethod.Post, "/v1/skus/import?currency=KRW", cp949, "text/csv");
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("cp949", answer.Json!["encoding"]!.GetValue<string>());
        Assert.Equal("배추김치 1kg", (await seller.GetAsync("/v1/skus/kimchi")).Json!["title"]!.GetValue<string>());

        using var workbook = new MemoryStream();
        await workbook.SaveAsAsync(new[]
        {
            new Dictionary<string, object> { ["sku"] = "xl-1", ["title"] = "From Excel", ["price"] = 2500, ["currency"] = "KRW", ["weight_g"] = 90 },
            new Dictionary<string, object> { ["sku"] = "xl-2", ["title"] = "", ["price"] = 100, ["currency"] = "KRW", ["weight_g"] = 90 },
        }, excelType: ExcelType.XLSX, cancellationToken: TestContext.Current.CancellationToken);
        var xlsx = await seller.SendBytesAsync(HttpMethod.Post, "/v1/skus/import", workbook.ToArray(), Xlsx);
        Assert.Equal(HttpStatusCode.OK, xlsx.Status);
        var rows = xlsx.Json!["report"]!.AsArray();
        Assert.Equal(["created", "refused"], rows.Select(r => r!["status"]!.GetValue<string>()));
        Assert.Equal(2_500, (await seller.GetAsync("/v1/skus/xl-1")).Json!["price_minor"]!.GetValue<long>());

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await seller.SendRawAsync(HttpMethod.Post, "/v1/skus/import", "sku", "application/json")).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await seller.SendRawAsync(HttpMethod.Post, "/v1/skus/import", "name,colour\na,b", "text/csv")).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await seller.SendBytesAsync(HttpMethod.Post, "/v1/skus/import", [0x50, 0x4B, 3, 4, 1, 2], Xlsx)).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await seller.SendRawAsync(HttpMethod.Post, "/v1/skus/import", "", "text/csv")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.Admin.SendRawAsync(HttpMethod.Post, "/v1/skus/import", "sku,title,price\n", "text/csv")).Status);
    }

    [Theory]
    [InlineData("12,900", 0, 12_900L)]
    [InlineData("₩ 1,234,567", 0, 1_234_567L)]
    [InlineData("12.5", 2, 1_250L)]
    [InlineData("1,250.99", 2, 125_099L)]
    [InlineData("0.125", 3, 125L)]
    [InlineData("7", 2, 700L)]
    public void MoneyAsMerchantsWriteIt_BecomesMinorUnits(string text, int digits, long minor)
    {
        Assert.True(SkuImport.TryParseMoney(text, digits, out var parsed, out var problem, out _), problem);
        Assert.Equal(minor, parsed);
    }

    [Theory]
    [InlineData("12,50", 2)]
    [InlineData("1,2345", 0)]
    [InlineData("12.345", 2)]
    [InlineData("10.5", 0)]
    [InlineData("abc", 0)]
    [InlineData("-5", 0)]
    [InlineData("5.", 2)]
    [InlineData("99999999999999999999", 0)]
    public void MoneyThatWouldNeedAGuess_IsRefused(string text, int digits) =>
        Assert.False(SkuImport.TryParseMoney(text, digits, out _, out _, out _));

    [Fact]
    public async Task StockAdjustment_TakesOutAndAddsWithAReason_NeverBelowWhatIsAvailable()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, sellerId) = await server.SellerWithStockAsync("mug", units: 10);
        await server.Admin.PostAsync("/v1/orders", TestServer.Order("kim", (sellerId, "mug", 4))); // 4 reserved
        var damaged = await seller.PostAsync("/v1/stock/adjustments", new { sku = "mug", warehouse_id = "wh-kr-1", delta = -2, reason = "damaged" });
        Assert.Equal(HttpStatusCode.OK, damaged.Status);
        Assert.Equal((8L, 4L), (damaged.Json!["on_hand"]!.GetValue<long>(), damaged.Json!["available"]!.GetValue<long>()));
        var tooMany = await seller.PostAsync("/v1/stock/adjustments", new { sku = "mug", warehouse_id = "wh-kr-1", delta = -5, reason = "lost" });
        Assert.Equal(HttpStatusCode.Conflict, tooMany.Status);
        Assert.Equal("insufficient_stock", tooMany.ProblemCode);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/stock/adjustments", new { sku = "mug", warehouse_id = "wh-kr-1", delta = 3, reason = "found" })).Status);
        Assert.Equal(7, await seller.AvailableAsync("mug"));
        foreach (var bad in new object[]
        {
            new { sku = "mug", warehouse_id = "wh-kr-1", delta = 0, reason = "found" },
            new { sku = "mug", warehouse_id = "wh-kr-1", delta = 1, reason = "because" },
        })
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, (await seller.PostAsync("/v1/stock/adjustments", bad)).Status);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await seller.PostAsync("/v1/stock/adjustments", new { sku = "mug", warehouse_id = "wh-nowhere", delta = 1, reason = "found" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await seller.PostAsync("/v1/stock/adjustments", new { sku = "cup", warehouse_id = "wh-kr-1", delta = 1, reason = "found" })).Status);
    }

    [Fact]
    public async Task ASeller_CancelsAnOrderItSellsIn_NotAnotherSellersOrder()
    {
        await using var server = await TestServer.StartAsync();
        var (seller, sellerId) = await server.SellerWithStockAsync("mug", units: 10);
        var (_, otherId) = await server.SellerWithStockAsync("cup", units: 10);
        var mine = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("kim", (sellerId, "mug", 3)))).Json!["id"]!.GetValue<string>();
        var theirs = (await server.Admin.PostAsync("/v1/orders", TestServer.Order("lee", (otherId, "cup", 1)))).Json!["id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.NotFound, (await seller.PostAsync($"/v1/orders/{theirs}/cancel", new { })).Status);
        var cancelled = await seller.PostAsync($"/v1/orders/{mine}/cancel", new { });
        Assert.Equal(HttpStatusCode.OK, cancelled.Status);
        var child = cancelled.Json!["seller_orders"]![0]!;
        Assert.Equal(("cancelled", "seller"), (child["status"]!.GetValue<string>(), child["cancel_reason"]!.GetValue<string>()));
        Assert.Equal(10, await seller.AvailableAsync("mug"));
        Assert.Equal("pending_payment", (await server.Admin.GetAsync($"/v1/orders/{theirs}")).Json!["status"]!.GetValue<string>());
    }
}
