using System.CommandLine;
using Spectre.Console;
using Surge.Forecast;

namespace Surge.Cli;

internal static class ForecastCommand
{
    public static Command Create()
    {
        var forecast = new Command("forecast", "Demand forecasting. Each verb's help names the model it uses and why; the measurements behind "
            + "each choice are in docs/FORECASTING.md.");
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Directory of series files (period,value or ds,y) and optionally reference_accuracy.csv.",
            Required = true,
        };
        var json = Output.JsonOption();
        var model = new Option<string>("--model")
        {
            Description = "auto (the default: " + AutoDescription + "), cv (per series, the pool method with the lowest "
                + "rolling-origin cross-validated MASE on the series' own training part), ets (automatic ETS by AICc), arima "
                + "(automatic seasonal ARIMA, stepwise by AICc), theta, snaive (seasonal naive), ets+theta or ets+arima+theta "
                + "(equal-weight means).",
            DefaultValueFactory = _ => "auto",
        };
        model.AcceptOnlyFromAmong(["auto", "cv", .. ModelChoice.Pool]);
        var compare = new Option<bool>("--compare")
        {
            Description = "Score every method (the pool and cv) in one run and print their means side by side instead of one method's series.",
        };
        var eval = new Command("eval", "Hold out the last two seasonal cycles of every series and score the forecasts (MASE, RMSE, sMAPE, "
            + "80/95 % interval coverage) next to R's reference figures (reference_accuracy.csv in the directory, written by "
            + "tools/forecast-reference/reference.R).")
        {
            data, json, model, compare,
        };
        eval.SetAction(parse =>
        {
            var names = parse.GetValue(compare) ? ["auto", .. ModelChoice.Pool, "cv"] : new[] { parse.GetValue(model)! };
            var runs = new List<(string Model, IReadOnlyList<SeriesEvaluation> Results, double Seconds)>();
            try
            {
                foreach (var name in names)
                {
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    runs.Add((name, Evaluation.Run(parse.GetValue(data)!.FullName, ModelChoice.Forecaster(name)),
                        clock.Elapsed.TotalSeconds));
                }
            }
            catch (ForecastInputException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
            var first = runs[0].Results;
            string RefMean(string reference, Func<Accuracy, double> measure) =>
                first.All(r => r.Reference.Any(x => x.Model == reference))
                    ? first.Average(r => measure(r.Reference.First(x => x.Model == reference).Accuracy)).ToString("F3") : "-";
            if (runs.Count == 1)
            {
                var table = new Table().AddColumns("series", "train/test", "model", "MASE", "RMSE", "sMAPE %", "cover 80/95",
                    "R ets MASE", "R auto.arima MASE", "R snaive MASE");
                foreach (var r in first)
                {
                    string Ref(string reference) => r.Reference.FirstOrDefault(x => x.Model == reference)?.Accuracy.Mase.ToString("F3") ?? "-";
                    table.AddRow(Markup.Escape(r.Series), $"{r.Train}/{r.Test}", Markup.Escape(r.Model), $"{r.Accuracy.Mase:F3}", $"{r.Accuracy.Rmse:G5}",
                        $"{r.Accuracy.Smape:F2}", $"{r.Accuracy.Coverage80:F2}/{r.Accuracy.Coverage95:F2}", Ref("ets"), Ref("auto.arima"), Ref("snaive"));
                }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"mean MASE {first.Average(r => r.Accuracy.Mase):F3} over {first.Count} series (R ets {RefMean("ets", a => a.Mase)}, R auto.arima {RefMean("auto.arima", a => a.Mase)})");
            }
            else
            {
                var table = new Table().AddColumns("model", "mean MASE", "median MASE", "mean sMAPE %", "cover 80", "cover 95", "seconds");
                foreach (var (name, results, seconds) in runs)
                {
                    table.AddRow(name, $"{results.Average(r => r.Accuracy.Mase):F3}", $"{Median(results.Select(r => r.Accuracy.Mase)):F3}",
                        $"{results.Average(r => r.Accuracy.Smape):F2}", $"{results.Average(r => r.Accuracy.Coverage80):F3}",
                        $"{results.Average(r => r.Accuracy.Coverage95):F3}", $"{seconds:F1}");
                }
                foreach (var reference in ReferenceModels)
                {
                    if (first.All(r => r.Reference.Any(x => x.Model == reference)))
                    {
                        var accuracies = first.Select(r => r.Reference.First(x => x.Model == reference).Accuracy).ToList();
                        table.AddRow($"R {reference}", $"{accuracies.Average(a => a.Mase):F3}", $"{Median(accuracies.Select(a => a.Mase)):F3}",
                            $"{accuracies.Average(a => a.Smape):F2}", $"{accuracies.Average(a => a.Coverage80):F3}", $"{accuracies.Average(a => a.Coverage95):F3}", "-");
                    }
                }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"{first.Count} series; the test part is each series' last two cycles");
            }
            var main = runs[0];
            Output.WriteJson(parse.GetValue(json), new
            {
                model = main.Model,
                mean_mase = main.Results.Average(r => r.Accuracy.Mase),
                better_than_snaive = main.Results.Count(r => r.Reference.FirstOrDefault(x => x.Model == "snaive") is { } s && r.Accuracy.Mase < s.Accuracy.Mase),
                series = main.Results.Select(r => new
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
                models = runs.Select(run => new
                {
                    model = run.Model,
                    mean_mase = run.Results.Average(r => r.Accuracy.Mase),
                    median_mase = Median(run.Results.Select(r => r.Accuracy.Mase)),
                    mean_smape = run.Results.Average(r => r.Accuracy.Smape),
                    coverage80 = run.Results.Average(r => r.Accuracy.Coverage80),
                    coverage95 = run.Results.Average(r => r.Accuracy.Coverage95),
                    seconds = run.Seconds,
                    mase = run.Results.ToDictionary(r => r.Series, r => r.Accuracy.Mase),
                }),
                reference = ReferenceModels.Where(m => first.All(r => r.Reference.Any(x => x.Model == m)))
                    .Select(m => new
                    {
                        model = m,
                        mean_mase = first.Average(r => r.Reference.First(x => x.Model == m).Accuracy.Mase),
                        coverage95 = first.Average(r => r.Reference.First(x => x.Model == m).Accuracy.Coverage95),
                    }),
            });
            return 0;
        });
        forecast.Subcommands.Add(eval);
        forecast.Subcommands.Add(Generate());
        forecast.Subcommands.Add(Skus());
        forecast.Subcommands.Add(EvalSkus());
        forecast.Subcommands.Add(TrafficCommand());
        return forecast;
    }

    /// <summary>R's methods in reference_accuracy.csv.</summary>
    private static readonly string[] ReferenceModels = ["ets", "auto.arima", "snaive"];

    private const string AutoDescription = "automatic seasonal ARIMA, the method with the lowest mean MASE on 113 validation series "
        + "(generated and R's classic series, never the shared files), its intervals widened by its own errors at rolling origins of each "
        + "series' training part";

    private static readonly Option<DirectoryInfo?> PlotsOption = new("--plots")
    {
        Description = "Also write SVG plots of the four SKUs that weigh most: their last 26 training weeks, the held-out weeks, "
            + "each model's forecast and the global model's 95 % interval.",
    };

    /// <summary>Plots of the heaviest SKUs (by WRMSSE weight): what happened against what each model forecast.</summary>
    private static List<string> PlotSkus(IReadOnlyList<SkuHoldout> holdouts, IReadOnlyList<SkuModel> models, string directory)
    {
        const int shown = 4, context = 26;
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var holdout in holdouts.OrderByDescending(h => h.Weight).Take(shown))
        {
            var train = holdout.Train.Values;
            var start = Math.Max(0, train.Length - context);
            var actual = train[start..].Concat(holdout.Test).Select((v, i) => ((double)(start + i), v)).ToList();
            var lines = new List<SvgPlot.Series> { new("actual", actual) };
            var bands = new List<SvgPlot.Band>();
            foreach (var model in models)
            {
                Forecast.Forecast forecast;
                try
                {
                    forecast = model.Predict(holdout.Train, holdout.Test.Length);
                }
                catch (ForecastInputException)
                {
                    continue;
                }
                lines.Add(new SvgPlot.Series($"{model.Name} ({forecast.Model})", forecast.Mean.Select((m, h) => ((double)(train.Length + h), Math.Max(0, m))).ToList()));
                if (model.Name == "global")
                {
                    bands.Add(new SvgPlot.Band("global 95 % interval", forecast.Mean.Select((_, h) =>
                        ((double)(train.Length + h), Math.Max(0, forecast.Lower95[h]), Math.Max(0, forecast.Upper95[h]))).ToList()));
                }
            }
            var periods = holdout.Train.Periods;
            var ticks = new[] { start, train.Length, train.Length + holdout.Test.Length - 1 }
                .Select(i => ((double)i, i < periods.Count ? periods[i] : $"+{i - periods.Count + 1} wk")).ToList();
            var safe = string.Concat(holdout.Sku.Select(c => char.IsLetterOrDigit(c) ? c : '_'));
            var path = Path.Combine(directory, $"sku-{safe}.svg");
            File.WriteAllText(path, SvgPlot.Render($"SKU {holdout.Sku}: the {holdout.Test.Length} weeks after {periods[^1]} held out (shaded: global 95 %)",
                "week", "units", lines, logY: false, ticks, bands));
            written.Add(path);
        }
        return written;
    }

    private static double Median(IEnumerable<double> values) => MathNet.Numerics.Statistics.Statistics.Median(values);

    private static Command Generate()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory to write the series files into (created if missing).", Required = true };
        var count = Output.PositiveOption("--count", "Series to generate (cycled through the processes; half monthly, half quarterly).", 100, 100_000);
        var seed = new Option<int>("--seed") { Description = "Seed of the random draws (same seed, same files).", DefaultValueFactory = _ => 1 };
        var command = new Command("generate", "Write seasonal series drawn from documented random processes (airline SARIMA, ETS(M,N,M), "
            + "ETS(M,Ad,M), trend + AR(1), random walk with drift) as period,value files: unseen data to check model choice on.")
        {
            output, count, seed,
        };
        command.SetAction(parse =>
        {
            var series = SeriesGenerator.Generate(parse.GetValue(count), parse.GetValue(seed));
            try
            {
                SeriesGenerator.Write(series, parse.GetValue(output)!.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] cannot write the series: {e.Message}");
                return 2;
            }
            AnsiConsole.MarkupLineInterpolated($"wrote {series.Count} series to {parse.GetValue(output)!.FullName}");
            return 0;
        });
        return command;
    }

    private static Command TrafficCommand()
    {
        var data = new Option<FileInfo>("--data")
        {
            Description = "Order history in the Online Retail format (.csv or .csv.gz), e.g. ../shared/data/online-retail/online_retail.csv.gz.",
            Required = true,
        };
        var hours = Output.PositiveOption("--hours", "Hours to forecast.", 24, Traffic.HoursPerWeek);
        var json = Output.JsonOption("forecast");
        var command = new Command("traffic", "Orders per minute for the next hours, with 80/95 % intervals: the input for capacity planning. Model: the mean of the same "
            + "hour of the week over the last four weeks, the interval from their spread — order traffic repeats weekly, and a profile "
            + "of recent weeks follows a growing marketplace without a fitted trend.") { data, hours, json };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(data)!;
            HourlyOrders history;
            Forecast.Forecast forecast;
            try
            {
                history = file.Exists ? Traffic.ReadHourlyOrders(file.FullName) : throw new ForecastInputException($"no such file: {file.FullName}");
                forecast = Traffic.Predict(history.Series, parse.GetValue(hours));
            }
            catch (ForecastInputException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
            var last = DateTime.ParseExact(history.Series.Periods[^1], "yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture);
            var table = new Table().AddColumns("hour", "orders/min", "80 %", "95 %");
            var rows = forecast.Mean.Select((m, h) => new
            {
                hour = last.AddHours(h + 1).ToString("yyyy-MM-dd HH:00", System.Globalization.CultureInfo.InvariantCulture),
                orders_per_min = m / 60,
                lower80 = forecast.Lower80[h] / 60,
                upper80 = forecast.Upper80[h] / 60,
                lower95 = forecast.Lower95[h] / 60,
                upper95 = forecast.Upper95[h] / 60,
            }).ToList();
            foreach (var r in rows)
            {
                table.AddRow(r.hour, $"{r.orders_per_min:F2}", $"{r.lower80:F2}–{r.upper80:F2}", $"{r.lower95:F2}–{r.upper95:F2}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{history.Series.Count:N0} hours of history ({history.Rows:N0} rows, {history.CancellationRows:N0} cancellations left out, {history.MalformedRows:N0} malformed rows skipped); model: {forecast.Model}");
            Output.WriteJson(parse.GetValue(json), new { model = forecast.Model, history_hours = history.Series.Count, malformed_rows = history.MalformedRows, hours = rows });
            return 0;
        });
        return command;
    }

    private static Command Skus()
    {
        var data = new Option<FileInfo>("--data")
        {
            Description = "Weekly demand per SKU (week_start,stock_code,units, e.g. ../shared/data/sales-series/weekly_top100_sku.csv) "
                + "or an order history in the Online Retail format (.csv or .csv.gz, e.g. ../shared/data/online-retail/online_retail.csv.gz), "
                + "summed into complete weeks per SKU.",
            Required = true,
        };
        var lead = Output.PositiveOption("--lead-time-weeks", "Weeks from ordering to stock on hand.", 2, 52);
        var onHandWeeks = Output.PositiveOption("--weeks-of-stock",
            "Stock on hand assumed for each SKU, in weeks of its average demand over the last 8 weeks (the file has no stock).", 4, 520);
        var json = Output.JsonOption("plans");
        var modelOption = new Option<string>("--model")
        {
            Description = "choose (the default: hold out every SKU's last 8 weeks, score per-SKU auto and the global model on them by WRMSSE, "
                + $"plan with the better one; under {SkuModels.GlobalSkusMin} scorable SKUs, auto), auto (per SKU: SBA for intermittent demand, "
                + "else the mean of automatic ETS and Theta) or global (one LightGBM model learned across every SKU).",
            DefaultValueFactory = _ => "choose",
        };
        modelOption.AcceptOnlyFromAmong("choose", "auto", "global");
        var command = new Command("skus", "Forecast the next 8 weeks of every SKU with 95 % intervals, the week its stock runs out, and how much "
            + "to order now for a 95 % service level.") { data, lead, onHandWeeks, modelOption, json };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(data)!;
            IReadOnlyList<TimeSeries> series;
            Dictionary<string, double> prices;
            try
            {
                (series, prices) = file.Exists ? ReadWeeklyDemandWithPrices(file.FullName) : throw new ForecastInputException($"no such file: {file.FullName}");
            }
            catch (Exception e) when (e is ForecastInputException or InvalidDataException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
            double? Price(string sku) => prices.TryGetValue(sku, out var p) ? p : null;
            var options = new PlanningOptions { LeadTimeWeeks = parse.GetValue(lead) };
            var horizon = Math.Max(options.HorizonWeeks, options.LeadTimeWeeks + options.ReviewWeeks);
            var plans = new List<SkuPlan>();
            var failed = new List<string>();
            SkuModelChoice choice = null!;
            try
            {
                PlanAll();
            }
            catch (ForecastInputException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
            void PlanAll() => Output.WithProgress("forecast skus", progress =>
            {
                var requested = parse.GetValue(modelOption)!;
                progress(requested == "choose" ? "comparing auto and global on held-out weeks" : "fitting", 0);
                choice = requested == "choose" ? SkuModels.Choose(series, Price) : new SkuModelChoice(requested, "asked for with --model", null, null);
                progress($"fitting {choice.Chosen}", 0.5);
                var (forecasts, failures) = SkuModels.Forecast(series, Price, choice.Chosen, horizon);
                failed.AddRange(failures);
                foreach (var sku in series.Where(s => forecasts.ContainsKey(s.Name)))
                {
                    var onHand = parse.GetValue(onHandWeeks) * sku.Values.TakeLast(8).Average();
                    plans.Add(Planning.FromForecast(sku, onHand, forecasts[sku.Name], options));
                }
                progress("planned", 1);
                return plans.Count;
            });
            var table = new Table().AddColumns("SKU", "model", "on hand", "next 8 weeks (mean)", "runs out", "order now");
            foreach (var p in plans.Take(25))
            {
                table.AddRow(p.Sku, p.Model, $"{p.OnHand:F0}", string.Join(" ", p.Mean.Select(m => m.ToString("F0"))),
                    p.StockoutWeek ?? "not within 8 weeks", $"{p.ReorderUnits:F0}");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"{plans.Count} SKUs planned (first 25 shown), {failed.Count} could not be fitted; lead time {options.LeadTimeWeeks} weeks, service level {options.ServiceLevel:P0}");
            AnsiConsole.MarkupLineInterpolated($"model: {choice.Chosen} ({choice.Reason})");
            foreach (var reason in failed.Take(10))
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]skipped:[/] {reason}");
            }
            Output.WriteJson(parse.GetValue(json), new
            {
                model = choice.Chosen,
                model_reason = choice.Reason,
                lead_time_weeks = options.LeadTimeWeeks,
                service_level = options.ServiceLevel,
                skus = plans.Select(p => new
                {
                    sku = p.Sku,
                    model = p.Model,
                    on_hand = p.OnHand,
                    weeks = p.Weeks,
                    mean = p.Mean,
                    lower95 = p.Lower95,
                    upper95 = p.Upper95,
                    stockout_week = p.StockoutWeek,
                    reorder_units = p.ReorderUnits,
                }),
                skipped = failed,
            });
            return 0;
        });
        return command;
    }

    private static Command EvalSkus()
    {
        var data = new Option<FileInfo>("--data")
        {
            Description = "Order history in the Online Retail or Online Retail II format (.csv or .csv.gz, e.g. "
                + "../shared/data/online-retail/online_retail.csv.gz), or weekly demand per SKU (week_start,stock_code,units; no prices: SKUs weigh by units).",
            Required = true,
        };
        var holdout = Output.PositiveOption("--holdout-weeks", "Final weeks of every SKU held out and forecast from the weeks before.",
            SkuEvaluation.HoldoutWeeksDefault, 26);
        var json = Output.JsonOption("report");
        var command = new Command("eval-skus", "Hold out the final weeks of every SKU's weekly demand and score, in one run: seasonal naive "
            + "(snaive: the same week a year before, or the last week when training is shorter than a year) and per-SKU AutoForecast (auto: SBA "
            + "for intermittent demand, else the ETS/Theta combination) and the global model (global: one LightGBM model learned across every "
            + "SKU's training weeks, split-conformal intervals) — WRMSSE (M5's revenue-weighted RMSSE), mean MASE, weighted scaled "
            + "pinball loss and 50/80/95 % interval coverage.") { data, holdout, json, PlotsOption };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(data)!;
            var weeks = parse.GetValue(holdout);
            IReadOnlyList<TimeSeries> series;
            Dictionary<string, double> prices;
            try
            {
                (series, prices) = file.Exists ? ReadWeeklyDemandWithPrices(file.FullName) : throw new ForecastInputException($"no such file: {file.FullName}");
            }
            catch (Exception e) when (e is ForecastInputException or InvalidDataException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
            var (holdouts, skipped) = SkuEvaluation.Prepare(series, sku => prices.TryGetValue(sku, out var p) ? p : null, weeks);

            if (holdouts.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] no SKU has {SkuEvaluation.TrainWeeksMin} weeks before the {weeks} held out");
                return 2;
            }
            double? Price(string sku) => prices.TryGetValue(sku, out var p) ? p : null;
            // Each model is made (the global one fitted on every SKU's training weeks) and scored under one clock.
            (string Name, Func<SkuModel> Make)[] models =
            [
                ("snaive", () => new SkuModel("snaive", SkuEvaluation.SeasonalNaiveWeekly)),
                ("auto", () => new SkuModel("auto", AutoForecast.Predict)),
                ("global", () =>
                {
                    var global = GlobalDemandModel.Fit([.. holdouts.Select(h => h.Train)], Price, new GlobalModelOptions { HorizonWeeks = weeks });
                    return new SkuModel("global", (train, h) => global.Forecast(train.Name, h));
                }),
            ];
            var results = new List<(ModelScore Score, double Seconds)>();
            var made = new List<SkuModel>();
            Output.WithProgress("forecast eval-skus", progress =>
            {
                foreach (var (model, i) in models.Select((m, i) => (m, i)))
                {
                    progress($"scoring {model.Name} on {holdouts.Count:N0} SKUs", (double)i / models.Length);
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    var skuModel = model.Make();
                    made.Add(skuModel);
                    results.Add((SkuEvaluation.Score(holdouts, skuModel), clock.Elapsed.TotalSeconds));
                }
                progress("scored", 1);
                return results.Count;
            });
            var table = new Table().AddColumns("model", "SKUs", "WRMSSE", "MASE (mean)", "WSPL", "cover 50/80/95", "failed", "seconds");
            foreach (var (score, seconds) in results)
            {
                table.AddRow(score.Model, $"{score.Skus:N0}", $"{score.Wrmsse:F4}", $"{score.MaseMean:F4}", $"{score.Wspl:F4}",
                    $"{score.Coverage50:F3}/{score.Coverage80:F3}/{score.Coverage95:F3}", $"{score.Failures}", $"{seconds:F1}");
            }
            AnsiConsole.Write(table);
            if (parse.GetValue(PlotsOption) is { } plots)
            {
                try
                {
                    foreach (var path in PlotSkus(holdouts, made, plots.FullName))
                    {
                        AnsiConsole.MarkupLineInterpolated($"wrote {path}");
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] cannot write the plots: {e.Message}");
                    return 2;
                }
            }
            AnsiConsole.MarkupLineInterpolated($"{holdouts.Count:N0} SKUs scored on their last {weeks} weeks, {skipped:N0} skipped (under {SkuEvaluation.TrainWeeksMin} training weeks, fewer than {SkuEvaluation.DemandWeeksMin} weeks with demand, or constant); lower WRMSSE / MASE / WSPL is better");
            Output.WriteJson(parse.GetValue(json), new
            {
                data = file.Name,
                holdout_weeks = weeks,
                skus_scored = holdouts.Count,
                skus_skipped = skipped,
                models = results.Select(r => new
                {
                    model = r.Score.Model,
                    wrmsse = r.Score.Wrmsse,
                    mase_mean = r.Score.MaseMean,
                    wspl = r.Score.Wspl,
                    coverage50 = r.Score.Coverage50,
                    coverage80 = r.Score.Coverage80,
                    coverage95 = r.Score.Coverage95,
                    failures = r.Score.Failures,
                    seconds = r.Seconds,
                }),
            });
            return 0;
        });
        return command;
    }

    /// <summary>Weekly series and each SKU's unit price (in major units) from an Online Retail order history; a weekly
    /// file has no prices.</summary>
    private static (IReadOnlyList<TimeSeries> Series, Dictionary<string, double> Prices) ReadWeeklyDemandWithPrices(string path)
    {
        string header;
        using (var reader = Csv.OpenText(path))
        {
            header = reader.ReadLine() ?? "";
        }
        if (!Load.RetailData.IsOrderHistory(header))
        {
            return (WeeklySkuCsv.Read(path), []);
        }
        var history = Load.RetailData.Read(path);
        AnsiConsole.MarkupLineInterpolated($"order history: {history.Invoices.Count:N0} invoices from {history.Rows:N0} rows ({history.Malformed:N0} malformed rows skipped; cancellations and returns left out)");
        var series = WeeklyDemand.FromSales(history.Invoices.SelectMany(i => i.Lines.Select(l => new Sale(l.StockCode, i.At, l.Quantity))));
        return series.Count > 0
            ? (series, history.Products.ToDictionary(p => p.StockCode, p => p.PriceMinor / 100.0, StringComparer.Ordinal))
            : throw new ForecastInputException($"{path}: no complete week of sales");
    }

    /// <summary>Weekly series from a weekly file, or from an Online Retail order history (told apart by the header).</summary>
}
