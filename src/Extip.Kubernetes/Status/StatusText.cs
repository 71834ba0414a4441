using System.Globalization;
using Extip.Kubernetes.Models;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Extip.Kubernetes.Status;

/// <summary>
/// <c>extip status</c> for a terminal: per node a tree of its interfaces in the seed's
/// <c>netshow l3</c> form (<c>UP lo IP: 127.0.0.1/8, 10.1.3.9/32</c>) with extip's addresses
/// highlighted and detailed beneath; then tables of Services, BGP peers and pools. Wide adds
/// times, messages and the pools' ranges. Every state is written out as a word too, so that the
/// output says the same without colours.
/// </summary>
public static class StatusText
{
    public static void Render(IAnsiConsole console, StatusReport report, bool wide = false)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        console.Write(new Rule("[bold]nodes[/]").LeftJustified());
        if (report.Nodes.Count == 0)
        {
            console.MarkupLine("[yellow]no IPNodes: no agent has reported yet[/]");
        }

        foreach (var node in report.Nodes)
        {
            console.Write(NodeTree(node, report.Now, wide));
        }

        console.Write(new Rule("[bold]services[/]").LeftJustified());
        console.Write(Services(report, wide));
        if (report.Unplaced.Count > 0)
        {
            console.MarkupLine($"[yellow]allocated but on no node (no live, eligible agent):[/] {Esc(string.Join(", ", report.Unplaced))}");
        }

