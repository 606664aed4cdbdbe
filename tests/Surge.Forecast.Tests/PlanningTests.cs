using Surge.Forecast;

namespace Surge.Forecast.Tests;

public sealed class PlanningTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-plan-").FullName;

    private static TimeSeries Weeks(int count) => new("sku",
        Enumerable.Range(0, count).Select(i => new DateOnly(2026, 1, 5).AddDays(7 * i).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)).ToList(),
        new double[count], 52);

    /// <summary>A flat forecast of 10 units a week whose 95 % interval is ±1.96·σ with σ = 2.</summary>
    private static Forecast Flat(int weeks) => new("test", Enumerable.Repeat(10.0, weeks).ToArray(),
        Enumerable.Repeat(10 - 1.2816 * 2, weeks).ToArray(), Enumerable.Repeat(10 + 1.2816 * 2, weeks).ToArray(),
        Enumerable.Repeat(10 - 1.959963984540054 * 2, weeks).ToArray(), Enumerable.Repeat(10 + 1.959963984540054 * 2, weeks).ToArray());

    [Fact]
    public void Stockout_IsTheFirstWeekWhoseCumulativeDemandExceedsStock()
    {
        var plan = Planning.FromForecast(Weeks(10), onHand: 25, Flat(8), new PlanningOptions());

        Assert.Equal("2026-03-16", plan.Weeks[0]); // the week after the last of ten weeks from 2026-01-05
        Assert.Equal(plan.Weeks[2], plan.StockoutWeek); // 10, 20, 30 > 25
    }

    [Fact]
    public void Reorder_CoversLeadTimeAndReviewWithSafetyStock()
    {
        var options = new PlanningOptions { LeadTimeWeeks = 2, ReviewWeeks = 1, ServiceLevel = 0.95 };

        var plan = Planning.FromForecast(Weeks(10), onHand: 5, Flat(8), options);

        // Demand over 3 weeks = 30; σ over 3 weeks = 2·√3; z(0.95) = 1.6449.
        Assert.Equal(Math.Ceiling(30 + 1.6448536269514722 * 2 * Math.Sqrt(3) - 5), plan.ReorderUnits);
        Assert.Null(Planning.FromForecast(Weeks(10), onHand: 1000, Flat(8), options).StockoutWeek);
        Assert.Equal(0, Planning.FromForecast(Weeks(10), onHand: 1000, Flat(8), options).ReorderUnits);
    }

    [Fact]
    public void NegativeStock_IsRefused()
    {
        var e = Assert.Throws<ForecastInputException>(() => Planning.Plan(Weeks(20), -1, new PlanningOptions()));
        Assert.Contains("non-negative", e.Message);
    }

    [Fact]
    public void WeeklyFile_IsReadPerSku_AndGapsAreRefused()
    {
        var good = Path.Combine(_directory, "good.csv");
        File.WriteAllText(good, "week_start,stock_code,units\n2026-01-05,A,3\n2026-01-05,B,0\n2026-01-12,A,4\n2026-01-12,B,1\n");
        var series = WeeklySkuCsv.Read(good);
        Assert.Equal(["A", "B"], series.Select(s => s.Name));
        Assert.Equal([3.0, 4.0], series[0].Values);

        var gap = Path.Combine(_directory, "gap.csv");
        File.WriteAllText(gap, "week_start,stock_code,units\n2026-01-05,A,3\n2026-01-19,A,4\n");
        Assert.Contains("consecutive", Assert.Throws<ForecastInputException>(() => WeeklySkuCsv.Read(gap)).Message);

        var negative = Path.Combine(_directory, "negative.csv");
        File.WriteAllText(negative, "week_start,stock_code,units\n2026-01-05,A,-3\n");
        Assert.Throws<ForecastInputException>(() => WeeklySkuCsv.Read(negative));
    }

    [Fact]
    public void RealWeeklyDemand_GetsAPlanForEverySku()
    {
        var path = Path.Combine(SeasonalNaiveTests.DataDirectory(), "..", "sales-series", "weekly_top100_sku.csv");
        var series = WeeklySkuCsv.Read(path).Take(10).ToList();

        var plans = series.Select(s => Planning.Plan(s, 4 * s.Values.TakeLast(8).Average(), new PlanningOptions())).ToList();

        Assert.Equal(10, plans.Count);
        Assert.All(plans, p =>
        {
            Assert.Equal(8, p.Mean.Length);
            Assert.All(p.Mean.Zip(p.Upper95), x => Assert.True(x.First <= x.Second));
            Assert.True(p.ReorderUnits >= 0);
        });
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

public class WeeklyDemandTests
{
    [Fact]
    public void Sales_AreSummedByMondayWeek_CompleteWeeksOnly_FromEachSkusFirstSale()
    {
        // History from Wednesday 2026-01-07 to Sunday 2026-02-01: the week of 01-05 is partial and left out;
        // complete weeks are 01-12, 01-19, 01-26.
        var sales = new[]
        {
            new Sale("a", new DateTime(2026, 1, 7, 10, 0, 0), 50), // partial first week: not counted
            new Sale("a", new DateTime(2026, 1, 12, 0, 0, 0), 3),
            new Sale("a", new DateTime(2026, 1, 18, 23, 59, 0), 4), // Sunday: same week as the 12th
            new Sale("a", new DateTime(2026, 1, 26, 9, 0, 0), 5),
            new Sale("b", new DateTime(2026, 1, 20, 9, 0, 0), 2),
            new Sale("b", new DateTime(2026, 1, 21, 9, 0, 0), -1), // a return: ignored
            new Sale("c", new DateTime(2026, 2, 1, 12, 0, 0), 0), // nothing sold
        };

        var series = WeeklyDemand.FromSales(sales);

        Assert.Equal(["a", "b"], series.Select(s => s.Name));
        Assert.Equal(["2026-01-12", "2026-01-19", "2026-01-26"], series[0].Periods);
        Assert.Equal([7.0, 0, 5], series[0].Values);
        Assert.Equal(["2026-01-19", "2026-01-26"], series[1].Periods);
        Assert.Equal([2.0, 0], series[1].Values);
        Assert.All(series, s => Assert.Equal(52, s.SeasonLength));
    }

    [Fact]
    public void AHistoryEndingMidWeek_DropsThatWeek_AndNoSalesGiveNoSeries()
    {
        var sales = new[]
        {
            new Sale("a", new DateTime(2026, 1, 12, 0, 0, 0), 1),
            new Sale("a", new DateTime(2026, 1, 19, 8, 0, 0), 1),
            new Sale("a", new DateTime(2026, 1, 21, 8, 0, 0), 9), // Wednesday: the week of the 19th is not complete
        };

        var series = Assert.Single(WeeklyDemand.FromSales(sales));
        Assert.Equal(["2026-01-12"], series.Periods);
        Assert.Empty(WeeklyDemand.FromSales([]));
    }
}
