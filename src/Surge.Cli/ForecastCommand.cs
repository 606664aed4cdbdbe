using System.CommandLine;
using Spectre.Console;
using Surge.Forecast;

namespace Surge.Cli;

internal static class ForecastCommand
{
    public static Command Create()
    {
        var forecast = new Command("forecast", "Demand forecasting.");
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Directory of series files (period,value or ds,y) and optionally reference_accuracy.csv.",
            Required = true,
        };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file." };
        var model = new Option<string>("--model")
        {
            Description = "ets (automatic ETS by AICc) or snaive (seasonal naive).",
            DefaultValueFactory = _ => "ets",
        };
        model.AcceptOnlyFromAmong("ets", "snaive");
        var eval = new Command("eval", "Hold out the last two seasonal cycles of every series and score the forecasts (MASE, RMSE, sMAPE, "
            + "80/95 % interval coverage) next to R's reference figures.")
        {
            data, json, model,
        };
        eval.SetAction(parse =>
        {
            IReadOnlyList<SeriesEvaluation> results;
            try
            {
                Func<TimeSeries, int, Forecast.Forecast> forecaster = parse.GetValue(model) == "snaive" ? SeasonalNaive.Predict : Ets.Predict;
                results = Evaluation.Run(parse.GetValue(data)!.FullName, forecaster);
            }
            catch (ForecastInputException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
            var table = new Table().AddColumns("series", "train/test", "model", "MASE", "RMSE", "sMAPE %", "cover 80/95",
                "R ets MASE", "R auto.arima MASE", "R snaive MASE");
            foreach (var r in results)
            {
                string Ref(string model) => r.Reference.FirstOrDefault(x => x.Model == model)?.Accuracy.Mase.ToString("F3") ?? "-";
                table.AddRow(r.Series, $"{r.Train}/{r.Test}", r.Model, $"{r.Accuracy.Mase:F3}", $"{r.Accuracy.Rmse:G5}", $"{r.Accuracy.Smape:F2}",
                    $"{r.Accuracy.Coverage80:F2}/{r.Accuracy.Coverage95:F2}", Ref("ets"), Ref("auto.arima"), Ref("snaive"));
            }
            AnsiConsole.Write(table);
            var meanMase = results.Average(r => r.Accuracy.Mase);
            AnsiConsole.MarkupLineInterpolated($"mean MASE {meanMase:F3} over {results.Count} series");
            Output.WriteJson(parse.GetValue(json), new
            {
                model = parse.GetValue(model),
                mean_mase = meanMase,
                better_than_snaive = results.Count(r => r.Reference.FirstOrDefault(x => x.Model == "snaive") is { } s && r.Accuracy.Mase < s.Accuracy.Mase),
                series = results.Select(r => new
                {
                    series = r.Series,
                    model = r.Model,
                    train = r.Train,
                    test = r.Test,
                    mase = r.Accuracy.Mase,
                    rmse = r.Accuracy.Rmse,
                    smape = r.Accuracy.Smape,
                    coverage80 = r.Accuracy.Coverage80,
                    coverage95 = r.Accuracy.Coverage95,
                    reference = r.Reference.ToDictionary(x => x.Model, x => x.Accuracy.Mase),
                }),
            });
            return 0;
        });
        forecast.Subcommands.Add(eval);
        return forecast;
    }
}
