using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace Surge.Forecast;

/// <summary>The orders of a seasonal ARIMA(p,d,q)(P,D,Q)[m] model, and whether it has a constant (the mean of
/// the differenced series: a mean when nothing is differenced, a drift after one difference).</summary>
public sealed record ArimaOrder(int P, int D, int Q, int SeasonalP, int SeasonalD, int SeasonalQ, int Period, bool Constant)
{
    public int Parameters => P + Q + SeasonalP + SeasonalQ + (Constant ? 1 : 0);

    public override string ToString()
    {
        var seasonal = Period > 1 && SeasonalP + SeasonalD + SeasonalQ > 0 ? $"({SeasonalP},{SeasonalD},{SeasonalQ})[{Period}]" : "";
        var constant = !Constant ? "" : D + SeasonalD == 0 ? " with mean" : " with drift";
        return $"ARIMA({P},{D},{Q}){seasonal}{constant}";
    }
}

/// <summary>A fitted seasonal ARIMA: the expanded AR and MA polynomials of the differenced series
/// (w_t − μ = Σ a_k (w_{t−k} − μ) + e_t + Σ b_k e_{t−k}), μ, the one-step variance σ², AICc, and the residuals.</summary>
public sealed record ArimaFit(ArimaOrder Order, double[] Ar, double[] Ma, double Mean, double Sigma2, double Aicc, double[] Residuals);

/// <summary>
/// Seasonal ARIMA with automatic order selection in the manner of Hyndman &amp; Khandakar (2008), as R's
/// <c>forecast::auto.arima</c> does it: the seasonal difference D ∈ {0, 1} from the strength of the seasonal
/// component (≥ <see cref="SeasonalStrengthMin"/>), the ordinary differences d ∈ {0, 1, 2} from repeated KPSS
/// tests at 5 %, then a stepwise search over (p, q, P, Q) and the constant by AICc, starting from four models and
/// moving to the first neighbour that improves. Parameters are fitted (MathNet's Nelder–Mead) in a transform that
/// keeps every AR polynomial stationary and every MA polynomial invertible (partial autocorrelations through tanh,
/// then Durbin–Levinson): by conditional sum of squares, then, for series up to <see cref="ApproximateAbove"/>
/// observations and for the chosen order always, by the exact likelihood (Kalman filter). Fits with a root within
/// <see cref="RootModulusMin"/> of the unit circle are refused, as R refuses them. Prediction intervals are normal,
/// from the ψ-weights of the full model including its differences.
/// </summary>
public static class Arima
{
    /// <summary>Bounds of the search, R's defaults: p, q ≤ 5; P, Q ≤ 2; p + q + P + Q ≤ 5; at most 94 models.</summary>
    public const int MaxP = 5, MaxQ = 5, MaxSeasonalP = 2, MaxSeasonalQ = 2, MaxOrder = 5, MaxModels = 94;

    /// <summary>Ordinary differences at most (KPSS), seasonal differences at most (seasonal strength).</summary>
    public const int MaxD = 2, MaxSeasonalD = 1;

    /// <summary>KPSS level-stationarity statistic's 5 % critical value (Kwiatkowski et al. 1992, table 1).</summary>
    public const double KpssCritical5 = 0.463;

    /// <summary>A seasonal difference is taken when the seasonal component's strength (Wang, Smith &amp; Hyndman
    /// 2006: 1 − var(remainder) / var(season + remainder)) is at least this — R's <c>nsdiffs</c> default.</summary>
    public const double SeasonalStrengthMin = 0.64;

    private const int IterationsMax = 4000;

    /// <summary>Nelder–Mead stops the exact fit when the simplex's −2 log-likelihoods differ by less than this (as
    /// tight as the conditional fit: looser stops moved choices and cost accuracy on held-out data).</summary>
    private const double ExactTolerance = 1e-9;

