using System.Globalization;

namespace Surge.Forecast.Tests;

/// <summary>The SKU-level scoring: M5's scales and weights worked by hand on tiny series, and its behaviour on
/// generated demand (an oracle scores zero; a model that knows the level beats one that does not).</summary>
public sealed class SkuEvaluationTests
{
    private static TimeSeries Weekly(string name, params double[] values) =>
        new(name, Enumerable.Range(0, values.Length).Select(i => new DateOnly(2025, 1, 6).AddDays(7 * i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList(),
            values, 52);

    /// <summary>A forecaster that returns a fixed value with no spread.</summary>
    private static SkuModel Constant(string name, double value) => new(name, (_, h) =>
    {
        var v = Enumerable.Repeat(value, h).ToArray();
        return new Forecast(name, v, v, v, v, v);
    });

    [Fact]
    public void Scales_StartAtTheFirstWeekWithDemand_AsInM5()
    {
        // From the first non-zero week: differences 2, -1 → mean square 2.5, mean absolute 1.5; the leading zeros do not count.
        var (squared, absolute) = SkuEvaluation.Scales([0, 0, 1, 3, 2]);
        Assert.Equal(2.5, squared, 12);
        Assert.Equal(1.5, absolute, 12);
        Assert.Equal((0.0, 0.0), SkuEvaluation.Scales([0, 0, 0]));
    }

    [Fact]
    public void Rmsse_Mase_AndWeights_MatchTheirDefinitions_OnATinyCase()
    {
        // Training: 13 weeks alternating 1, 3 (differences ±2: mean square 4, mean absolute 2). Held out: 4, 4.
        var values = Enumerable.Range(0, 13).Select(i => i % 2 == 0 ? 1.0 : 3.0).Concat([4.0, 4.0]).ToArray();
        var other = Enumerable.Range(0, 15).Select(i => i % 3 == 0 ? 0.0 : 2.0).ToArray();
        var (holdouts, skipped) = SkuEvaluation.Prepare([Weekly("a", values), Weekly("b", other)], sku => sku == "a" ? 10 : 5, holdout: 2);
        Assert.Equal(0, skipped);
        var a = holdouts.Single(h => h.Sku == "a");
        var b = holdouts.Single(h => h.Sku == "b");
        // Revenue over the last 2 training weeks: a sold 3 + 1 = 4 units at 10; b sold 2 + 0 = 2 units at 5 (weeks 11, 12: 2, 0).
        Assert.Equal(40.0 / 50.0, a.Weight, 12);
        Assert.Equal(10.0 / 50.0, b.Weight, 12);

        var score = SkuEvaluation.Score([a], Constant("three", 3));
        var sku = Assert.Single(score.PerSku);
        Assert.Equal(Math.Sqrt(1.0 / 4.0), sku.Rmsse, 12); // errors 1, 1: mean square 1, scale 4
        Assert.Equal(1.0 / 2.0, sku.Mase, 12);             // mean absolute error 1, scale 2
        Assert.Equal(0, sku.Inside95);                       // a zero-width interval at 3 holds neither 4
    }

    [Fact]
    public void Pinball_PenalisesUnderAndOverForecastsByTheQuantile()
    {
        Assert.Equal(0.9 * 2, SkuEvaluation.Pinball(0.9, actual: 5, predicted: 3), 12);
        Assert.Equal(0.1 * 2, SkuEvaluation.Pinball(0.9, actual: 3, predicted: 5), 12);
        Assert.Equal(0, SkuEvaluation.Pinball(0.5, 4, 4));
    }

    [Fact]
    public void TooShort_Silent_OrConstant_SkusAreSkipped_AndCounted()
    {
        var (holdouts, skipped) = SkuEvaluation.Prepare(
        [
            Weekly("short", [1, 2, 3, 4, 5]),
            Weekly("silent", new double[20]),
            Weekly("flat", Enumerable.Repeat(4.0, 20).ToArray()),
            Weekly("ok", Enumerable.Range(0, 20).Select(i => (double)(i % 4)).ToArray()),
        ], _ => 1, holdout: 4);
        Assert.Equal("ok", Assert.Single(holdouts).Sku);
        Assert.Equal(3, skipped);
        Assert.Throws<ForecastInputException>(() => SkuEvaluation.Prepare([], _ => 1, holdout: 0));
    }

    [Fact]
    public void OnGeneratedPoissonDemand_AnOracleScoresZero_AndTheTrueLevelBeatsZero_AndCoversItsIntervals()
    {
        // 200 SKUs of Poisson demand at levels 0.5–20 a week, 40 weeks; the last 8 held out. Seeded: the same every run.
        var random = new Random(7);
        var series = Enumerable.Range(0, 200).Select(s =>
        {
            var level = 0.5 + 19.5 * random.NextDouble();
            return Weekly($"sku{s}", Enumerable.Range(0, 40).Select(_ => (double)Draw.Poisson(random, level)).ToArray());
        }).ToList();
        var levels = series.ToDictionary(s => s.Name, s => s.Values.Take(32).Average());
        var (holdouts, _) = SkuEvaluation.Prepare(series, _ => 1, holdout: 8);
        Assert.True(holdouts.Count > 150);
        var tests = holdouts.ToDictionary(h => h.Sku, h => h.Test);

        var oracle = SkuEvaluation.Score(holdouts, new SkuModel("oracle", (train, h) =>
        {
            var v = tests[train.Name];
            return new Forecast("oracle", v, v, v, v, v);
        }));
        Assert.Equal(0, oracle.Wrmsse, 12);
        Assert.Equal(1.0, oracle.Coverage95, 12);

        // The training mean with a normal spread of √mean (Poisson): close to calibrated, far better than forecasting 0.
        var level = SkuEvaluation.Score(holdouts, new SkuModel("level", (train, h) =>
        {
            var m = levels[train.Name];
            var sd = Math.Sqrt(m);
            double[] Fill(double z) => Enumerable.Repeat(m + z * sd, h).ToArray();
            return new Forecast("level", Fill(0), Fill(-1.2816), Fill(1.2816), Fill(-1.96), Fill(1.96));
        }));
        var zero = SkuEvaluation.Score(holdouts, Constant("zero", 0));
        Assert.True(level.Wrmsse < 0.8 * zero.Wrmsse, $"level {level.Wrmsse:F3} vs zero {zero.Wrmsse:F3}");
        Assert.True(level.Wspl < zero.Wspl);
        Assert.InRange(level.Coverage95, 0.88, 1.0);
        Assert.InRange(level.Coverage50, 0.35, 0.70);
    }

    [Fact]
    public void AModelThatFails_IsScoredAsForecastingZero_AndCounted()
    {
        var (holdouts, _) = SkuEvaluation.Prepare([Weekly("a", Enumerable.Range(0, 20).Select(i => (double)(1 + i % 3)).ToArray())], _ => 1, 4);
        var failing = SkuEvaluation.Score(holdouts, new SkuModel("broken", (s, _) => throw new ForecastInputException($"{s.Name}: no")));
        var zero = SkuEvaluation.Score(holdouts, Constant("zero", 0));
        Assert.Equal(1, failing.Failures);
        Assert.Equal(zero.Wrmsse, failing.Wrmsse, 12);
    }

    [Fact]
    public void WeeklySeasonalNaive_RepeatsTheLastWeek_WhenTrainingIsShorterThanAYear()
    {
        var forecast = SkuEvaluation.SeasonalNaiveWeekly(Weekly("a", [1, 2, 3, 4, 5, 6]), 3);
        Assert.Equal([6.0, 6.0, 6.0], forecast.Mean);
    }
}

/// <summary>The global model on demand generated with a pattern every SKU shares (a promotion every fourth week that
/// doubles demand): learned across SKUs, it beats a per-SKU model that cannot see the pattern in one short series.</summary>
public sealed class GlobalDemandModelTests
{
    private static List<TimeSeries> Generated(int skus, int weeks, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, skus).Select(s =>
        {
            var level = 2 + 18 * random.NextDouble();
            var values = Enumerable.Range(0, weeks).Select(t => (double)Draw.Poisson(random, level * (t % 4 == 3 ? 2.0 : 1.0))).ToArray();
            return new TimeSeries($"sku{s}", [.. Enumerable.Range(0, weeks).Select(t => new DateOnly(2025, 1, 6).AddDays(7 * t).ToString("yyyy-MM-dd",
                System.Globalization.CultureInfo.InvariantCulture))], values, 52);
        })];
    }

