using Surge.Forecast;

namespace Surge.Forecast.Tests;

public class ModelChoiceTests
{
    [Fact]
    public void Generator_IsDeterministic_AndDrawsEveryProcess_AtBothFrequencies()
    {
        var a = SeriesGenerator.Generate(20, seed: 4);
        var b = SeriesGenerator.Generate(20, seed: 4);
        var c = SeriesGenerator.Generate(20, seed: 5);

        Assert.Equal(a.Select(s => s.Values), b.Select(s => s.Values));
        Assert.NotEqual(a[0].Values, c[0].Values);
        Assert.All(SeriesGenerator.Processes, p => Assert.Contains(a, s => s.Name.Contains(p, StringComparison.Ordinal) && s.SeasonLength == 12));
        Assert.All(SeriesGenerator.Processes, p => Assert.Contains(a, s => s.Name.Contains(p, StringComparison.Ordinal) && s.SeasonLength == 4));
        Assert.All(a, s => Assert.All(s.Values, v => Assert.True(v > 0 && double.IsFinite(v))));
    }

    [Fact]
    public void GeneratedFiles_ReadBackAsTheSameSeries()
    {
        var directory = Path.Combine(Path.GetTempPath(), "surge-gen-" + Guid.NewGuid().ToString("N"));
        try
        {
            var series = SeriesGenerator.Generate(4, seed: 9);
            SeriesGenerator.Write(series, directory);

            foreach (var s in series)
            {
                var read = SeriesCsv.Read(Path.Combine(directory, s.Name + ".csv"));
                Assert.Equal(s.SeasonLength, read.SeasonLength);
                Assert.Equal(s.Values, read.Values);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void CrossValidation_ChoosesTheLowestMeanError_AndRefitsIt_WithIntervalsOnlyWidened()
    {
        var series = SeriesGenerator.Generate(6, seed: 2)[5]; // ets-mnm, quarterly
        var train = series.Head(series.Count - 8);

        var choice = ModelChoice.CrossValidated(train, 8);
        var refit = ModelChoice.Forecaster(choice.Chosen)(train, 8);

        Assert.Equal(ModelChoice.Origins, choice.OriginsUsed);
        Assert.Equal(ModelChoice.Pool.Order(), choice.CvMase.Keys.Order());
        Assert.Equal(choice.CvMase.Values.Min(), choice.CvMase[choice.Chosen]);
        Assert.Equal(refit.Mean, choice.Forecast.Mean);
        Assert.True(choice.Widen80 >= 1 && choice.Widen95 >= 1);
        for (var h = 0; h < 8; h++)
        {
            Assert.True(choice.Forecast.Upper95[h] - choice.Forecast.Lower95[h] >= refit.Upper95[h] - refit.Lower95[h] - 1e-9);
        }
    }

    [Fact]
    public void CrossValidation_OfAnExactlyRepeatingSeason_FallsBack_ForMaseIsUndefinedThere()
    {
        // seasonal naive's in-sample error is 0 at every origin: no origin can be scored
        var cycle = new[] { 5.0, 9, 14, 30, 22, 11, 7, 6, 8, 12, 25, 40 };
        var values = Enumerable.Range(0, 96).Select(t => cycle[t % 12]).ToArray();
        var series = new TimeSeries("repeat", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, 12);

        var choice = ModelChoice.CrossValidated(series, 24);

        Assert.Equal((0, "ets+theta"), (choice.OriginsUsed, choice.Chosen));
        Assert.Equal(24, choice.Forecast.Mean.Length);
    }

    [Fact]
    public void CrossValidation_FallsBackToEtsPlusTheta_WhenNoOriginFits()
    {
        var values = Enumerable.Range(0, 30).Select(t => 100.0 + t % 12).ToArray();
        var series = new TimeSeries("short", values.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), values, 12);

        var choice = ModelChoice.CrossValidated(series, 24);

        Assert.Equal(0, choice.OriginsUsed);
        Assert.Equal("ets+theta", choice.Chosen);
    }

    [Fact]
    public void Widen_ScalesEachIntervalAboutTheMean_AndCombineAveragesTheMeans()
    {
        var a = new Forecast("ETS(A,N,N)", [10, 10], [8, 8], [12, 12], [6, 6], [14, 14]);
        var b = new Forecast("Theta(N)", [20, 20], [19, 19], [21, 21], [18, 18], [22, 22]);

        var combined = ModelChoice.Combine([a, b]);
        var wider = ModelChoice.Widen(combined, 1.5, 2);

        Assert.Equal([15.0, 15], combined.Mean);
        Assert.Equal([13.0, 13], combined.Lower80); // ETS's offsets only: Theta's are too narrow to average in
        Assert.Equal([12.0, 12], wider.Lower80);
        Assert.Equal([23.0, 23], wider.Upper95);
        Assert.Equal(combined.Mean, wider.Mean);
    }
}
