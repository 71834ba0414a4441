using System.Globalization;
using System.Text;
using Extip.Lab;

namespace Extip.Cli.Bench;

/// <summary>The prober's timeline around each failure as an SVG: answered requests per 10 ms, one panel a phase, the failure marked.</summary>
internal static class FailoverPlot
{
    private const int Width = 900;
    private const int PanelHeight = 140;
    private const double BucketMs = 10;

    public static void Write(string file, IReadOnlyList<(string Name, IReadOnlyList<ProbeSample> Samples, double FailMs)> phases)
    {
        var svg = new StringBuilder();
        var height = (phases.Count * PanelHeight) + 20;
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>\n");
        for (var i = 0; i < phases.Count; i++)
        {
            Panel(svg, phases[i], 10 + (i * PanelHeight));
        }

        svg.Append("</svg>\n");
        File.WriteAllText(file, svg.ToString());
    }

    private static void Panel(StringBuilder svg, (string Name, IReadOnlyList<ProbeSample> Samples, double FailMs) phase, int top)
    {
        // From 0.5 s before the failure to 4.5 s after (or the end of the samples when sooner).
        var from = phase.FailMs - 500;
        var to = Math.Min(phase.FailMs + 4500, phase.Samples.Count == 0 ? from : phase.Samples.Max(s => s.AtMs));
        var buckets = (int)Math.Max(1, Math.Ceiling((to - from) / BucketMs));
        var ok = new int[buckets];
        var failed = new int[buckets];
        foreach (var s in phase.Samples.Where(s => s.AtMs >= from && s.AtMs < to))
        {
            var b = (int)((s.AtMs - from) / BucketMs);
            (s.Ok ? ok : failed)[b]++;
        }

        var max = Math.Max(1, ok.Concat(failed).Max());
        const int left = 50;
        var plotWidth = Width - left - 20;
        var plotHeight = PanelHeight - 45;
        var baseY = top + 20 + plotHeight;
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{top + 12}\" font-weight=\"bold\">{Escape(phase.Name)}: answered (green) and failed (red) requests per {BucketMs} ms; the failure at the blue line</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{baseY}\" x2=\"{left + plotWidth}\" y2=\"{baseY}\" stroke=\"black\"/>\n");
        var w = (double)plotWidth / buckets;
        for (var b = 0; b < buckets; b++)
        {
            var x = left + (b * w);
            var hOk = ok[b] * plotHeight / (double)max;
            var hFail = failed[b] * plotHeight / (double)max;
            if (hOk > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:F1}\" y=\"{baseY - hOk:F1}\" width=\"{Math.Max(w, 0.5):F2}\" height=\"{hOk:F1}\" fill=\"#2a2\"/>\n");
            }

            if (hFail > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:F1}\" y=\"{baseY - hOk - hFail:F1}\" width=\"{Math.Max(w, 0.5):F2}\" height=\"{hFail:F1}\" fill=\"#d22\"/>\n");
            }
        }

        var failX = left + ((phase.FailMs - from) / (to - from) * plotWidth);
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{failX:F1}\" y1=\"{top + 18}\" x2=\"{failX:F1}\" y2=\"{baseY}\" stroke=\"blue\" stroke-dasharray=\"4 2\"/>\n");
        for (var t = 0; t <= to - from; t += 500)
        {
            var x = left + (t / (to - from) * plotWidth);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:F1}\" y=\"{baseY + 14}\" text-anchor=\"middle\">{(t - 500) / 1000.0:F1} s</text>\n");
        }
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