    /// <summary>The conditional fit sets aside the first p + mP differenced observations; a model that would set
    /// aside more than this share of them is not fitted (its parameters would rest on too few residuals).</summary>
    public const double MaxConditionShare = 0.5;

    /// <summary>Series longer than this many observations are searched by the conditional likelihood (R's rule).</summary>
    public const int ApproximateAbove = 150;

    /// <summary>The seasonal component of the strength measure at a position is the mean of the detrended values
    /// at the same position of the cycle within this many cycles either side — a moving season, as STL's is, so
    /// that a season growing with the level still counts as strong.</summary>
    public const int SeasonWindowCycles = 5;

    public static Forecast Predict(TimeSeries train, int horizon) => Predict(Select(train), train, horizon);

    /// <summary>The automatic choice: differences by test, then the stepwise search by AICc.</summary>
    public static ArimaFit Select(TimeSeries train)
    {
        if (train.Count < 8)
        {
            throw new ForecastInputException($"{train.Name}: {train.Count} observations are too few for ARIMA (need at least 8)");
        }
        var m = train.SeasonLength > 1 && train.Count >= 2 * train.SeasonLength + 4 ? train.SeasonLength : 1;
        var y = train.Values;
        var seasonalD = m > 1 ? SeasonalDifferences(y, m) : 0;
        var d = Differences(seasonalD > 0 ? Difference(y, m) : y);
        // A constant is allowed after at most one difference; with none it is required: demand has a positive
        // mean, and without one the conditional fit lets a near-unit-root AR stand in for the level.
        var constantAllowed = d + seasonalD <= 1;
        var constantRequired = d + seasonalD == 0;
        var seasonal = m > 1;
        var tried = new Dictionary<ArimaOrder, ArimaFit?>();
        // As R does: the search compares exact likelihoods unless the series is long, where the conditional fit is
        // close to exact and much cheaper; the chosen order is always refitted exactly.
        var approximate = train.Count > ApproximateAbove;
        ArimaFit? best = null;

        bool Try(int p, int q, int sp, int sq, bool constant)
        {
            if (p < 0 || q < 0 || sp < 0 || sq < 0 || p > MaxP || q > MaxQ || sp > MaxSeasonalP || sq > MaxSeasonalQ
                || p + q + sp + sq > MaxOrder || (constant && !constantAllowed) || (!constant && constantRequired) || (!seasonal && sp + sq > 0) || tried.Count >= MaxModels)
            {
                return false;
            }
            var order = new ArimaOrder(p, d, q, sp, seasonalD, sq, m, constant);
            if (tried.ContainsKey(order))
            {
                return false;
            }
            var fit = Fit(train, order, exact: !approximate);
            tried[order] = fit;
            if (fit is not null && (best is null || fit.Aicc < best.Aicc - 1e-9))
            {
                best = fit;
                return true;
            }
            return false;
        }

        Try(2, 2, seasonal ? 1 : 0, seasonal ? 1 : 0, constantAllowed);
        Try(0, 0, 0, 0, constantAllowed);
        Try(1, 0, seasonal ? 1 : 0, 0, constantAllowed);
        Try(0, 1, 0, seasonal ? 1 : 0, constantAllowed);
        if (constantAllowed && !constantRequired)
        {
            Try(0, 0, 0, 0, false);
        }
        while (best is not null && tried.Count < MaxModels)
        {
            var o = best.Order;
            var (p, q, sp, sq, c) = (o.P, o.Q, o.SeasonalP, o.SeasonalQ, o.Constant);
            var moved = Try(p, q, sp - 1, sq, c) || Try(p, q, sp + 1, sq, c) || Try(p, q, sp, sq - 1, c) || Try(p, q, sp, sq + 1, c)
                || Try(p, q, sp - 1, sq - 1, c) || Try(p, q, sp + 1, sq + 1, c) || Try(p, q, sp - 1, sq + 1, c) || Try(p, q, sp + 1, sq - 1, c)
                || Try(p - 1, q, sp, sq, c) || Try(p + 1, q, sp, sq, c) || Try(p, q - 1, sp, sq, c) || Try(p, q + 1, sp, sq, c)
                || Try(p - 1, q - 1, sp, sq, c) || Try(p + 1, q + 1, sp, sq, c) || Try(p - 1, q + 1, sp, sq, c) || Try(p + 1, q - 1, sp, sq, c)
                || Try(p, q, sp, sq, !c);
            if (!moved)
            {
                break;
            }
        }
        if (best is null)
        {
            throw new ForecastInputException($"{train.Name}: no ARIMA model could be fitted");
        }
        return approximate ? Fit(train, best.Order, exact: true) ?? best : best;
    }

