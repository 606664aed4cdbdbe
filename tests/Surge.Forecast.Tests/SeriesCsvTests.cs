using Surge.Forecast;

namespace Surge.Forecast.Tests;

public sealed class SeriesCsvTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("surge-series-").FullName;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name + ".csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void MonthlyQuarterlyAndProphetFormats_AreRead()
    {
        Assert.Equal(12, SeriesCsv.Read(Write("m", "period,value\n2020-11,1\n2020-12,2\n2021-01,3\n")).SeasonLength);
        Assert.Equal(4, SeriesCsv.Read(Write("q", "period,value\n2020-Q4,1\n2021-Q1,2\n")).SeasonLength);
        var p = SeriesCsv.Read(Write("p", "ds,y\n2020-12-01,5.5\n2021-01-01,6\n"));
        Assert.Equal([5.5, 6], p.Values);
    }

    [Theory]
    [InlineData("period,value\n2020-01,1\n2020-03,2\n", "does not follow")]
    [InlineData("period,value\n2020-02,1\n2020-01,2\n", "does not follow")]
    [InlineData("period,value\n2020-01,NaN\n", "finite")]
    [InlineData("period,value\n2020-01,-4\n", "negative")]
    [InlineData("period,value\n2020-01,x\n", "finite")]
    [InlineData("period,value\n2020-13,1\n", "not a period")]
    [InlineData("period,value\n2020-01,1\n2020-Q1,2\n", "mixes")]
    [InlineData("when,what\n2020-01,1\n", "header")]
    [InlineData("period,value\n", "no data")]
    [InlineData("ds,y\n2020-01-15,1\n", "not a period")]
    public void BadInput_IsRefusedWithTheReason(string text, string reason)
    {
        var e = Assert.Throws<ForecastInputException>(() => SeriesCsv.Read(Write("bad", text)));
        Assert.Contains(reason, e.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