    [Fact]
    public void LearnsAPatternSharedAcrossSkus_AndBeatsTheLastWeek_WithIntervalsNearTheirLevel()
    {
        var (holdouts, _) = SkuEvaluation.Prepare(Generated(300, 40, 3), _ => 1, holdout: 8);
        var global = GlobalDemandModel.Fit([.. holdouts.Select(h => h.Train)], _ => 1, new GlobalModelOptions { HorizonWeeks = 8 });
        Assert.Equal(holdouts.Count, global.Skus);
        var scoreGlobal = SkuEvaluation.Score(holdouts, new SkuModel("global", (train, h) => global.Forecast(train.Name, h)));
        var scoreNaive = SkuEvaluation.Score(holdouts, new SkuModel("snaive", SkuEvaluation.SeasonalNaiveWeekly));
        Assert.True(scoreGlobal.Wrmsse < 0.8 * scoreNaive.Wrmsse, $"global {scoreGlobal.Wrmsse:F3} vs naive {scoreNaive.Wrmsse:F3}");
        Assert.InRange(scoreGlobal.Coverage95, 0.85, 1.0);
        Assert.Equal(0, scoreGlobal.Failures);

        // The same data and seed give the same forecasts; a SKU it never saw is refused, not guessed.
        var again = GlobalDemandModel.Fit([.. holdouts.Select(h => h.Train)], _ => 1, new GlobalModelOptions { HorizonWeeks = 8 });
        Assert.Equal(global.Forecast("sku0", 8).Mean, again.Forecast("sku0", 8).Mean);
        Assert.Throws<ForecastInputException>(() => global.Forecast("unknown", 8));
    }
}

/// <summary>Random draws for generated demand.</summary>
internal static class Draw
{
    /// <summary>A Poisson count with mean <paramref name="lambda"/> (Knuth's method; fine for the small means here).</summary>
    public static int Poisson(Random random, double lambda)
    {
        var limit = Math.Exp(-lambda);
        var (k, p) = (0, 1.0);
        do
        {
            k++;
            p *= random.NextDouble();
        }
        while (p > limit);
        return k - 1;
    }
}