    /// <summary>Ordinary differences needed for level stationarity: difference while the KPSS test rejects at 5 %.</summary>
    public static int Differences(double[] y)
    {
        var d = 0;
        while (d < MaxD && y.Length > 4 && Kpss(y) > KpssCritical5)
        {
            y = Difference(y, 1);
            d++;
        }
        return d;
    }

    /// <summary>The KPSS statistic for level stationarity, with the Newey–West long-run variance over
    /// ⌊4 (n/100)^¼⌋ lags (the "short" truncation R's tests use).</summary>
    public static double Kpss(double[] y)
    {
        var n = y.Length;
        var mean = y.Average();
        var e = y.Select(v => v - mean).ToArray();
        double partial = 0, sumSquares = 0;
        foreach (var v in e)
        {
            partial += v;
            sumSquares += partial * partial;
        }
        var lags = (int)Math.Floor(4 * Math.Pow(n / 100.0, 0.25));
        var variance = e.Sum(v => v * v) / n;
        for (var s = 1; s <= lags; s++)
        {
            double c = 0;
            for (var t = s; t < n; t++)
            {
                c += e[t] * e[t - s];
            }
            variance += 2 * (1 - s / (lags + 1.0)) * c / n;
        }
        return variance <= 0 ? 0 : sumSquares / (n * (double)n * variance);
    }

    /// <summary>1 when the seasonal component is strong (classical additive decomposition), else 0.</summary>
    public static int SeasonalDifferences(double[] y, int m) => SeasonalStrength(y, m) >= SeasonalStrengthMin ? 1 : 0;

    /// <summary>max(0, 1 − var(remainder) / var(season + remainder)) of an additive decomposition — trend by the
    /// centred moving average, season by <see cref="SeasonWindowCycles"/> — over the positions the moving average
    /// reaches; 0 for fewer than two cycles.</summary>
    public static double SeasonalStrength(double[] y, int m)
    {
        var n = y.Length;
        var half = m / 2;
        if (m < 2 || n < 2 * m + 1)
        {
            return 0;
        }
        var detrended = new List<(int Position, double Value)>();
        for (var t = half; t + half < n; t++)
        {
            detrended.Add((t % m, y[t] - Decomposition.CentredMovingAverage(y, m, t)));
        }
        var remainder = new double[detrended.Count];
        for (var i = 0; i < detrended.Count; i++)
        {
            double sum = 0;
            var count = 0;
            for (var j = i - SeasonWindowCycles * m; j <= i + SeasonWindowCycles * m; j += m)
            {
                if (j >= 0 && j < detrended.Count)
                {
                    sum += detrended[j].Value;
                    count++;
                }
            }
            remainder[i] = detrended[i].Value - sum / count;
        }
        var total = detrended.Select(x => x.Value).ToArray();
        var whole = Variance(total);
        return whole <= 0 ? 0 : Math.Max(0, 1 - Variance(remainder) / whole);
    }

    private static double Variance(double[] values)
    {
        var mean = values.Average();
        return values.Sum(v => (v - mean) * (v - mean)) / values.Length;
    }

    public static double[] Difference(double[] y, int lag)
    {
        var w = new double[Math.Max(0, y.Length - lag)];
        for (var t = 0; t < w.Length; t++)
        {
            w[t] = y[t + lag] - y[t];
        }
        return w;
    }

