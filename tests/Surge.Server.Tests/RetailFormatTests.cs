using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Surge.Server.Tests;

/// <summary>Both UCI order histories are read: "Online Retail" (InvoiceNo, UnitPrice, CustomerID) and "Online Retail
/// II" (Invoice, Price, Customer ID) — the same sales give the same forecasts and the same SKU evaluation.</summary>
public sealed class RetailFormatTests
{
    /// <summary>Twenty weeks of daily invoices for three SKUs (seeded), in the format whose header is given, with a
    /// cancellation in between that both readers leave out.</summary>
    private static string History(string header, bool second)
    {
        var random = new Random(11);
        var text = new StringBuilder(header).Append('\n');
        var start = new DateTime(2024, 1, 1, 9, 0, 0); // a Monday
        for (var day = 0; day < 140; day++)
        {
            foreach (var (sku, level) in new[] { ("85123A", 6), ("22423", 2), ("47503J", 1) })
            {
                var quantity = random.Next(0, 2 * level + 1);
                if (quantity == 0)
                {
                    continue;
                }
                var at = start.AddDays(day).ToString(second ? "yyyy-MM-dd HH:mm:ss" : "M/d/yyyy H:mm", CultureInfo.InvariantCulture);
                text.Append(CultureInfo.InvariantCulture, $"{500_000 + day},{sku},Item {sku},{quantity},{at},2.55,17850,United Kingdom\n");
            }
            if (day == 70)
            {
                text.Append(CultureInfo.InvariantCulture, $"C{600_000 + day},85123A,Item 85123A,-3,{start.AddDays(day).ToString(second ? "yyyy-MM-dd HH:mm:ss" : "M/d/yyyy H:mm", CultureInfo.InvariantCulture)},2.55,17850,United Kingdom\n");
            }
        }
        return text.ToString();
    }

    [Fact]
    public async Task OnlineRetailAndOnlineRetailII_GiveTheSameSkuForecasts_AndTheSameEvaluation()
    {
        var directory = Directory.CreateTempSubdirectory("surge-retail-formats-").FullName;
        try
        {
            var first = Path.Combine(directory, "online_retail.csv");
            var second = Path.Combine(directory, "online_retail_ii.csv");
            await File.WriteAllTextAsync(first, History("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country", false), TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(second, History("Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country", true), TestContext.Current.CancellationToken);
            var answers = new List<(JsonNode Plans, JsonNode Evaluation)>();
            foreach (var file in new[] { first, second })
            {
                var plans = file + ".plans.json";
                var evaluation = file + ".eval.json";
                var (exit, output) = await CliProcess.RunAsync(["forecast", "skus", "--data", file, "--json", plans], TimeSpan.FromMinutes(2));
                Assert.True(exit == 0, output);
                (exit, output) = await CliProcess.RunAsync(["forecast", "eval-skus", "--data", file, "--holdout-weeks", "4", "--json", evaluation], TimeSpan.FromMinutes(2));
                Assert.True(exit == 0, output);
                answers.Add((JsonNode.Parse(await File.ReadAllTextAsync(plans, TestContext.Current.CancellationToken))!,
                    JsonNode.Parse(await File.ReadAllTextAsync(evaluation, TestContext.Current.CancellationToken))!));
            }
            Assert.Equal(3, answers[0].Plans["skus"]!.AsArray().Count);
            Assert.Equal(answers[0].Plans["skus"]!.ToJsonString(), answers[1].Plans["skus"]!.ToJsonString());
            Assert.Equal(3, answers[0].Evaluation["skus_scored"]!.GetValue<int>());
            Assert.Equal(["snaive", "auto", "global"], answers[0].Evaluation["models"]!.AsArray().Select(m => m!["model"]!.GetValue<string>()));
            Assert.Equal(answers[0].Evaluation["models"]!.AsArray().Select(m => m!["wrmsse"]!.GetValue<double>()),
                answers[1].Evaluation["models"]!.AsArray().Select(m => m!["wrmsse"]!.GetValue<double>()));

            var unknown = Path.Combine(directory, "other.csv");
            await File.WriteAllTextAsync(unknown, "Order,Sku\n1,a\n", TestContext.Current.CancellationToken);
            var (code, text) = await CliProcess.RunAsync(["forecast", "eval-skus", "--data", unknown], TimeSpan.FromMinutes(1));
            Assert.Equal(2, code);
            Assert.Contains("week_start,stock_code,units", text, StringComparison.Ordinal); // neither an order history nor a weekly file
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
