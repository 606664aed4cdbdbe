namespace Surge.Server.Tests;

public sealed class OrderRateForecasterTests
{
    private const long T0 = 1_767_225_600_000; // a whole minute

    [Fact]
    public void Minutes_AreCountedFromTheAcceptedTotal_AndAForecastAppearsAfterTenWholeMinutes()
    {
        var forecaster = new OrderRateForecaster();
        long total = 0;
        var perMinute = new List<double>();
        for (var minute = 0; minute < 12; minute++)
        {
            var orders = 100 + 10 * (minute % 3);
            perMinute.Add(orders);
            for (var second = 0; second < 60; second++)
            {
                total += orders / 60 + (second < orders % 60 ? 1 : 0);
                forecaster.Observe(total, T0 + minute * 60_000L + second * 1_000L + 500);
                if (minute < OrderRateForecaster.MinutesMin)
                {
                    Assert.Null(forecaster.Snapshot());
                }
            }
        }
        forecaster.Observe(total, T0 + 12 * 60_000L + 500); // closes minute 11

        var snapshot = forecaster.Snapshot();
        Assert.NotNull(snapshot);
        var (actual, ahead) = snapshot.Value;
        // The first minute is counted from the first observation (half a second in): its first second is not in it.
        Assert.Equal(perMinute.Skip(1), actual.Skip(1).Select(a => a.Orders));
        Assert.Equal(Enumerable.Range(0, 12).Select(m => T0 + m * 60_000L), actual.Select(a => a.MinuteMs));
        Assert.All(actual.Take(10), a => Assert.Null(a.Forecast)); // no forecast existed for the first ten minutes
        Assert.NotNull(actual[^1].Forecast); // minute 11 was forecast at the end of minute 10
        Assert.Equal(OrderRateForecaster.HorizonMinutes, ahead.Count);
        Assert.Equal(T0 + 12 * 60_000L, ahead[0].MinuteMs);
        Assert.All(ahead, f => Assert.True(f.Lower95 <= f.Mean && f.Mean <= f.Upper95 && f.Mean is > 50 and < 200, $"{f}"));
    }

    [Fact]
    public void AGapWithoutObservations_CountsItsMinutesAsEmpty()
    {
        var forecaster = new OrderRateForecaster();
        forecaster.Observe(0, T0);
        forecaster.Observe(50, T0 + 30_000);
        forecaster.Observe(50, T0 + 11 * 60_000L);
        var (actual, _) = forecaster.Snapshot()!.Value;
        Assert.Equal([50.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], actual.Select(a => a.Orders));
    }
}