    /// <summary>The series after the order's seasonal then ordinary differences.</summary>
    private static double[] Differenced(double[] y, ArimaOrder order)
    {
        for (var i = 0; i < order.SeasonalD; i++)
        {
            y = Difference(y, order.Period);
        }
        for (var i = 0; i < order.D; i++)
        {
            y = Difference(y, 1);
        }
        return y;
    }

    /// <summary>Fits one order by conditional sum of squares; null when the differenced series is too short for it.</summary>
    /// <param name="exact">After the conditional fit, maximise the exact Gaussian likelihood (Kalman filter) from
    /// its optimum: every observation then counts, which matters for short series with seasonal AR terms. The
    /// search compares orders by the conditional fit; the order it chooses is refitted exactly.</param>
    public static ArimaFit? Fit(TimeSeries train, ArimaOrder order, bool exact = false)
    {
        var w = Differenced(train.Values, order);
        var condition = order.P + order.Period * order.SeasonalP;
        var used = w.Length - condition;
        var k = order.Parameters + 1;
        if (used - k - 1 <= 0 || condition > MaxConditionShare * w.Length)
        {
            return null;
        }
        var wMean = w.Average();
        var wScale = Math.Sqrt(Variance(w));
        if (!(wScale > 0))
        {
            wScale = Math.Max(1e-8, Math.Abs(wMean));
        }
        var count = order.P + order.Q + order.SeasonalP + order.SeasonalQ + (order.Constant ? 1 : 0);
        var residuals = new double[w.Length];
        double Sse(double[] u)
        {
            var (ar, ma, mean) = Expand(order, u, wMean, wScale);
            return SumOfSquares(w, ar, ma, mean, condition, residuals);
        }
        var start = new double[count];
        var point = start;
        if (count > 0)
        {
            try
            {
                var result = new NelderMeadSimplex(1e-9, IterationsMax)
                    .FindMinimum(ObjectiveFunction.Value(v => Sse(v.ToArray())), Vector<double>.Build.DenseOfArray(start));
                point = result.MinimizingPoint.ToArray();
            }
            catch (MaximumIterationsException)
            {
                // keep the start: zeros are always admissible
            }
            if (!(Sse(point) <= Sse(start)))
            {
                point = start;
            }
        }
        var floor = 1e-12 * Math.Max(1, wScale * wScale);
        if (exact && count > 0)
        {
            double Exact(double[] u)
            {
                var (ar, ma, mean) = Expand(order, u, wMean, wScale);
                return ExactLikelihood(w, ar, ma, mean, floor).Minus2LogL;
            }
            try
            {
                var result = new NelderMeadSimplex(ExactTolerance, IterationsMax)
                    .FindMinimum(ObjectiveFunction.Value(v => Exact(v.ToArray())), Vector<double>.Build.DenseOfArray(point));
                var refined = result.MinimizingPoint.ToArray();
                if (Exact(refined) < Exact(point))
                {
                    point = refined;
                }
            }
            catch (MaximumIterationsException)
            {
                // keep the conditional optimum
            }
        }
        var (arFull, maFull, mu) = Expand(order, point, wMean, wScale);
        var sse = SumOfSquares(w, arFull, maFull, mu, condition, residuals);
        var sigma2 = Math.Max(sse / used, floor);
        // The conditional likelihood is put on all w.Length observations (σ² estimated from the residuals there are),
        // so that models conditioning on more initial observations are not favoured for summing fewer terms.
        var n = w.Length;
        var minus2LogL = n * (Math.Log(2 * Math.PI * sigma2) + 1);
        if (exact)
        {
            (minus2LogL, sigma2) = ExactLikelihood(w, arFull, maFull, mu, floor);
        }
        if (NearUnitRoot(arFull, -1) || NearUnitRoot(maFull, +1))
        {
            return null; // as R's auto.arima: a root this close to the unit circle is a model on its boundary (over- or under-differenced)
        }
        var aicc = minus2LogL + 2 * k + 2.0 * k * (k + 1) / Math.Max(1, n - k - 1);
        return double.IsFinite(aicc) ? new ArimaFit(order, arFull, maFull, mu, sigma2, aicc, residuals) : null;
    }

