namespace Surge.Forecast;

/// <summary>Which SKU model plans a set of SKUs, and the held-out scores it was chosen by (null: not compared).</summary>
public sealed record SkuModelChoice(string Chosen, string Reason, ModelScore? Auto, ModelScore? Global);

/// <summary>
/// Chooses between per-SKU <see cref="AutoForecast"/> and the <see cref="GlobalDemandModel"/> for a set of SKUs, as
/// the evaluation does: every SKU's last <see cref="SkuEvaluation.HoldoutWeeksDefault"/> weeks are held out, both
/// models forecast them from the weeks before, and the one with the lower WRMSSE plans (refitted on every week).
/// With fewer than <see cref="GlobalSkusMin"/> SKUs that can be scored there is too little to learn across SKUs and
/// too little to compare on: per-SKU models plan.
/// </summary>
public static class SkuModels
{
    /// <summary>Scorable SKUs needed before the global model is considered.</summary>
    public const int GlobalSkusMin = 30;

    public static SkuModelChoice Choose(IReadOnlyList<TimeSeries> weekly, Func<string, double?> unitPrice, int holdoutWeeks = SkuEvaluation.HoldoutWeeksDefault)
    {
        var (holdouts, _) = SkuEvaluation.Prepare(weekly, unitPrice, holdoutWeeks);
        if (holdouts.Count < GlobalSkusMin)
        {
            return new SkuModelChoice("auto", $"{holdouts.Count} SKUs with {SkuEvaluation.TrainWeeksMin}+ weeks before the last {holdoutWeeks}: "
                + $"the global model needs {GlobalSkusMin}", null, null);
        }
        var auto = SkuEvaluation.Score(holdouts, new SkuModel("auto", AutoForecast.Predict));
        GlobalDemandModel model;
        try
        {
            model = GlobalDemandModel.Fit([.. holdouts.Select(h => h.Train)], unitPrice, new GlobalModelOptions { HorizonWeeks = holdoutWeeks });
        }
        catch (ForecastInputException e)
        {
            return new SkuModelChoice("auto", $"the global model could not be fitted: {e.Message}", auto, null);
        }
        var global = SkuEvaluation.Score(holdouts, new SkuModel("global", (train, h) => model.Forecast(train.Name, h)));
        var chosen = global.Wrmsse < auto.Wrmsse ? "global" : "auto";
        return new SkuModelChoice(chosen, $"WRMSSE on the last {holdoutWeeks} weeks of {holdouts.Count} SKUs: global {global.Wrmsse:F4}, auto {auto.Wrmsse:F4}",
            auto, global);
    }

    /// <summary>Each SKU's forecast of <paramref name="horizon"/> weeks by the chosen model fitted on every week; SKUs
    /// the global model cannot forecast (and every SKU under "auto") get <see cref="AutoForecast"/>. A SKU that
    /// cannot be forecast at all is left out with the reason in <c>Failures</c>. Throws <see cref="ForecastInputException"/>
    /// when the global model is asked for and cannot be fitted.</summary>
    public static (Dictionary<string, Forecast> Forecasts, List<string> Failures) Forecast(IReadOnlyList<TimeSeries> weekly,
        Func<string, double?> unitPrice, string model, int horizon)
    {
        var global = model == "global" ? GlobalDemandModel.Fit(weekly, unitPrice, new GlobalModelOptions { HorizonWeeks = horizon }) : null;
        var forecasts = new Dictionary<string, Forecast>(StringComparer.Ordinal);
        var failures = new List<string>();
        foreach (var series in weekly)
        {
            try
            {
                forecasts[series.Name] = global is not null && global.Has(series.Name) ? global.Forecast(series.Name, horizon) : AutoForecast.Predict(series, horizon);
            }
            catch (ForecastInputException e)
            {
                failures.Add(e.Message);
            }
        }
        return (forecasts, failures);
    }
}
