using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Surge.Classification;

namespace Surge.Server.Tests;

/// <summary>SKUs created without a category get the classifier's suggestion, its confidence and a review flag.</summary>
public sealed class CategoryTests
{
    private static readonly Lazy<CategoryClassifier> Model = new(() =>
    {
        var rows = new List<ProductRow>();
        for (var i = 0; i < 40; i++)
        {
            rows.Add(new ProductRow { Title = $"samsung galaxy s{i} 64gb smartphone", Category = "Mobile Phones", Cluster = $"p{i}" });
            rows.Add(new ProductRow { Title = $"bosch kgn{i} fridge freezer white", Category = "Fridge Freezers", Cluster = $"f{i}" });
        }
        return CategoryClassifier.Train(rows, ClassifierSettings.Tuned);
    });

    [Fact]
    public async Task AClusterKeepsOneModel_ASiloWithoutFileOrTrainingDataLoadsTheSharedOne()
    {
        var root = Directory.CreateTempSubdirectory("surge-category-share-").FullName;
        try
        {
            var shared = new Journal.DirectoryStorage(Path.Combine(root, "shared"));
            var firstFile = Path.Combine(root, "silo-1", "category.zip");
            Directory.CreateDirectory(Path.GetDirectoryName(firstFile)!);
            await using (var stream = File.Create(firstFile))
            {
                Model.Value.Save(stream);
            }
            var log = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
            var first = CategoryModels.Loader(new CategoryOptions { ModelFile = firstFile, SharedModel = shared }, log)!;
            var expected = (await first()).Suggest("samsung galaxy s3 64gb smartphone");

            // The second silo has neither the file nor training data: without the shared copy it would have no model.
            var secondOptions = new CategoryOptions { ModelFile = Path.Combine(root, "silo-2", "category.zip") };
            Assert.Null(CategoryModels.Loader(secondOptions, log));
            var second = CategoryModels.Loader(secondOptions with { SharedModel = shared }, log);
            Assert.NotNull(second);
            Assert.Equal(expected, (await second()).Suggest("samsung galaxy s3 64gb smartphone"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static object Sku(string sku, string title, string? category = null) =>
        new { sku, title, category, price_minor = 10_000, currency = "KRW", weight_g = 500, temperature = "ambient" };

    [Fact]
    public async Task SkuWithoutCategory_GetsTheSuggestion_AnUnclearTitleIsFlagged_AndTheSellersOwnCategoryReplacesIt()
    {
        var model = Model.Value;
        await using var server = await TestServer.StartAsync(o => o with { Categories = new() { ModelLoader = () => Task.FromResult(model), ReviewBelow = 0.9f } });
        await server.Server.State.Categories.Loaded;
        var (seller, _) = await server.SellerWithStockAsync("seed", units: 0);

        var phone = await seller.PostAsync("/v1/skus", Sku("phone-1", "samsung galaxy s99 128gb smartphone"));
        var vague = await seller.PostAsync("/v1/skus", Sku("bench-1", "wooden garden bench"));
        var given = await seller.PostAsync("/v1/skus", Sku("tv-1", "lg oled 55", category: "TVs"));

        Assert.Equal(HttpStatusCode.Created, phone.Status);
        Assert.Equal("Mobile Phones", phone.Json!["category"]!.GetValue<string>());
        var suggestion = phone.Json!["category_suggestion"]!;
        Assert.Equal("Mobile Phones", suggestion["category"]!.GetValue<string>());
        Assert.InRange(suggestion["confidence"]!.GetValue<float>(), 0.9f, 1f);
        Assert.False(suggestion["needs_review"]!.GetValue<bool>());
        Assert.True(vague.Json!["category_suggestion"]!["needs_review"]!.GetValue<bool>(), vague.Body);
        Assert.InRange(vague.Json!["category_suggestion"]!["confidence"]!.GetValue<float>(), 0f, 0.9f);
        Assert.Equal("TVs", given.Json!["category"]!.GetValue<string>());
        Assert.Null(given.Json!["category_suggestion"]);

        var reviews = (await seller.GetAsync("/v1/category-reviews")).Json!;
        Assert.Equal("ready", reviews["classifier"]!.GetValue<string>());
        var flagged = reviews["skus"]!.AsArray().Select(s => s!["sku"]!.GetValue<string>()).ToList();
        Assert.Contains("bench-1", flagged);
        Assert.DoesNotContain("phone-1", flagged);
        Assert.DoesNotContain("tv-1", flagged);

        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync("/v1/skus", Sku("bench-1", "wooden garden bench", category: "Garden"))).Status);
        Assert.DoesNotContain("bench-1", (await seller.GetAsync("/v1/category-reviews")).Json!["skus"]!.AsArray().Select(s => s!["sku"]!.GetValue<string>()));

        await server.RestartAsync();
        seller = server.Client(seller.Key!);
        var after = (await seller.GetAsync("/v1/skus/phone-1")).Json!;
        Assert.Equal(("Mobile Phones", false), (after["category_suggestion"]!["category"]!.GetValue<string>(), after["category_suggestion"]!["needs_review"]!.GetValue<bool>()));
        Assert.Null((await seller.GetAsync("/v1/skus/bench-1")).Json!["category_suggestion"]);
    }

    [Fact]
    public async Task SkusCreatedWhileTheModelLoads_ArePending_AndGetTheirCategoryOnceItIsReady()
    {
        var ready = new TaskCompletionSource<CategoryClassifier>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(o => o with { Categories = new() { ModelLoader = () => ready.Task } });
        var (seller, _) = await server.SellerWithStockAsync("seed", units: 0);

        var created = await seller.PostAsync("/v1/skus", Sku("fridge-1", "bosch kgn99 fridge freezer stainless"));
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("", created.Json!["category"]!.GetValue<string>());
        Assert.True(created.Json!["category_suggestion"]!["pending"]!.GetValue<bool>());
        var reviews = (await seller.GetAsync("/v1/category-reviews")).Json!;
        Assert.Equal(("loading", "fridge-1"), (reviews["classifier"]!.GetValue<string>(), reviews["skus"]![0]!["sku"]!.GetValue<string>()));

        ready.SetResult(Model.Value);

        var sku = await Poll.UntilAsync(async () => (await seller.GetAsync("/v1/skus/fridge-1")).Json!,
            s => s["category"]!.GetValue<string>().Length > 0 && !s["category_suggestion"]!["pending"]!.GetValue<bool>(),
            "the pending SKU got its category and its suggestion is recorded");
        Assert.Equal("Fridge Freezers", sku["category"]!.GetValue<string>());
        Assert.False(sku["category_suggestion"]!["pending"]!.GetValue<bool>());
        Assert.Equal(("bosch kgn99 fridge freezer stainless", 500), (sku["title"]!.GetValue<string>(), sku["weight_g"]!.GetValue<int>()));
    }
}