    /// <summary>
    /// −2 log-likelihood of w under the stationary ARMA (a, b, μ), exact: a Kalman filter over the state-space form
    /// of Gardner, Harvey &amp; Phillips (1980) — state dimension r = max(p, q + 1), transition with a in its first
    /// column and ones above the diagonal, disturbance loading (1, b₁, …, b_{r−1}) — started from the state's
    /// stationary covariance (the doubling algorithm for P = T P Tᵀ + R Rᵀ), with σ² concentrated out.
    /// </summary>
    private static (double Minus2LogL, double Sigma2) ExactLikelihood(double[] w, double[] a, double[] b, double mean, double varianceFloor)
    {
        var r = Math.Max(a.Length, b.Length + 1);
        var loading = new double[r];
        loading[0] = 1;
        for (var i = 1; i < r; i++)
        {
            loading[i] = i - 1 < b.Length ? b[i - 1] : 0;
        }
        var disturbance = new double[r, r];
        for (var i = 0; i < r; i++)
        {
            for (var j = 0; j < r; j++)
            {
                disturbance[i, j] = loading[i] * loading[j];
            }
        }
        var covariance = StationaryCovariance(a, disturbance, r);
        var state = new double[r];
        var p = covariance;
        var next = new double[r, r];
        var tp = new double[r, r];
        double sumLogF = 0, squares = 0;
        var innovations = new double[w.Length];
        var steady = false;
        for (var t = 0; t < w.Length; t++)
        {
            if (steady)
            {
                // The filter has converged (F = 1): its innovations are now the model's errors, computed as the
                // conditional recursion does — far cheaper than carrying P on (R's arima switches the same way).
                var e = w[t] - mean;
                for (var k = 0; k < a.Length; k++)
                {
                    e -= a[k] * (w[t - k - 1] - mean);
                }
                for (var k = 0; k < b.Length; k++)
                {
                    e -= b[k] * innovations[t - k - 1];
                }
                innovations[t] = e;
                squares += e * e;
                continue;
            }
            if (t > 0)
            {
                // predict: state ← T state; P ← T P Tᵀ + R Rᵀ, using T's shape (first column a, ones above the diagonal)
                var first = state[0];
                for (var i = 0; i < r; i++)
                {
                    state[i] = (i < a.Length ? a[i] * first : 0) + (i + 1 < r ? state[i + 1] : 0);
                }
                for (var i = 0; i < r; i++)
                {
                    var ai = i < a.Length ? a[i] : 0;
                    for (var l = 0; l < r; l++)
                    {
                        tp[i, l] = ai * p[0, l] + (i + 1 < r ? p[i + 1, l] : 0);
                    }
                }
                for (var i = 0; i < r; i++)
                {
                    for (var j = 0; j < r; j++)
                    {
                        var aj = j < a.Length ? a[j] : 0;
                        next[i, j] = tp[i, 0] * aj + (j + 1 < r ? tp[i, j + 1] : 0) + disturbance[i, j];
                    }
                }
                (p, next) = (next, p);
            }
            var f = p[0, 0];
            if (!(f > 1e-12))
            {
                return (double.PositiveInfinity, double.NaN);
            }
            var v = w[t] - mean - state[0];
            sumLogF += Math.Log(f);
            squares += v * v / f;
            innovations[t] = v;
            steady = Math.Abs(f - 1) < SteadyGap && t >= Math.Max(a.Length, b.Length);
            // update: state += P[:,0] v / F; P −= P[:,0] P[0,:] / F
            for (var i = 0; i < r; i++)
            {
                tp[i, 0] = p[i, 0];
            }
            for (var i = 0; i < r; i++)
            {
                state[i] += tp[i, 0] * v / f;
                for (var j = 0; j < r; j++)
                {
                    p[i, j] -= tp[i, 0] * tp[j, 0] / f;
                }
            }
        }
        var n = w.Length;
        var sigma2 = Math.Max(squares / n, varianceFloor);
        var value = n * (Math.Log(2 * Math.PI * sigma2) + 1) + sumLogF;
        return (double.IsFinite(value) ? value : double.PositiveInfinity, sigma2);
    }

