namespace Surge.Forecast;

/// <summary>Test-period accuracy, defined as in R's forecast package (see the data README):
/// MASE scaled by the in-sample seasonal-naive MAE, RMSE, sMAPE in percent (0–200), interval coverage
/// (NaN for a method that gives no intervals).</summary>
public sealed record Accuracy(double Mase, double Rmse, double Smape, double Coverage80, double Coverage95)
{
    public static Accuracy Measure(TimeSeries train, double[] actual, Forecast forecast)
    {
        if (actual.Length != forecast.Mean.Length || actual.Length == 0)
        {
            throw new ArgumentException("actual and forecast must have the same, non-zero length", nameof(actual));
        }
        var m = Math.Max(1, train.SeasonLength);
        double scale = 0;
        for (var t = m; t < train.Count; t++)
        {
            scale += Math.Abs(train.Values[t] - train.Values[t - m]);
        }
        scale /= train.Count - m;
        double absolute = 0, squared = 0, smape = 0;
        int in80 = 0, in95 = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var (y, f) = (actual[i], forecast.Mean[i]);
            absolute += Math.Abs(y - f);
            squared += (y - f) * (y - f);
            smape += Math.Abs(y) + Math.Abs(f) == 0 ? 0 : 200 * Math.Abs(y - f) / (Math.Abs(y) + Math.Abs(f));
            in80 += y >= forecast.Lower80[i] && y <= forecast.Upper80[i] ? 1 : 0;
            in95 += y >= forecast.Lower95[i] && y <= forecast.Upper95[i] ? 1 : 0;
        }
        var n = actual.Length;
        var hasIntervals = !forecast.Lower95.Any(double.IsNaN);
        return new Accuracy(absolute / n / scale, Math.Sqrt(squared / n), smape / n,
            hasIntervals ? (double)in80 / n : double.NaN, hasIntervals ? (double)in95 / n : double.NaN);
    }
}
