using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Vicreg.Training;

/// <summary>
/// Curves from stats.txt files, drawn as one SVG of small panels (one per figure: the loss, each term, the std,
/// RankMe, kNN accuracy, the learning rate) against the step, every run in its own color with a legend.
/// Written by hand (plain SVG 1.1 text, no library): lines are polylines, axes carry their range as labels.
/// </summary>
public static class StatsCurves
{
    /// <summary>The figures drawn, in order, with the axis label of each.</summary>
    public static readonly (string Key, string Label)[] Figures =
    [
        ("loss", "loss (weighted)"), ("invariance", "invariance"), ("variance", "variance"), ("covariance", "covariance"),
        ("on_diagonal", "on-diagonal (Barlow Twins)"), ("off_diagonal", "off-diagonal (Barlow Twins)"),
        ("embedding_std", "embedding std (mean per dim)"), ("rankme_representation", "RankMe, representation"),
        ("rankme_embedding", "RankMe, embedding"), ("knn_top1", "kNN top-1 (%)"), ("lr", "learning rate"),
        ("lr_weights", "learning rate, weights (Barlow Twins)"),
    ];

    private static readonly string[] s_colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    /// <summary>Each figure's (step, value) points in one stats.txt: the JSON lines after the command line(s); lines
    /// that are not JSON objects (the command line, a resumed run's) are skipped.</summary>
    public static Dictionary<string, List<(double Step, double Value)>> Read(string statsPath)
    {
        var series = Figures.ToDictionary(f => f.Key, _ => new List<(double, double)>());
        foreach (var line in File.ReadLines(statsPath))
        {
            if (!line.StartsWith('{')) continue;
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (!root.TryGetProperty("step", out var step) || step.ValueKind != JsonValueKind.Number) continue;
            foreach (var (key, _) in Figures)
                if (root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()))
                    series[key].Add((step.GetDouble(), v.GetDouble()));
        }
        return series;
    }

    /// <summary>The SVG of the runs (name, series); figures no run logged are left out.</summary>
    public static string Svg(IReadOnlyList<(string Name, Dictionary<string, List<(double Step, double Value)>> Series)> runs)
    {
        const int panelWidth = 360, panelHeight = 220, columns = 3, margin = 60, legendLine = 18;
        var figures = Figures.Where(f => runs.Any(r => r.Series[f.Key].Count > 0)).ToArray();
        int rows = (figures.Length + columns - 1) / columns;
        int legendHeight = runs.Count * legendLine + 20;
        int width = columns * panelWidth, height = rows * panelHeight + legendHeight;
        var w = new StringBuilder();
        w.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        w.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        for (int r = 0; r < runs.Count; r++)
        {
            int y = 16 + r * legendLine;
            w.Append(CultureInfo.InvariantCulture, $"<line x1=\"10\" y1=\"{y - 4}\" x2=\"34\" y2=\"{y - 4}\" stroke=\"{Color(r)}\" stroke-width=\"2\"/>");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"40\" y=\"{y}\">{Escape(runs[r].Name)}</text>\n");
        }
        for (int f = 0; f < figures.Length; f++)
        {
            var (key, label) = figures[f];
            double left = f % columns * panelWidth + margin, top = legendHeight + f / columns * panelHeight + 20;
            double plotWidth = panelWidth - margin - 15, plotHeight = panelHeight - 60;
            var points = runs.SelectMany(r => r.Series[key]).ToArray();
            double x0 = points.Min(p => p.Step), x1 = points.Max(p => p.Step);
            double y0 = points.Min(p => p.Value), y1 = points.Max(p => p.Value);
            if (x1 == x0) x1 = x0 + 1;
            if (y1 == y0) { y0 -= 0.5 * Math.Max(Math.Abs(y0), 1e-12); y1 += 0.5 * Math.Max(Math.Abs(y1), 1e-12); }
            w.Append(CultureInfo.InvariantCulture, $"<g id=\"{key}\">\n");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{top - 6}\" font-weight=\"bold\">{Escape(label)}</text>\n");
            w.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"#888\"/>\n");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{top + 10}\" text-anchor=\"end\">{Number(y1)}</text>");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{top + plotHeight}\" text-anchor=\"end\">{Number(y0)}</text>\n");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{top + plotHeight + 14}\">{Number(x0)}</text>");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + plotWidth}\" y=\"{top + plotHeight + 14}\" text-anchor=\"end\">{Number(x1)}</text>");
            w.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + plotWidth / 2}\" y=\"{top + plotHeight + 28}\" text-anchor=\"middle\">step</text>\n");
            for (int r = 0; r < runs.Count; r++)
            {
                var series = runs[r].Series[key];
                if (series.Count == 0) continue;
                var coordinates = series.Select(p => string.Create(CultureInfo.InvariantCulture,
                    $"{left + (p.Step - x0) / (x1 - x0) * plotWidth:F1},{top + (y1 - p.Value) / (y1 - y0) * plotHeight:F1}"));
                w.Append(CultureInfo.InvariantCulture, $"<polyline class=\"run{r}\" fill=\"none\" stroke=\"{Color(r)}\" stroke-width=\"1.5\" points=\"{string.Join(' ', coordinates)}\"/>\n");
            }
            w.Append("</g>\n");
        }
        w.Append("</svg>\n");
        return w.ToString();
    }

    private static string Color(int run) => s_colors[run % s_colors.Length];

    private static string Number(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