    /// <summary>P = Σ_j T^j Q (Tᵀ)^j, the state's stationary covariance, by doubling (X ← X + A X Aᵀ, A ← A²) until
    /// A's entries are all below 1e-12 (at most <see cref="DoublingStepsMax"/> steps, i.e. 2^40 terms).</summary>
    private static double[,] StationaryCovariance(double[] a, double[,] q, int r)
    {
        var x = (double[,])q.Clone();
        var power = new double[r, r];
        for (var i = 0; i < r; i++)
        {
            power[i, 0] = i < a.Length ? a[i] : 0;
            if (i + 1 < r)
            {
                power[i, i + 1] = 1;
            }
        }
        var (ax, product) = (new double[r, r], new double[r, r]);
        for (var step = 0; step < DoublingStepsMax; step++)
        {
            var largest = 0.0;
            foreach (var v in power)
            {
                largest = Math.Max(largest, Math.Abs(v));
            }
            if (largest < 1e-12)
            {
                break;
            }
            Multiply(power, x, ax, r, transposeRight: false);
            Multiply(ax, power, product, r, transposeRight: true);
            for (var i = 0; i < r; i++)
            {
                for (var j = 0; j < r; j++)
                {
                    x[i, j] += product[i, j];
                }
            }
            Multiply(power, power, product, r, transposeRight: false);
            (power, product) = (product, power);
        }
        return x;
    }

    private const int DoublingStepsMax = 40;

    /// <summary>The filter counts as converged once the one-step variance is within this of its steady value 1.</summary>
    private const double SteadyGap = 1e-9;

    /// <summary>result = left · right (or left · rightᵀ), r × r.</summary>
    private static void Multiply(double[,] left, double[,] right, double[,] result, int r, bool transposeRight)
    {
        for (var i = 0; i < r; i++)
        {
            for (var j = 0; j < r; j++)
            {
                double sum = 0;
                for (var k = 0; k < r; k++)
                {
                    sum += left[i, k] * (transposeRight ? right[j, k] : right[k, j]);
                }
                result[i, j] = sum;
            }
        }
    }

    /// <summary>Roots of 1 ± Σ c_k z^k closer to the unit circle than this are refused (R's auto.arima's rule).</summary>
    public const double RootModulusMin = 1.01;

    private static bool NearUnitRoot(double[] c, int sign)
    {
        var last = Array.FindLastIndex(c, v => v != 0);
        if (last < 0)
        {
            return false;
        }
        var coefficients = new double[last + 2];
        coefficients[0] = 1;
        for (var k = 0; k <= last; k++)
        {
            coefficients[k + 1] = sign * c[k];
        }
        return new MathNet.Numerics.Polynomial(coefficients).Roots().Any(root => root.Magnitude < RootModulusMin);
    }

