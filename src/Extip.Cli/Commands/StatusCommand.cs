using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using Extip.Kubernetes.Status;
using k8s;
using Spectre.Console;

namespace Extip.Cli.Commands;

/// <summary><c>extip status</c>: per node, the addresses it holds, their modes, and its BGP sessions.</summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "kubeconfig file; in-cluster config when omitted inside a Pod." };
        var output = new Option<string>("--output", "-o") { Description = "table or json.", DefaultValueFactory = _ => "table" };
        var cmd = new Command("status", "Shows, per node, the addresses it holds, their modes and its peers.") { kubeconfig, output };
        cmd.SetAction(async (r, ct) =>
        {
            var format = r.GetValue(output);
            if (format is not ("table" or "json"))
            {
                await Console.Error.WriteLineAsync($"extip status: --output {format}: expected table or json").ConfigureAwait(false);
                return 2;
            }

            var client = ClusterConnection.Connect(r.GetValue(kubeconfig));
            StatusReport report;
            try
            {
                report = await LoadAsync(client, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or k8s.Autorest.HttpOperationException)
            {
                await Console.Error.WriteLineAsync($"extip status: cannot read IPNodes and IPClaims: {e.Message}").ConfigureAwait(false);
                return 1;
            }

            if (format == "json")
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                Render(AnsiConsole.Console, report);
            }

            return 0;
        });
        return cmd;
    }

    public static async Task<StatusReport> LoadAsync(IKubernetes client, CancellationToken ct)
    {
        var (nodes, _) = await Resources.Custom<IpNode>(client, IpNode.Plural).ListAllAsync(ct).ConfigureAwait(false);
        var (claims, _) = await Resources.Custom<IpClaim>(client, IpClaim.Plural).ListAllAsync(ct).ConfigureAwait(false);
        return StatusReport.Build(nodes, claims);
    }

    public static void Render(IAnsiConsole console, StatusReport report)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        var nodes = new Table().Title("nodes").AddColumns("NODE", "READY", "ADDRESSES", "PEERS", "REASON", "UPDATED");
        foreach (var n in report.Nodes)
        {
            nodes.AddRow(Esc(n.Node), n.Ready ? "[green]yes[/]" : "[red]no[/]", n.Addresses.ToString(CultureInfo.InvariantCulture), n.Peers.ToString(CultureInfo.InvariantCulture), Esc(n.Ready ? n.Reason : $"{n.Reason}: {n.Message}"), Ago(n.LastUpdate));
        }

        console.Write(nodes);
        var addresses = new Table().Title("addresses").AddColumns("NODE", "ADDRESS", "INTERFACE", "MODE", "STATE", "SERVICES", "SINCE");
        foreach (var a in report.Addresses)
        {
            var state = a.State == "Held" ? "[green]Held[/]" : $"[yellow]{Esc(a.State)}[/]" + (a.Message is null ? string.Empty : $" {Esc(a.Message)}");
            addresses.AddRow(Esc(a.Node), Esc(a.Address), Esc(a.Interface), Esc(a.Mode), state, Esc(a.Owners), Ago(a.Since));
        }

        console.Write(addresses);
        if (report.Peers.Count > 0)
        {
            var peers = new Table().Title("BGP peers").AddColumns("NODE", "PEER", "ADDRESS", "STATE", "BFD", "PREFIXES", "MESSAGE");
            foreach (var p in report.Peers)
            {
                var state = p.State == "Established" ? "[green]Established[/]" : $"[red]{Esc(p.State)}[/]";
                peers.AddRow(Esc(p.Node), Esc(p.Name), Esc(p.Address), state, Esc(p.Bfd), p.Prefixes.ToString(CultureInfo.InvariantCulture), Esc(p.Message ?? string.Empty));
            }

            console.Write(peers);
        }

        if (report.Unplaced.Count > 0)
        {
            console.MarkupLine($"[yellow]allocated but on no node (no live, eligible agent):[/] {Esc(string.Join(", ", report.Unplaced))}");
        }
    }

    private static string Esc(string s) => Markup.Escape(s);

    private static string Ago(DateTime? t)
    {
        if (t is not { } at)
        {
            return "-";
        }

        var d = DateTime.UtcNow - at.ToUniversalTime();
        return d.TotalSeconds < 120 ? $"{Math.Max(0, d.TotalSeconds):F0}s" : d.TotalMinutes < 120 ? $"{d.TotalMinutes:F0}m" : $"{d.TotalHours:F0}h";
    }
}
