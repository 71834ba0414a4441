using Extip.Kubernetes.Status;
using Spectre.Console;

namespace Extip.Kubernetes.Tests.Status;

public sealed class StatusTextTests
{
    /// <summary>The text as a terminal without colours shows it, 160 columns wide, line by line with trailing blanks cut.</summary>
    private static string[] Render(StatusReport report, bool wide = false)
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 160;
        StatusText.Render(console, report, wide);
        return writer.ToString().Split('\n').Select(l => l.TrimEnd()).ToArray();
    }

    /// <summary>The cells of the table row whose first cells are <paramref name="first"/>.</summary>
    private static string[] Row(string[] lines, params string[] first) =>
        lines.Where(l => l.StartsWith('│')).Select(l => l.Trim('│').Split('│').Select(c => c.Trim()).ToArray())
            .Single(cells => cells.Take(first.Length).SequenceEqual(first));

    [Fact]
    public void Render_KnownSite_NodesInNetshowForm()
    {
        var lines = Render(StatusSite.Report());

        Assert.Contains("node-a  live  not ready InterfaceMissing: 10.9.9.9/32 on vip0: interface vip0 does not exist on this node; waiting for it", lines);
        Assert.Contains("├── UP    lo        IP: 127.0.0.1/8, 10.1.3.9/32, 200.1.1.1/32", lines);
        Assert.Contains("│   └── 200.1.1.1/32  Held  BGP  web/front  claim 200-1-1-1", lines);
        Assert.Contains("├── UP    eth0      IP: 192.168.1.10/24, 2001:db8::a/64", lines);
        Assert.Contains("├── DOWN  eth1      IP: -", lines);
        Assert.Contains("└── ??    vip0      IP: 10.9.9.9/32  (interface not on the node)", lines);
        Assert.Contains("    └── 10.9.9.9/32  Pending  Local  web/front  claim 10-9-9-9  interface vip0 does not exist on this node; waiting for it", lines);
    }

    [Fact]
    public void Render_GoneNode_SaysSoAndHoldsNothing()
    {
        var lines = Render(StatusSite.Report());

        // Expired at renewTime (2 minutes ago) + 4 s.
        Assert.Contains("node-b  GONE Lease expired 116s ago  (below: as it last reported)", lines);
        Assert.Contains("    └── 200.1.1.2/32  not held (agent gone; last reported Held)  BGP  web/api  claim 200-1-1-2", lines);
        Assert.Contains("node-c  GONE Lease released: the agent stopped  (below: as it last reported)", lines);
        Assert.DoesNotContain(lines, l => l.Contains("200.1.1.2/32  Held", StringComparison.Ordinal));
        Assert.Equal(["node-b", "tor-v4", "10.0.0.1", "Established (agent gone)", "Up", "1"], Row(lines, "node-b", "tor-v4"));
    }

    [Fact]
    public void Render_KnownSite_ServicesPeersPools()
    {
        var lines = Render(StatusSite.Report());

        Assert.Equal(["web/front", "LoadBalancer", "10.9.9.9", "Local", "node-a Pending"], Row(lines, "web/front"));
        Assert.Equal(["", "", "200.1.1.1", "BGP", "node-a Held"], Row(lines, "", "", "200.1.1.1"));
        Assert.Equal(["web/api", "LoadBalancer", "200.1.1.2", "BGP", "node-b Gone"], Row(lines, "web/api"));
        Assert.Equal(["web/db", "LoadBalancer", "200.1.1.3", "BGP", "none"], Row(lines, "web/db"));
        Assert.Equal(["web/pending", "LoadBalancer", "-", "-", "no address allocated"], Row(lines, "web/pending"));
        Assert.DoesNotContain(lines, l => l.Contains("kube-system/dns", StringComparison.Ordinal) || l.Contains("other/foreign", StringComparison.Ordinal));
        Assert.Contains("allocated but on no node (no live, eligible agent): 200.1.1.3", lines);

        Assert.Equal(["NODE", "PEER", "ADDRESS", "SESSION", "BFD", "PREFIXES"], Row(lines, "NODE"));
        Assert.Equal(["node-a", "tor-v4", "10.0.0.1", "Established", "Up", "1"], Row(lines, "node-a", "tor-v4"));
        Assert.Equal(["node-a", "tor-v6", "2001:db8::1", "Active", "Down", "0"], Row(lines, "node-a", "tor-v6"));
        Assert.Equal(["-", "tor-x", "10.0.0.9", "NoSession", "-", "0"], Row(lines, "-", "tor-x"));

        Assert.Equal(["POOL", "MODE", "IPV4 USED", "IPV6 USED", "CLAIMS", "STATUS"], Row(lines, "POOL"));
        Assert.Equal(["seed", "BGP", "3/16", "0/256", "3", "ok"], Row(lines, "seed"));
        Assert.Equal(["spare", "Local", "1/1", "0/0", "1", "no free IPv4 address (1 in use)"], Row(lines, "spare"));
    }

    [Fact]
    public void Render_Wide_AddsTimesMessagesAndPoolRanges()
    {
        var lines = Render(StatusSite.Report(), wide: true);

        Assert.Contains(lines, l => l.StartsWith("node-a  live", StringComparison.Ordinal) && l.EndsWith("updated 5s ago", StringComparison.Ordinal));
        Assert.Contains("│   └── 200.1.1.1/32  Held  BGP  web/front  claim 200-1-1-1  pool seed  since 10m", lines);
        Assert.Equal(["web/front", "LoadBalancer", "10.9.9.9", "Local", "node-a Pending", "spare"], Row(lines, "web/front"));
        Assert.Equal(["node-a", "tor-v6", "2001:db8::1", "Active", "Down", "0", "65000", "-", "connection refused"], Row(lines, "node-a", "tor-v6"));
        Assert.Equal(["node-a", "tor-v4", "10.0.0.1", "Established", "Up", "1", "65000", "10m", ""], Row(lines, "node-a", "tor-v4"));
        Assert.Equal(["seed", "BGP", "3/16", "0/256", "3", "ok", "200.1.1.0/28, 2001:db8:1000::/120"], Row(lines, "seed"));
    }

    [Fact]
    public void Render_NoNodes_SaysNoAgentReported()
    {
        var report = StatusReport.Build([], [], [], [], [], [], StatusSite.Now);

        Assert.Contains("no IPNodes: no agent has reported yet", Render(report));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(119, "119s")]
    [InlineData(120, "2m")]
    [InlineData(7_199, "120m")]
    [InlineData(7_200, "2h")]
    [InlineData(48 * 3600, "2d")]
    [InlineData(-5, "0s")]
    public void Ago_Seconds_ShortForm(int seconds, string expected)
    {
        Assert.Equal(expected, StatusText.Ago(StatusSite.Now.AddSeconds(-seconds), StatusSite.Now));
    }
}
