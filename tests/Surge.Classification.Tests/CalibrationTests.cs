using Surge.Classification;

namespace Surge.Classification.Tests;

public class CalibrationTests
{
    [Fact]
    public void Scale_AtTemperatureOne_KeepsTheProbabilities_AndAboveOneSoftensThem()
    {
        float[] p = [0.7f, 0.2f, 0.1f];

        var same = Calibration.Scale(p, 1);
        var softer = Calibration.Scale(p, 2);

        Assert.Equal(0.7, same[0], 6);
        Assert.Equal(1, softer.Sum(), 12);
        // p^(1/2) renormalised: √0.7 / (√0.7 + √0.2 + √0.1)
        Assert.Equal(Math.Sqrt(0.7) / (Math.Sqrt(0.7) + Math.Sqrt(0.2) + Math.Sqrt(0.1)), softer[0], 6);
        Assert.True(softer[0] < same[0] && softer[2] > same[2]);
    }

    [Fact]
    public void FitTemperature_SoftensAnOverconfidentModel_AndSharpensAnUnderconfidentOne()
    {
        // Two categories; the model always says 0.99 for its pick, but it is right only 80 % of the time.
        var over = Enumerable.Range(0, 100).Select(_ => Pair(0.99)).ToList();
        var truth = Enumerable.Range(0, 100).Select(i => i < 80 ? 0 : 1).ToList();
        // It says 0.6 and is right 95 % of the time.
        var under = Enumerable.Range(0, 100).Select(_ => Pair(0.6)).ToList();
        var truthUnder = Enumerable.Range(0, 100).Select(i => i < 95 ? 0 : 1).ToList();

        var soften = Calibration.FitTemperature(over, truth);
        var sharpen = Calibration.FitTemperature(under, truthUnder);

        Assert.True(soften > 1, $"T = {soften}");
        Assert.True(sharpen < 1, $"T = {sharpen}");
        // the fitted temperature makes the stated confidence the observed accuracy (the likelihood optimum here)
        Assert.Equal(0.80, Calibration.Scale([0.99f, 0.01f], soften)[0], 3);
        Assert.Equal(0.95, Calibration.Scale([0.6f, 0.4f], sharpen)[0], 3);
    }

    [Fact]
    public void Report_BinsByConfidence_AndTheEceIsTheWeightedGap()
    {
        // 4 suggestions at 0.95 (3 right) and 2 at 0.55 (1 right)
        var p = new List<double[]> { Pair(0.95), Pair(0.95), Pair(0.95), Pair(0.95), Pair(0.55), Pair(0.55) };
        int[] truth = [0, 0, 0, 1, 0, 1];

        var report = Calibration.Report(p, truth, reviewThreshold: 0.9);

        Assert.Equal(2, report.Bins.Count);
        Assert.Equal((2, 0.5), (report.Bins[0].Count, report.Bins[0].Accuracy));
        Assert.Equal((4, 0.75), (report.Bins[1].Count, report.Bins[1].Accuracy));
        Assert.Equal(2 / 6.0 * 0.05 + 4 / 6.0 * 0.2, report.Ece, 12);
        Assert.Equal(4 / 6.0, report.ShareAtOrAbove, 12);
        Assert.Equal(0.25, report.ErrorRateAtOrAbove, 12);
    }

    [Fact]
    public void DecisionOffsets_LiftACategoryTheModelUnderPredicts_AndRaiseMacroF1OnTheRowsTheyWereFittedOn()
    {
        // category 1 is right whenever its probability reaches 0.4, but argmax only picks it above 0.5
        var p = new List<double[]>();
        var truth = new List<int>();
        for (var i = 0; i < 100; i++)
        {
            var second = 0.3 + 0.4 * i / 100.0; // 0.30 .. 0.70
            p.Add([1 - second, second]);
            truth.Add(second >= 0.4 ? 1 : 0);
        }

        var offsets = DecisionOffsets.Fit(p, truth, 2);

        Assert.True(offsets[1] - offsets[0] > 0, $"offsets {offsets[0]}, {offsets[1]}");
        Assert.True(DecisionOffsets.MacroF1(p, truth, offsets, 2) > DecisionOffsets.MacroF1(p, truth, [0.0, 0.0], 2));
        Assert.Equal(1, DecisionOffsets.Decide(Pair(0.55), offsets)); // 0.45 for category 1 now wins
    }

