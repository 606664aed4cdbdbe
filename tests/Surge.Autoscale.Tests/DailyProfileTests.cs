namespace Surge.Autoscale.Tests;

public sealed class DailyProfileTests
{
    [Fact]
    public void MeanPerSlot_UpperCoversTheSpreadAndANeighbouringPeak()
    {
        double[][] days = [[10, 10, 100, 10], [14, 10, 120, 10], [12, 10, 110, 10]];
        var profile = DailyProfile.Fit(days, z: 2, window: 1);
        Assert.Equal([12, 10, 110, 10], profile.Mean);
        var spreadAtPeak = 110 + 2 * Math.Max(10, Math.Sqrt(110)); // sample sd 10 vs Poisson √110 ≈ 10.5
        Assert.Equal(spreadAtPeak, profile.Upper[2], 9);
        Assert.Equal(spreadAtPeak, profile.Upper[1], 9); // one slot early still sees the peak
        Assert.Equal(spreadAtPeak, profile.Upper[3], 9);
        Assert.True(profile.Upper[0] >= 12 + 2 * Math.Sqrt(12)); // never below Poisson noise
    }

    [Fact]
    public void RefusesTooLittleOrRaggedHistory()
    {
        Assert.Throws<ArgumentException>(() => DailyProfile.Fit([[1.0, 2.0]]));
        Assert.Throws<ArgumentException>(() => DailyProfile.Fit([[1.0, 2.0], [1.0]]));
    }
}
