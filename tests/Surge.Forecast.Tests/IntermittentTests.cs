using Surge.Forecast;

namespace Surge.Forecast.Tests;

public class IntermittentTests
{
    private static TimeSeries Series(params double[] values) =>
        new("sku", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, 1);

    [Fact]
    public void Croston_SmoothsSizesAndIntervalsSeparately()
    {
        // Demands 4 at t=1, 6 at t=4, 2 at t=5. Size: 4 → 4.2 → 3.98; interval: 2 → 2.1 → 1.99.
        var f = Intermittent.Predict(Series(0, 4, 0, 0, 6, 2), 3, IntermittentMethod.Croston);

        Assert.Equal(3.98 / 1.99, f.Mean[0], 1e-12);
        Assert.All(f.Mean, m => Assert.Equal(f.Mean[0], m));
        Assert.All(f.Lower95, b => Assert.InRange(b, 0, f.Mean[0]));
        Assert.All(f.Upper95, b => Assert.True(b > f.Upper80[0] && f.Upper80[0] > f.Mean[0]));
    }

    [Fact]
    public void Sba_IsCrostonWithoutItsUpwardBias()
    {
        var y = Series(0, 4, 0, 0, 6, 2);
        var croston = Intermittent.Predict(y, 1, IntermittentMethod.Croston).Mean[0];

        Assert.Equal(croston * (1 - Intermittent.DefaultAlpha / 2), Intermittent.Predict(y, 1, IntermittentMethod.Sba).Mean[0], 1e-12);
    }

    [Fact]
    public void Tsb_DecaysWhenASkuStopsSelling_CrostonDoesNot()
    {
        var selling = Series(3, 0, 3, 0, 3, 0, 3, 0);
        var stopped = Series(3, 0, 3, 0, 3, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0);

        Assert.True(Intermittent.Predict(stopped, 1, IntermittentMethod.Tsb).Mean[0] < Intermittent.Predict(selling, 1, IntermittentMethod.Tsb).Mean[0]);
        Assert.Equal(Intermittent.Predict(selling, 1, IntermittentMethod.Croston).Mean[0],
            Intermittent.Predict(stopped, 1, IntermittentMethod.Croston).Mean[0], 1e-12);
    }

    [Fact]
    public void AutomaticChoice_UsesSbaForIntermittentAndEtsForSmoothDemand()
    {
        var intermittent = Series(0, 0, 5, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 6, 0, 0, 2, 0, 0, 0);
        var smooth = Series(Enumerable.Range(0, 30).Select(i => 20.0 + i % 3).ToArray());

        Assert.Equal("sba", AutoForecast.Predict(intermittent, 4).Model);
        Assert.Matches(@"^ETS\(.*\)\+Theta\([NAM]\)$", AutoForecast.Predict(smooth, 4).Model);
    }

    [Fact]
    public void MethodsWithoutIntervals_HaveNoCoverage()
    {
        var nan = new[] { double.NaN, double.NaN };
        var forecast = new Forecast("points only", [1, 1], nan, nan, nan, nan);

        Assert.True(double.IsNaN(Accuracy.Measure(Series(1, 2, 3, 4), [1, 1], forecast).Coverage95));
    }

    [Theory]
    [InlineData(IntermittentMethod.Croston)]
    [InlineData(IntermittentMethod.Tsb)]
    public void FewerThanTwoDemands_IsAClearError(IntermittentMethod method)
    {
        var e = Assert.Throws<ForecastInputException>(() => Intermittent.Predict(Series(0, 0, 5, 0), 2, method));
        Assert.Contains("too few", e.Message);
    }
}
