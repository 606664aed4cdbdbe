using System.Globalization;
using System.Net;
using System.Text;

namespace Surge.Cli;

/// <summary>A small SVG line chart: a few named series over a shared x axis, linear or log-scaled y, optional shaded
/// bands (an interval between two lines), a legend. Enough for the benchmarks' plots and the forecast plots without a
/// plotting stack.</summary>
public static class SvgPlot
{
    private const int Width = 760, Height = 380, Left = 70, Right = 20, Top = 40, Bottom = 50;
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

    public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points);

    /// <summary>A shaded area between <c>Low</c> and <c>High</c> (e.g. a 95 % interval), drawn under the lines.</summary>
    public sealed record Band(string Name, IReadOnlyList<(double X, double Low, double High)> Points);

    /// <summary>Writes the chart. <paramref name="xTicks"/> label chosen x values; a log y axis needs positive values.</summary>
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool logY,
        IReadOnlyList<(double X, string Label)>? xTicks = null, IReadOnlyList<Band>? bands = null)
    {
        bands ??= [];
        var points = series.SelectMany(s => s.Points)
            .Concat(bands.SelectMany(b => b.Points.SelectMany(p => new[] { (p.X, Y: p.Low), (p.X, Y: p.High) }))).ToList();
        var (xMin, xMax) = points.Count == 0 ? (0, 1) : (points.Min(p => p.X), points.Max(p => p.X));
        if (xMax <= xMin)
        {
            xMax = xMin + 1;
        }
        var ys = points.Select(p => p.Y).Where(y => !logY || y > 0).ToList();
        double yMin = logY ? Math.Pow(10, Math.Floor(Math.Log10(ys.DefaultIfEmpty(1).Min()))) : 0;
        double yMax = ys.DefaultIfEmpty(1).Max();
        yMax = logY ? Math.Pow(10, Math.Ceiling(Math.Log10(Math.Max(yMax, yMin * 10)))) : NiceCeiling(yMax);
        double X(double x) => Left + (x - xMin) / (xMax - xMin) * (Width - Left - Right);
        double Y(double y) => logY
            ? Height - Bottom - (Math.Log10(Math.Max(y, yMin)) - Math.Log10(yMin)) / (Math.Log10(yMax) - Math.Log10(yMin)) * (Height - Top - Bottom)
            : Height - Bottom - y / yMax * (Height - Top - Bottom);
        string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n");
        // y grid and labels
        var yTicks = logY
            ? Enumerable.Range(0, (int)Math.Round(Math.Log10(yMax / yMin)) + 1).Select(i => yMin * Math.Pow(10, i)).ToList()
            : Enumerable.Range(0, 6).Select(i => yMax * i / 5).ToList();
        foreach (var tick in yTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(Y(tick))}\" y2=\"{F(Y(tick))}\" stroke=\"#ddd\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{F(Y(tick) + 4)}\" text-anchor=\"end\">{Escape(Short(tick))}</text>\n");
        }
        foreach (var (x, label) in xTicks ?? Enumerable.Range(0, 6).Select(i => (xMin + (xMax - xMin) * i / 5, Short(xMin + (xMax - xMin) * i / 5))).ToList())
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(X(x))}\" x2=\"{F(X(x))}\" y1=\"{Top}\" y2=\"{Height - Bottom}\" stroke=\"#eee\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(x))}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{Escape(label)}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Height - Bottom}\" y2=\"{Height - Bottom}\" stroke=\"#333\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Height - Bottom}\" stroke=\"#333\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(16 {(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");
        foreach (var band in bands)
        {
            var outline = band.Points.Select(p => $"{F(X(p.X))},{F(Y(p.High))}").Concat(band.Points.Reverse().Select(p => $"{F(X(p.X))},{F(Y(p.Low))}"));
            svg.Append(CultureInfo.InvariantCulture, $"<polygon fill=\"#9ecae1\" fill-opacity=\"0.45\" stroke=\"none\" points=\"{string.Join(' ', outline)}\"><title>{Escape(band.Name)}</title></polygon>\n");
        }
        for (var i = 0; i < series.Count; i++)
        {
            var path = string.Join(' ', series[i].Points.Where(p => !logY || p.Y > 0).Select(p => $"{F(X(p.X))},{F(Y(p.Y))}"));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{Colors[i % Colors.Length]}\" stroke-width=\"2\" points=\"{path}\"/>\n");
        }
        // The legend last, on a white box, so no line runs through it.
        var legendWidth = 24 + 7 * series.Select(x => x.Name.Length).DefaultIfEmpty(0).Max();
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left + 4}\" y=\"{Top + 2}\" width=\"{legendWidth}\" height=\"{series.Count * 16 + 6}\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n");
        for (var i = 0; i < series.Count; i++)
        {
            var legendY = Top + 14 + i * 16;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left + 10}\" y=\"{legendY - 5}\" width=\"12\" height=\"3\" fill=\"{Colors[i % Colors.Length]}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + 28}\" y=\"{legendY}\">{Escape(series[i].Name)}</text>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Short(double v) => Math.Abs(v) >= 1e6 ? $"{v / 1e6:0.#}M" : Math.Abs(v) >= 1e3 ? $"{v / 1e3:0.#}k"
        : Math.Abs(v) >= 1 || v == 0 ? v.ToString("0.#", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    private static double NiceCeiling(double v)
    {
        if (v <= 0)
        {
            return 1;
        }
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(v)));
        var step = new[] { 1, 2, 2.5, 5, 10 }.First(s => s * magnitude >= v);
        return step * magnitude;
    }
}