    /// <summary>The expanded AR and MA polynomials and μ from the unconstrained parameter vector
    /// (p, q, P, Q transformed coefficients, then the constant in units of the series' spread).</summary>
    private static (double[] Ar, double[] Ma, double Mean) Expand(ArimaOrder order, double[] u, double wMean, double wScale)
    {
        var i = 0;
        var ar = Stationary(u.AsSpan(i, order.P));
        i += order.P;
        var ma = Stationary(u.AsSpan(i, order.Q)).Select(v => -v).ToArray();
        i += order.Q;
        var sar = Stationary(u.AsSpan(i, order.SeasonalP));
        i += order.SeasonalP;
        var sma = Stationary(u.AsSpan(i, order.SeasonalQ)).Select(v => -v).ToArray();
        i += order.SeasonalQ;
        var mean = order.Constant ? wMean + wScale * u[i] : 0;
        // (1 − Σ φ_i B^i)(1 − Σ Φ_j B^{mj}) = 1 − Σ a_k B^k ; (1 + Σ θ_i B^i)(1 + Σ Θ_j B^{mj}) = 1 + Σ b_k B^k
        var m = order.Period;
        var arFull = Multiply(ar, sar, m, sign: -1);
        var maFull = Multiply(ma, sma, m, sign: +1);
        return (arFull, maFull, mean);
    }

    /// <summary>Coefficients c_k of (1 ∓ Σ x_i B^i)(1 ∓ Σ y_j B^{mj}) written as 1 ∓ Σ c_k B^k.</summary>
    private static double[] Multiply(double[] x, double[] seasonal, int m, int sign)
    {
        var length = x.Length + m * seasonal.Length;
        var c = new double[length];
        for (var i = 0; i < x.Length; i++)
        {
            c[i] += x[i];
        }
        for (var j = 0; j < seasonal.Length; j++)
        {
            c[m * (j + 1) - 1] += seasonal[j];
            for (var i = 0; i < x.Length; i++)
            {
                // the cross term (∓x_i)(∓y_j) = +x_i y_j is, in the "1 ∓ Σ c" form, c = ∓ x_i y_j
                c[m * (j + 1) + i] += sign * x[i] * seasonal[j];
            }
        }
        return c;
    }

    /// <summary>AR coefficients of a stationary polynomial from unconstrained values: partial autocorrelations
    /// tanh(u) in (−1, 1), then the Durbin–Levinson recursion.</summary>
    private static double[] Stationary(ReadOnlySpan<double> u)
    {
        var p = u.Length;
        var phi = new double[p];
        var previous = new double[p];
        for (var k = 0; k < p; k++)
        {
            var r = Math.Tanh(u[k]);
            Array.Copy(phi, previous, k);
            phi[k] = r;
            for (var j = 0; j < k; j++)
            {
                phi[j] = previous[j] - r * previous[k - 1 - j];
            }
        }
        return phi;
    }

    /// <summary>Conditional sum of squares: residuals from position <paramref name="condition"/> on, earlier ones 0.</summary>
    private static double SumOfSquares(double[] w, double[] ar, double[] ma, double mean, int condition, double[] residuals)
    {
        Array.Clear(residuals);
        double sse = 0;
        for (var t = condition; t < w.Length; t++)
        {
            var value = w[t] - mean;
            for (var k = 0; k < ar.Length; k++)
            {
                value -= ar[k] * (w[t - k - 1] - mean);
            }
            for (var k = 0; k < ma.Length && t - k - 1 >= 0; k++)
            {
                value -= ma[k] * residuals[t - k - 1];
            }
            residuals[t] = value;
            sse += value * value;
        }
        return double.IsFinite(sse) ? sse : double.PositiveInfinity;
    }