    [Fact]
    public void Report_OfMismatchedLengths_IsRefused() =>
        Assert.Throws<ArgumentException>(() => Calibration.Report([Pair(1)], [0, 0], 0.9));

    /// <summary>Two categories: the first at <paramref name="first"/>, the second the rest.</summary>
    private static double[] Pair(double first) => [first, 1 - first];

    [Fact]
    public void CalibratedTraining_KeepsACard_ThatSurvivesSaveAndLoad_AndTheVersionFollowsTheData()
    {
        var rows = new List<ProductRow>();
        for (var i = 0; i < 60; i++)
        {
            rows.Add(new ProductRow { Title = $"samsung galaxy s{i} 64gb smartphone", Category = "Mobile Phones", Cluster = $"p{i}" });
            rows.Add(new ProductRow { Title = $"bosch kgn{i} fridge freezer white", Category = "Fridge Freezers", Cluster = $"f{i}" });
        }
        var feedback = new List<ProductRow> { new() { Title = "nokia 3310 retro phone", Category = "Mobile Phones", Cluster = "seller:1:n" } };

        var model = CalibratedTraining.Train(rows, feedback, ClassifierSettings.Tuned, new DateTimeOffset(2026, 12, 7, 0, 0, 0, TimeSpan.Zero));
        using var saved = new MemoryStream();
        model.Save(saved);
        saved.Position = 0;
        var loaded = CategoryClassifier.Load(saved);

        var card = loaded.Card!;
        Assert.Equal(model.Card, card);
        Assert.Equal("2026-12-07T00:00:00Z", card.TrainedAt);
        Assert.Equal((120, 1), (card.TrainingRows, card.FeedbackRows));
        Assert.True(card.CalibrationRows > 0 && card.CalibrationRows < 120);
        Assert.Equal(model.Temperature, loaded.Temperature);
        Assert.Equal(model.Suggest("samsung galaxy s99 smartphone"), loaded.Suggest("samsung galaxy s99 smartphone"));
        Assert.Equal(card.Version, CalibratedTraining.Version(ClassifierSettings.Tuned, rows.Concat(feedback), card.Temperature));
        Assert.NotEqual(card.Version, CalibratedTraining.Version(ClassifierSettings.Tuned, rows, card.Temperature));
    }

    [Fact]
    public void SellerLabels_AreTheClearedLinesWithATitleAndLabel_CountedAsAcceptedOrReplaced()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path,
            [
                """{"seller_id":1,"sku":"a","category":"TVs","confidence":0.97,"needs_review":false,"pending":false,"cleared":false}""",
                """{"seller_id":1,"sku":"a","category":"TVs","confidence":0,"needs_review":false,"pending":false,"cleared":true,"title":"LG 55in OLED","label":"TVs"}""",
                """{"seller_id":2,"sku":"b","category":"Fridges","confidence":0,"needs_review":false,"pending":false,"cleared":true,"title":"Bosch tall larder","label":"Freezers"}""",
                """{"seller_id":2,"sku":"c","category":null,"confidence":0,"needs_review":false,"pending":false,"cleared":true}""",
                """{"seller_id":3,"sku":"d","categ""",
            ]);

            var labels = SellerLabels.Read(path);

            Assert.Equal(["LG 55in OLED", "Bosch tall larder"], labels.Rows.Select(r => r.Title));
            Assert.Equal(["TVs", "Freezers"], labels.Rows.Select(r => r.Category));
            Assert.Equal((1, 1, 1), (labels.Accepted, labels.Replaced, labels.Skipped));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SellerLabels_FromAMissingFile_AreRefusedInPlainWords()
    {
        var e = Assert.Throws<InvalidDataException>(() => SellerLabels.Read("/nonexistent/categories.jsonl"));
        Assert.Contains("no such file", e.Message, StringComparison.Ordinal);
    }
}
