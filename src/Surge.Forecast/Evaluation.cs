using System.Globalization;

namespace Surge.Forecast;

/// <summary>R's figures for one (series, model) from reference_accuracy.csv.</summary>
public sealed record ReferenceRow(string Series, string Model, string Spec, Accuracy Accuracy);

/// <summary>One series evaluated: the holdout split, our accuracy, and R's rows for the same split.</summary>
public sealed record SeriesEvaluation(string Series, int Train, int Test, string Model, Accuracy Accuracy, IReadOnlyList<ReferenceRow> Reference);

/// <summary>
/// The holdout evaluation of the forecasting benchmarks: for every series file in a directory, the last two
/// seasonal cycles are the test part, the rest is train; forecasts are scored with <see cref="Accuracy"/> and
/// shown next to R's results (reference_accuracy.csv) when present.
/// </summary>
public static class Evaluation
{
    public const int HoldoutCycles = 2;
    public const string ReferenceFile = "reference_accuracy.csv";
    private const string ForecastsFile = "reference_forecasts.csv";

    public static IReadOnlyList<SeriesEvaluation> Run(string directory, Func<TimeSeries, int, Forecast> forecaster)
    {
        if (!Directory.Exists(directory))
        {
            throw new ForecastInputException($"no such directory: {directory}");
        }
        var reference = ReadReference(Path.Combine(directory, ReferenceFile));
        var files = Directory.GetFiles(directory, "*.csv")
            .Where(f => Path.GetFileName(f) is not (ReferenceFile or ForecastsFile))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new ForecastInputException($"{directory}: no series files (*.csv)");
        }
        // Series are independent: scored in parallel, results in file order.
        return files.AsParallel().AsOrdered().Select(f => Evaluate(SeriesCsv.Read(f), forecaster, reference)).ToList();
    }

    public static SeriesEvaluation Evaluate(TimeSeries series, Func<TimeSeries, int, Forecast> forecaster, IReadOnlyList<ReferenceRow> reference)
    {
        var test = HoldoutCycles * Math.Max(1, series.SeasonLength);
        if (series.Count < test + 2 * Math.Max(1, series.SeasonLength))
        {
            throw new ForecastInputException($"{series.Name}: {series.Count} observations are too few to hold out {test} and still train on two cycles");
        }
        var train = series.Head(series.Count - test);
        var forecast = forecaster(train, test);
        var accuracy = Accuracy.Measure(train, series.Tail(train.Count).Values, forecast);
        return new SeriesEvaluation(series.Name, train.Count, test, forecast.Model, accuracy,
            reference.Where(r => r.Series == series.Name).ToList());
    }

    public static IReadOnlyList<ReferenceRow> ReadReference(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }
        var rows = new List<ReferenceRow>();
        foreach (var line in File.ReadLines(path).Skip(1).Where(l => l.Length > 0))
        {
            var c = Csv.Split(line);
            if (c.Length != 12)
            {
                throw new ForecastInputException($"{path}: expected 12 columns, found {c.Length} in '{line}'");
            }
            double D(int i) => double.Parse(c[i], NumberStyles.Float, CultureInfo.InvariantCulture);
            rows.Add(new ReferenceRow(c[0], c[5], c[6], new Accuracy(D(7), D(8), D(9), D(10), D(11))));
        }
        return rows;
    }
}
