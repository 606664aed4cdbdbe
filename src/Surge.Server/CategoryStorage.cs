using System.Text.Json;
using Microsoft.Extensions.Logging;
using Surge.Classification;

namespace Surge.Server;

/// <summary>
/// The kept category suggestions as JSON lines in the data directory (<see cref="FileName"/>), one fsync per append.
/// A line torn by a crash is skipped at start: its SKU keeps its category, only the confidence shown is lost.
/// </summary>
public sealed class CategoryLogFile : ICategorySuggestionLog
{
    public const string FileName = "categories.jsonl";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly string _path;
    private readonly FileStream _log;

    public CategoryLogFile(string dataDirectory)
    {
        _path = Path.Combine(dataDirectory, FileName);
        _log = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public IEnumerable<CategoryLogLine> ReadAll()
    {
        foreach (var line in File.ReadLines(_path))
        {
            CategoryLogLine? entry;
            try
            {
                entry = JsonSerializer.Deserialize<CategoryLogLine>(line, Json);
            }
            catch (JsonException)
            {
                continue;
            }
            if (entry is not null)
            {
                yield return entry;
            }
        }
    }

    public void Append(IReadOnlyList<CategoryLogLine> lines)
    {
        foreach (var line in lines)
        {
            _log.Write(JsonSerializer.SerializeToUtf8Bytes(line, Json));
            _log.WriteByte((byte)'\n');
        }
        _log.Flush(flushToDisk: true);
    }

    public void Dispose() => _log.Dispose();
}

/// <summary>
/// Where the category model comes from: <see cref="CategoryOptions.ModelLoader"/> (tests), else the cluster's shared
/// copy (<see cref="CategoryOptions.SharedModel"/>), else the model file (as `surge classify train` writes it), else
/// trained and calibrated from the training CSV (about a minute) and saved to the model file for the next start — and to the shared copy, so the other silos
/// of a cluster load it instead of training their own.
/// </summary>
public static class CategoryModels
{
    /// <summary>The shared model's name in <see cref="CategoryOptions.SharedModel"/>.</summary>
    public const string SharedName = "category.zip";

    /// <summary>The loader for <paramref name="options"/>, or null when no model is configured (suggestions disabled).</summary>
    public static Func<Task<ICategoryModel>>? Loader(CategoryOptions options, ILogger log)
    {
        if (options.ModelLoader is { } given)
        {
            return async () => new Classifier(await given().ConfigureAwait(false));
        }
        if (options.ModelFile is not { } file || !File.Exists(file) && options.TrainingFile is null && !HasShared(options.SharedModel))
        {
            return null;
        }
        return async () => new Classifier(await LoadOrTrainAsync(file, options.TrainingFile, options.SharedModel, log).ConfigureAwait(false));
    }

    private static bool HasShared(Journal.IJournalStorage? shared) => shared is not null && shared.ListFiles().Contains(SharedName);

    private static async Task<CategoryClassifier> LoadOrTrainAsync(string file, string? trainingFile, Journal.IJournalStorage? shared, ILogger log)
    {
        if (shared is not null && HasShared(shared))
        {
            using var stored = shared.Open(SharedName, create: false);
            var bytes = new byte[stored.Length];
            stored.Read(0, bytes);
            return CategoryClassifier.Load(new MemoryStream(bytes, writable: false));
        }
        if (File.Exists(file))
        {
            await using var stream = File.OpenRead(file);
            var local = CategoryClassifier.Load(stream);
            Publish(shared, await File.ReadAllBytesAsync(file).ConfigureAwait(false));
            return local;
        }
        var rows = ProductData.Read(trainingFile!, out _);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = CalibratedTraining.Train(rows, [], ClassifierSettings.Tuned, DateTimeOffset.UtcNow);
        if (log.IsEnabled(LogLevel.Information))
        {
            log.LogInformation("category model {Version} trained and calibrated (temperature {Temperature:F3}) from {Rows} titles in {Seconds:F1} s",
                model.Card!.Version, model.Temperature, rows.Count, clock.Elapsed.TotalSeconds);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        var temp = file + ".tmp";
        await using (var stream = File.Create(temp))
        {
            model.Save(stream);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, file, overwrite: true);
        Publish(shared, await File.ReadAllBytesAsync(file).ConfigureAwait(false));
        return model;
    }

    /// <summary>Stores the model as the cluster's shared copy (whole or not at all: written aside, synced, renamed).</summary>
    private static void Publish(Journal.IJournalStorage? shared, byte[] model)
    {
        if (shared is null)
        {
            return;
        }
        const string temporary = SharedName + ".tmp";
        using (var target = shared.Open(temporary, create: true))
        {
            target.SetLength(0);
            target.Write(0, model);
            target.Sync();
        }
        shared.Rename(temporary, SharedName);
        shared.SyncDirectory();
    }

    private sealed class Classifier(CategoryClassifier model) : ICategoryModel
    {
        public (string Category, float Confidence) Suggest(string title)
        {
            var suggestion = model.Suggest(title);
            return (suggestion.Category, suggestion.Confidence);
        }
    }
}