        console.Write(new Rule("[bold]BGP peers[/]").LeftJustified());
        console.Write(Peers(report, wide));
        console.Write(new Rule("[bold]pools[/]").LeftJustified());
        console.Write(Pools(report, wide));
    }

    private static Tree NodeTree(NodeReport node, DateTime now, bool wide)
    {
        var gone = node.Agent.State == AgentState.Gone;
        var head = $"[bold]{Esc(node.Name)}[/]  {Agent(node.Agent, now)}";
        head += gone ? "  [grey](below: as it last reported)[/]"
            : node.Ready ? $"  [green]ready[/] {Esc(node.ReadyReason)}"
            : $"  [red]not ready[/] {Esc(node.ReadyReason)}: {Esc(node.ReadyMessage)}";
        if (wide)
        {
            head += $"  [grey]updated {Ago(node.LastUpdate, now)} ago[/]";
        }

        var tree = new Tree(head) { Guide = TreeGuide.Line };
        foreach (var i in node.Interfaces)
        {
            var up = i.Up switch
            {
                true => "[green]UP  [/]",
                false => "[red]DOWN[/]",
                null => "[yellow]??  [/]",
            };
            var name = i.Name.PadRight(Math.Max(8, node.Interfaces.Max(x => x.Name.Length)));
            var list = i.Addresses.Count == 0 ? "-" : string.Join(", ", i.Addresses.Select(a => a.Extip is { } e ? Highlight(a.Address, e, gone) : Esc(a.Address)));
            var line = $"{up}  {Esc(name)}  IP: {list}";
            if (i.Up is null)
            {
                line += "  [yellow](interface not on the node)[/]";
            }

            var branch = tree.AddNode(line);
            foreach (var a in i.Addresses.Where(a => a.Extip is not null))
            {
                branch.AddNode(Detail(a.Address, a.Extip!, gone, now, wide));
            }
        }

        return tree;
    }

    private static string Agent(AgentLiveness agent, DateTime now) => agent.State switch
    {
        AgentState.Live => "[green]live[/]",
        AgentState.Gone => $"[red bold]GONE[/] [red]{Esc(agent.Reason)}{(agent.ValidUntil is { } until ? $" {Ago(until, now)} ago" : string.Empty)}[/]",
        _ => $"[yellow]liveness unknown[/] ({Esc(agent.Reason)})",
    };

    private static string Highlight(string address, ExtipAddress e, bool gone) =>
        gone ? $"[grey strikethrough]{Esc(address)}[/]"
        : e.Held ? $"[bold green]{Esc(address)}[/]"
        : $"[bold yellow]{Esc(address)}[/]";

    private static string Detail(string address, ExtipAddress e, bool gone, DateTime now, bool wide)
    {
        var state = gone ? $"[grey]not held (agent gone; last reported {Esc(e.State)})[/]"
            : e.Held ? "[green]Held[/]"
            : $"[yellow]{Esc(e.State)}[/]";
        var services = e.Services.Count == 0 ? "[grey]no Service[/]" : Esc(string.Join(", ", e.Services));
        var text = $"{Highlight(address, e, gone)}  {state}  {Esc(e.Mode)}  {services}  [grey]claim[/] {Esc(e.Claim.Length == 0 ? "(none)" : e.Claim)}";
        if (wide)
        {
            text += $"  [grey]pool[/] {Esc(e.Pool ?? "-")}  [grey]since[/] {Ago(e.Since, now)}";
        }

        if (e.Message is { } m && (wide || !e.Held))
        {
            text += $"  [grey]{Esc(m)}[/]";
        }

        return text;
    }

    private static Table Services(StatusReport report, bool wide)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("SERVICE", "TYPE", "ADDRESS", "MODE", "NODES");
        if (wide)
        {
            table.AddColumn("POOL");
        }

        foreach (var s in report.Services)
        {
            if (s.Addresses.Count == 0)
            {
                Row(table, wide, Esc(s.Name), Esc(s.Type), "[red]-[/]", "-", $"[red]{Esc(s.Problem ?? string.Empty)}[/]", "-");
                continue;
            }

            for (var i = 0; i < s.Addresses.Count; i++)
            {
                var a = s.Addresses[i];
                var nodes = a.Nodes.Count == 0 ? "[red]none[/]" : string.Join(", ", a.Nodes.Select(n => $"{Esc(n.Node)} {HoldState(n.State)}"));
                Row(table, wide, i == 0 ? Esc(s.Name) : string.Empty, i == 0 ? Esc(s.Type) : string.Empty, Esc(a.Address), Esc(a.Mode), nodes, Esc(a.Pool ?? "-"));
            }
        }

        return table;
    }

    private static string HoldState(string state) => state switch
    {
        NodeAddressStatus.HeldState => $"[green]{NodeAddressStatus.HeldState}[/]",
        NodeHold.Gone => "[red]Gone[/]",
        _ => $"[yellow]{Esc(state)}[/]",
    };

    private static Table Peers(StatusReport report, bool wide)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("NODE", "PEER", "ADDRESS", "SESSION", "BFD", "PREFIXES");
        if (wide)
        {
            table.AddColumns("ASN", "SINCE", "MESSAGE");
        }

        foreach (var p in report.Peers)
        {
            var session = p.Stale ? $"[grey strikethrough]{Esc(p.State)}[/] [grey](agent gone)[/]"
                : p.State == "Established" ? "[green]Established[/]"
                : $"[red]{Esc(p.State)}[/]";
            var bfd = p.Bfd is null ? "-" : p.Stale ? $"[grey]{Esc(p.Bfd)}[/]" : p.Bfd == "Up" ? "[green]Up[/]" : $"[red]{Esc(p.Bfd)}[/]";
            var cells = new List<string> { Esc(p.Node ?? "-"), Esc(p.Name), Esc(p.Address), session, bfd, p.Prefixes.ToString(CultureInfo.InvariantCulture) };
            if (wide)
            {
                cells.AddRange([p.Asn?.ToString(CultureInfo.InvariantCulture) ?? "-", Ago(p.Since, report.Now), Esc(p.Message ?? string.Empty)]);
            }

            table.AddRow(cells.Select(c => (IRenderable)new Markup(c)).ToArray());
        }

        return table;
    }

    private static Table Pools(StatusReport report, bool wide)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("POOL", "MODE", "IPV4 USED", "IPV6 USED", "CLAIMS", "STATUS");
        if (wide)
        {
            table.AddColumn("ADDRESSES");
        }

        foreach (var p in report.Pools)
        {
            var cells = new List<string>
            {
                Esc(p.Name),
                Esc(p.Mode),
                $"{p.InUseIPv4.ToString(CultureInfo.InvariantCulture)}/{Esc(p.CapacityIPv4)}",
                $"{p.InUseIPv6.ToString(CultureInfo.InvariantCulture)}/{Esc(p.CapacityIPv6)}",
                p.Claims.ToString(CultureInfo.InvariantCulture),
                p.Problem is null ? "[green]ok[/]" : $"[yellow]{Esc(p.Problem)}[/]",
            };
            if (wide)
            {
                cells.Add(Esc(string.Join(", ", p.Addresses)));
            }

            table.AddRow(cells.Select(c => (IRenderable)new Markup(c)).ToArray());
        }

        return table;
    }

    private static void Row(Table table, bool wide, params string[] cells) =>
        table.AddRow((wide ? cells : cells[..^1]).Select(c => (IRenderable)new Markup(c)).ToArray());

    private static string Esc(string s) => Markup.Escape(s);

    /// <summary>How long before <paramref name="now"/> (the report's time, so that output is reproducible): 5s, 3m, 2h, 4d.</summary>
    internal static string Ago(DateTime? t, DateTime now)
    {
        if (t is not { } at)
        {
            return "-";
        }

        var d = now - AgentLiveness.Utc(at);
        if (d < TimeSpan.Zero)
        {
            d = TimeSpan.Zero;
        }

        return d.TotalSeconds < 120 ? $"{d.TotalSeconds:F0}s"
            : d.TotalMinutes < 120 ? $"{d.TotalMinutes:F0}m"
            : d.TotalHours < 48 ? $"{d.TotalHours:F0}h"
            : $"{d.TotalDays:F0}d";
    }
}