    /// <summary>Point forecasts (future errors 0, then the differences undone) and normal 80/95 % intervals from
    /// the ψ-weights of the full model.</summary>
    public static Forecast Predict(ArimaFit fit, TimeSeries train, int horizon)
    {
        if (horizon < 1)
        {
            throw new ForecastInputException($"{train.Name}: horizon must be at least 1, not {horizon}");
        }
        var order = fit.Order;
        var y = train.Values;
        var w = Differenced(y, order);
        var n = w.Length;
        var wAll = new double[n + horizon];
        var eAll = new double[n + horizon];
        Array.Copy(w, wAll, n);
        Array.Copy(fit.Residuals, eAll, n);
        for (var t = n; t < n + horizon; t++)
        {
            var value = fit.Mean;
            for (var k = 0; k < fit.Ar.Length; k++)
            {
                value += fit.Ar[k] * (t - k - 1 >= 0 ? wAll[t - k - 1] - fit.Mean : 0);
            }
            for (var k = 0; k < fit.Ma.Length; k++)
            {
                value += fit.Ma[k] * (t - k - 1 >= 0 ? eAll[t - k - 1] : 0);
            }
            wAll[t] = value;
        }
        // undo the differences: y_t = w_t + Σ δ_i y_{t−i} with (1 − B)^d (1 − B^m)^D = 1 − Σ δ_i B^i
        var delta = DifferencePolynomial(order);
        var yAll = new double[y.Length + horizon];
        Array.Copy(y, yAll, y.Length);
        for (var h = 0; h < horizon; h++)
        {
            var t = y.Length + h;
            var value = wAll[n + h];
            for (var i = 0; i < delta.Length; i++)
            {
                value += delta[i] * yAll[t - i - 1];
            }
            yAll[t] = value;
        }
        // ψ-weights of (1 − Σ a_k B^k)(1 − Σ δ_i B^i) y = (1 + Σ b_k B^k) e
        var fullAr = Convolve(fit.Ar, delta);
        var psi = new double[horizon];
        psi[0] = 1;
        for (var j = 1; j < horizon; j++)
        {
            var value = j - 1 < fit.Ma.Length ? fit.Ma[j - 1] : 0;
            for (var i = 1; i <= Math.Min(j, fullAr.Length); i++)
            {
                value += fullAr[i - 1] * psi[j - i];
            }
            psi[j] = value;
        }
        var mean = yAll[y.Length..];
        var (lo80, hi80, lo95, hi95) = (new double[horizon], new double[horizon], new double[horizon], new double[horizon]);
        double cumulative = 0;
        for (var h = 0; h < horizon; h++)
        {
            cumulative += psi[h] * psi[h];
            var se = Math.Sqrt(fit.Sigma2 * cumulative);
            (lo80[h], hi80[h]) = (mean[h] - NormalZ.Z80 * se, mean[h] + NormalZ.Z80 * se);
            (lo95[h], hi95[h]) = (mean[h] - NormalZ.Z95 * se, mean[h] + NormalZ.Z95 * se);
        }
        return new Forecast(order.ToString(), mean, lo80, hi80, lo95, hi95);
    }

    /// <summary>δ with (1 − B)^d (1 − B^m)^D = 1 − Σ δ_i B^i.</summary>
    private static double[] DifferencePolynomial(ArimaOrder order)
    {
        var poly = new double[] { 1 }; // ascending powers of B, full polynomial
        for (var i = 0; i < order.D; i++)
        {
            poly = PolyMultiply(poly, [1, -1]);
        }
        for (var i = 0; i < order.SeasonalD; i++)
        {
            var seasonal = new double[order.Period + 1];
            (seasonal[0], seasonal[order.Period]) = (1, -1);
            poly = PolyMultiply(poly, seasonal);
        }
        return poly.Skip(1).Select(c => -c).ToArray();
    }

    /// <summary>a with (1 − Σ x_k B^k)(1 − Σ y_k B^k) = 1 − Σ a_k B^k.</summary>
    private static double[] Convolve(double[] x, double[] y)
    {
        var px = new double[x.Length + 1];
        var py = new double[y.Length + 1];
        (px[0], py[0]) = (1, 1);
        for (var i = 0; i < x.Length; i++)
        {
            px[i + 1] = -x[i];
        }
        for (var i = 0; i < y.Length; i++)
        {
            py[i + 1] = -y[i];
        }
        return PolyMultiply(px, py).Skip(1).Select(c => -c).ToArray();
    }

    private static double[] PolyMultiply(double[] a, double[] b)
    {
        var c = new double[a.Length + b.Length - 1];
        for (var i = 0; i < a.Length; i++)
        {
            for (var j = 0; j < b.Length; j++)
            {
                c[i + j] += a[i] * b[j];
            }
        }
        return c;
    }
}
