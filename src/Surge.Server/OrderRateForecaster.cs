using Surge.Forecast;

namespace Surge.Server;

/// <summary>One minute of accepted orders next to what was forecast for it a minute earlier (null before there
/// was a forecast).</summary>
public sealed record MinuteActual(long MinuteMs, double Orders, double? Forecast);

/// <summary>The forecast for a coming minute with its 95 % interval.</summary>
public sealed record MinuteForecast(long MinuteMs, double Mean, double Lower95, double Upper95);

/// <summary>
/// Forecast vs actual orders per minute for the dashboard: accepted orders are bucketed by minute; once
/// <see cref="MinutesMin"/> whole minutes exist, every closed minute refits <see cref="AutoForecast"/> on the
/// last <see cref="MinutesKept"/> minutes and forecasts the next <see cref="HorizonMinutes"/>; each minute's
/// one-step-ahead forecast is kept to compare with what then happened. Timestamps are passed in (no clock).
/// </summary>
public sealed class OrderRateForecaster
{
    public const int MinutesMin = 10;
    public const int MinutesKept = 180;
    public const int HorizonMinutes = 15;
    private const long MinuteMs = 60_000;

    private readonly Lock _gate = new();
    private readonly List<MinuteActual> _history = [];
    private List<MinuteForecast> _ahead = [];
    private long _minute = -1;
    private long _ordersAtMinuteStart;
    private long _lastTotal;

    /// <summary>Feeds the node's accepted-orders total at time <paramref name="nowMs"/> (Unix ms, nondecreasing).</summary>
    public void Observe(long acceptedTotal, long nowMs)
    {
        lock (_gate)
        {
            var minute = nowMs - nowMs % MinuteMs;
            if (_minute < 0)
            {
                (_minute, _ordersAtMinuteStart) = (minute, acceptedTotal);
            }
            while (minute > _minute)
            {
                // The minute that just ended gets what was counted up to now (a sampling gap spreads onto it).
                var orders = _lastTotal - _ordersAtMinuteStart;
                var forecast = _ahead.FirstOrDefault(f => f.MinuteMs == _minute)?.Mean;
                _history.Add(new MinuteActual(_minute, Math.Max(0, orders), forecast));
                if (_history.Count > MinutesKept)
                {
                    _history.RemoveAt(0);
                }
                _ordersAtMinuteStart = _lastTotal;
                _minute += MinuteMs;
                Refit();
            }
            _lastTotal = acceptedTotal;
        }
    }

    private void Refit()
    {
        if (_history.Count < MinutesMin)
        {
            _ahead = [];
            return;
        }
        var periods = _history.Select(h => h.MinuteMs.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        try
        {
            var forecast = AutoForecast.Predict(new TimeSeries("orders_per_minute", periods, _history.Select(h => h.Orders).ToArray(), 1), HorizonMinutes);
            _ahead = Enumerable.Range(0, HorizonMinutes).Select(h => new MinuteForecast(_minute + MinuteMs * h,
                Math.Max(0, forecast.Mean[h]), Math.Max(0, forecast.Lower95[h]), Math.Max(0, forecast.Upper95[h]))).ToList();
        }
        catch (ForecastInputException)
        {
            _ahead = []; // e.g. a history of zeros: nothing to forecast from yet
        }
    }

    /// <summary>The last closed minutes (with their one-step-ahead forecasts) and the next minutes' forecast;
    /// null while fewer than <see cref="MinutesMin"/> minutes are known.</summary>
    public (IReadOnlyList<MinuteActual> Actual, IReadOnlyList<MinuteForecast> Ahead)? Snapshot(int minutes = 60)
    {
        lock (_gate)
        {
            return _history.Count < MinutesMin ? null : (_history.TakeLast(minutes).ToList(), _ahead.ToList());
        }
    }

    /// <summary>Whole minutes observed so far (the dashboard says how many more a forecast needs).</summary>
    public int MinutesObserved
    {
        get
        {
            lock (_gate)
            {
                return _history.Count;
            }
        }
    }
}
