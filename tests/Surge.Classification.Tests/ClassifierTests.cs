using Surge.Classification;

namespace Surge.Classification.Tests;

public class ClassifierScoresTests
{
    [Fact]
    public void Scores_CountPrecisionRecallAndMacroF1ByCategory()
    {
        string[] truth = ["a", "a", "a", "b", "b", "c"];
        string[] predicted = ["a", "a", "b", "b", "c", "c"];

        var scores = ClassifierScores.Of(truth, predicted);

        // a: tp 2, fp 0, fn 1 → P 1, R 2/3; b: tp 1, fp 1, fn 1 → P 1/2, R 1/2; c: tp 1, fp 1, fn 0 → P 1/2, R 1.
        var a = scores.Categories.Single(c => c.Category == "a");
        Assert.Equal((3, 1.0, 2 / 3.0), (a.Support, a.Precision, a.Recall));
        Assert.Equal(0.8, a.F1, 12);
        Assert.Equal(0.5, scores.Categories.Single(c => c.Category == "b").F1, 12);
        Assert.Equal(2 / 3.0, scores.Categories.Single(c => c.Category == "c").F1, 12);
        Assert.Equal((0.8 + 0.5 + 2 / 3.0) / 3, scores.MacroF1, 12);
        Assert.Equal(4 / 6.0, scores.Accuracy, 12);
    }

    [Fact]
    public void Scores_OfMismatchedLengths_AreRefused() =>
        Assert.Throws<ArgumentException>(() => ClassifierScores.Of(["a", "b"], ["a"]));

    [Fact]
    public void Folds_KeepEveryClusterOnOneSide()
    {
        var folds = Enumerable.Range(0, 2000).Select(i => CrossValidation.FoldOf(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 5)).ToArray();

        Assert.All(folds, f => Assert.InRange(f, 0, 4));
        Assert.Equal(5, folds.Distinct().Count());
        Assert.All(folds.GroupBy(f => f), g => Assert.InRange(g.Count(), 300, 500)); // roughly a fifth each
        Assert.Equal(CrossValidation.FoldOf("1234", 5), CrossValidation.FoldOf("1234", 5));
    }
}

public class ProductDataTests
{
    private static string Write(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"surge-products-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, text);
        return path;
    }

    private const string Header = "Product ID,Product Title,Merchant ID,Cluster ID,Cluster Label,Category ID,Category Label\n";

    [Fact]
    public void Read_TakesQuotedFieldsWithCommasAndQuotes_AndSkipsRowsWithoutTitle()
    {
        var path = Write(Header
            + "1,\"lg 55\"\" tv, 4k\",3,7,\"LG 55\"\" TV\",2614,TVs\n"
            + "2,,3,7,LG,2614,TVs\n"
            + "3,bosch fridge,4,8,Bosch,2623,Fridges\n");
        try
        {
            var rows = ProductData.Read(path, out var skipped);

            Assert.Equal(1, skipped);
            Assert.Equal(["lg 55\" tv, 4k", "bosch fridge"], rows.Select(r => r.Title));
            Assert.Equal(["TVs", "Fridges"], rows.Select(r => r.Category));
            Assert.Equal(["7", "8"], rows.Select(r => r.Cluster));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_OfAnotherFormat_SaysWhatItExpected()
    {
        var path = Write("InvoiceNo,StockCode,Description\n1,2,3\n");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => ProductData.Read(path, out _));
            Assert.Contains("PriceRunner header", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_OfAMissingOrEmptyFile_SaysSo()
    {
        Assert.Contains("no such file", Assert.Throws<InvalidDataException>(() => ProductData.Read("/nonexistent/products.csv", out _)).Message);
        var path = Write("");
        try
        {
            Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => ProductData.Read(path, out _)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class CategoryClassifierTests
{
    private static string SharedData(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data", relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"shared/data/{relative} not found above the test directory");
    }

    [Fact]
    public void Suggest_NamesTheCategoryOfTitlesLikeItsTrainingTitles_WithAConfidence_AndASavedModelSuggestsTheSame()
    {
        var rows = new List<ProductRow>();
        for (var i = 0; i < 40; i++)
        {
            rows.Add(new ProductRow { Title = $"samsung galaxy s{i} 64gb smartphone", Category = "Mobile Phones", Cluster = $"p{i}" });
            rows.Add(new ProductRow { Title = $"bosch kgn{i} fridge freezer white", Category = "Fridge Freezers", Cluster = $"f{i}" });
        }
        var model = CategoryClassifier.Train(rows, ClassifierSettings.Tuned);

        var phone = model.Suggest("samsung galaxy s99 128gb smartphone");
        var fridge = model.Suggest("bosch kgn77 fridge freezer stainless");

        Assert.Equal("Mobile Phones", phone.Category);
        Assert.Equal("Fridge Freezers", fridge.Category);
        Assert.InRange(phone.Confidence, 0.5f, 1f);
        Assert.Equal(["Fridge Freezers", "Mobile Phones"], model.Categories.Order());

        using var saved = new MemoryStream();
        model.Save(saved);
        saved.Position = 0;
        var loaded = CategoryClassifier.Load(saved);
        Assert.Equal(phone, loaded.Suggest("samsung galaxy s99 128gb smartphone"));
        Assert.Equal(model.Categories, loaded.Categories);
    }

    [Fact]
    public void TunedModel_OnTheHeldOutClustersOfThePriceRunnerData_ScoresAMacroF1Above095()
    {
        var train = ProductData.Read(SharedData("pricerunner/pricerunner_train.csv"), out _);
        var test = ProductData.Read(SharedData("pricerunner/pricerunner_test.csv"), out _);
        Assert.Empty(train.Select(r => r.Cluster).Intersect(test.Select(r => r.Cluster))); // the split is by cluster

        var model = CategoryClassifier.Train(train, ClassifierSettings.Tuned);
        var scores = ClassifierScores.Of(test.Select(r => r.Category).ToList(), model.PredictAll(test));

        Assert.Equal(10, scores.Categories.Count);
        Assert.InRange(scores.MacroF1, 0.95, 1.0);
    }
}
