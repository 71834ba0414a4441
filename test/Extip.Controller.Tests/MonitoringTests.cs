using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Extip.Testing.Fixtures;

namespace Extip.Controller.Tests;

/// <summary>
/// deploy/monitoring: the alert rules pass Prometheus' own checker and unit tests (promtool from
/// Debian's prometheus), every alert has a case where it fires, and the rules and the Grafana
/// dashboard query only metrics extip exports, the dashboard every one of them.
/// </summary>
public sealed partial class MonitoringTests
{
    private static readonly string Dir = Path.Combine(ClusterFixture.RepoRoot(), "deploy", "monitoring");

    [Fact]
    public void AlertRules_PassPromtoolsCheckAndUnitTests_AndEveryAlertHasACaseWhereItFires()
    {
        Assert.Equal(0, Promtool("check", "rules", "alerts.yaml").Code);
        var (code, output) = Promtool("test", "rules", "alerts.test.yaml");
        Assert.True(code == 0, output);

        var alerts = AlertName().Matches(File.ReadAllText(Path.Combine(Dir, "alerts.yaml"))).Select(m => m.Groups[1].Value).ToList();
        Assert.True(alerts.Count >= 6, string.Join(", ", alerts));
        var tests = File.ReadAllText(Path.Combine(Dir, "alerts.test.yaml"));
        var fires = TestCase().Matches(tests).Where(m => m.Groups[2].Value.Contains("exp_labels", StringComparison.Ordinal)).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        None(alerts.Where(a => !fires.Contains(a)), "alerts with no case where they fire");
    }

    [Fact]
    public void AlertsAndDashboard_QueryOnlyMetricsExtipExports_AndTheDashboardShowsEachOfThem()
    {
        var exported = Exported();
        Assert.Contains("extip_leader", exported);
        Assert.Contains("extip_agent_bgp_session_up", exported);

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "grafana-dashboard.json")));
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().ToList();
        Assert.NotEmpty(panels);
        var exprs = new List<string>();
        foreach (var panel in panels)
        {
            var targets = panel.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!).ToList();
            Assert.True(targets.Count > 0 && targets.All(e => e.Length > 0), $"panel \"{panel.GetProperty("title")}\" has no query");
            exprs.AddRange(targets);
        }

        var shown = exprs.SelectMany(e => Metrics(e, exported)).ToHashSet(StringComparer.Ordinal);
        None(shown.Where(m => !exported.Contains(m)), "metrics the dashboard queries that extip does not export");
        None(exported.Where(m => !shown.Contains(m)), "metrics extip exports that the dashboard does not show");
        Assert.DoesNotContain(exprs, e => Regex.IsMatch(e, @"\bup\b"));

        var rules = File.ReadAllText(Path.Combine(Dir, "alerts.yaml"));
        None(Metrics(rules, exported).Where(m => !exported.Contains(m)), "metrics the alerts query that extip does not export");
    }

    private static void None(IEnumerable<string> found, string what)
    {
        var list = found.ToList();
        Assert.True(list.Count == 0, $"{what}: {string.Join(", ", list)}");
    }

    /// <summary>The metric names extip's code registers (a histogram's series are NAME_bucket/_sum/_count).</summary>
    private static HashSet<string> Exported()
    {
        var src = Path.Combine(ClusterFixture.RepoRoot(), "src");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal)))
        {
            foreach (Match m in Registration().Matches(File.ReadAllText(file)))
            {
                names.Add(m.Groups[1].Value);
            }
        }

        return names;
    }

    /// <summary>The extip metrics a query names; a histogram's NAME_bucket counts as NAME.</summary>
    private static IEnumerable<string> Metrics(string expr, HashSet<string> exported) =>
        MetricName().Matches(expr).Select(m => exported.Contains(m.Value) ? m.Value : Regex.Replace(m.Value, "_(bucket|sum|count)$", string.Empty));

    private static (int Code, string Output) Promtool(params string[] args)
    {
        var psi = new ProcessStartInfo("promtool") { WorkingDirectory = Dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [GeneratedRegex(@"Create(?:Counter|Gauge|Histogram|Summary)\(\s*""(extip_[a-z0-9_]+)""")]
    private static partial Regex Registration();

    [GeneratedRegex(@"\bextip_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^\s*- alert: (\w+)", RegexOptions.Multiline)]
    private static partial Regex AlertName();

    [GeneratedRegex(@"alertname: (\w+)(.*?)(?=alertname:|\z)", RegexOptions.Singleline)]
    private static partial Regex TestCase();
}
