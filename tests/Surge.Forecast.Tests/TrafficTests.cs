using Surge.Forecast;

namespace Surge.Forecast.Tests;

public sealed class TrafficTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-traffic-").FullName;

    [Fact]
    public void HourlyOrders_CountDistinctInvoices_SkipCancellationsAndMalformedRows()
    {
        var path = Path.Combine(_directory, "orders.csv");
        File.WriteAllText(path, """
            InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
            1,A,"MUG, WHITE",1,2011-01-03T09:05:00,1.0,7,UK
            1,B,PLATE,2,2011-01-03T09:05:00,1.0,7,UK
            2,A,MUG,1,2011-01-03T09:59:00,1.0,8,UK
            C3,A,MUG,-1,2011-01-03T10:10:00,1.0,8,UK
            4,A,MUG,1,not a date,1.0,8,UK
            5,A,MUG,1,2011-01-03T11:00:00,1.0,9,UK
            """);

        var hourly = Traffic.ReadHourlyOrders(path);

        Assert.Equal(["2011-01-03T09:00", "2011-01-03T10:00", "2011-01-03T11:00"], hourly.Series.Periods);
        Assert.Equal([2.0, 0, 1], hourly.Series.Values);
        Assert.Equal(1, hourly.MalformedRows);
        Assert.Equal(1, hourly.CancellationRows);
    }

    [Fact]
    public void WeeklyPattern_IsForecastAsTheSameHourOfTheWeek()
    {
        var weeks = 6;
        var values = Enumerable.Range(0, weeks * Traffic.HoursPerWeek).Select(i => (double)(i % Traffic.HoursPerWeek % 24)).ToArray();
        var series = new TimeSeries("t", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, Traffic.HoursPerWeek);

        var forecast = Traffic.Predict(series, 30);

        Assert.Equal(Enumerable.Range(0, 30).Select(h => (double)(h % 24)), forecast.Mean);
        Assert.Equal(forecast.Mean, forecast.Upper95);
    }

    [Fact]
    public void LessThanFourWeeks_IsAClearError()
    {
        var series = new TimeSeries("t", Enumerable.Range(0, 100).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), new double[100], Traffic.HoursPerWeek);
        Assert.Contains("too few", Assert.Throws<ForecastInputException>(() => Traffic.Predict(series, 24)).Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
