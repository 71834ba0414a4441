using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Extip.Cli.Commands;
using Extip.Core.Pools;
using Extip.Lab;
using Extip.Netlink;
using k8s;
using Spectre.Console;

namespace Extip.Cli.Lab;

/// <summary>
/// The seed's story played on a running lab: the <c>frontend</c> Service with its external
/// address, the claim and where it landed, the address on the nodes' <c>lo</c>, <c>extip status</c>,
/// the router's ECMP route, and a client's requests answered by the nodes.
/// </summary>
internal sealed class LabDemo(LabState state, IAnsiConsole console)
{
    public const int Requests = 20;

    private readonly IKubernetes _client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));

    /// <summary>Plays the story; true when the client's requests were all answered by the nodes that should answer.</summary>
    public async Task<bool> RunAsync(Stopwatch sinceCommand, CancellationToken ct)
    {
        var spec = state.Spec;
        var addresses = spec.Ipv6 ? new[] { LabObjects.SeedV4, LabObjects.SeedV6 } : [LabObjects.SeedV4];
        var expected = spec.Distribution == Distribution.All ? spec.Agents : Math.Min(1, spec.Agents);
        await Step("the seed's Service", async () =>
        {
            await LabObjects.CreateSeedServiceAsync(_client, spec, ct).ConfigureAwait(false);
            return $"{LabObjects.ServiceNamespace}/{LabObjects.ServiceName} (NodePort, port {spec.Port}, externalIPs {string.Join(", ", addresses.Select(a => a.ToString()))})";
        }).ConfigureAwait(false);

        var holders = new List<string>();
        await Step("claim", async () =>
        {
            var lines = new List<string>();
            foreach (var a in addresses)
            {
                var claim = await Until(() => LabObjects.ClaimAsync(_client, a, ct), c => c?.Spec.Nodes.Count == expected, $"the claim for {a} naming {expected} node(s)", ct).ConfigureAwait(false);
                holders = [.. claim!.Spec.Nodes.Order(StringComparer.Ordinal)];
                lines.Add($"IPClaim {claim.Metadata.Name}: {claim.Spec.Address}/{claim.Spec.PrefixLength} on {claim.Spec.Interface}, {claim.Spec.Mode}, nodes {string.Join(", ", holders)}");
            }

            return string.Join("\n    ", lines);
        }).ConfigureAwait(false);

        await Step("addresses on the nodes", async () =>
        {
            foreach (var node in holders)
            {
                await Until(() => Task.FromResult(KernelHas(state.Node(node).Netns, addresses)), ok => ok, $"{node}'s kernel holding {string.Join(", ", addresses.Select(a => a.ToString()))}", ct).ConfigureAwait(false);
            }

            return $"on {string.Join(", ", holders)} (what `netshow l3` showed in the seed):";
        }).ConfigureAwait(false);
        ShowInterfaces(addresses);

        Console.WriteLine("  $ extip status");
        Extip.Kubernetes.Status.StatusText.Render(console, await StatusCommand.LoadAsync(_client, Extip.Kubernetes.Models.ExtipApi.DefaultNamespace, ct).ConfigureAwait(false));

        if (spec.Mode == AnnounceMode.BGP)
        {
            await Step("the router's route", async () =>
            {
                var lines = new List<string>();
                foreach (var a in addresses)
                {
                    var hops = await Until(() => Task.FromResult(Fabric.NextHops(state.Router, a)), h => h.Count == expected, $"the router's kernel routing {a} to {expected} node(s)", ct).ConfigureAwait(false);
                    lines.Add($"{a} via {string.Join(", ", hops.Select(h => $"{h} ({state.NodeOf(h)})"))}");
                    lines.AddRange(Shell.Run("ip", ["-n", state.Router, a.AddressFamily == AddressFamily.InterNetwork ? "-4" : "-6", "route", "show", a.ToString()], check: false)
                        .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "  $ ip route: " + l.TrimEnd()));
                }

                return string.Join("\n    ", lines);
            }).ConfigureAwait(false);
        }

        var ok = true;
        foreach (var a in addresses)
        {
            var answers = new Dictionary<string, int>(StringComparer.Ordinal);
            var order = new List<string>();
            await Step($"{Requests} requests from the client to {a}", async () =>
            {
                for (var i = 0; i < Requests; i++)
                {
                    var node = await Responder.AskAsync(state.Client, a, spec.Port, TimeSpan.FromSeconds(2)).ConfigureAwait(false) ?? "no answer";
                    answers[node] = answers.GetValueOrDefault(node) + 1;
                    order.Add(node);
                }

                return $"answered by {string.Join(", ", answers.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} ×{kv.Value}"))}\n    {string.Join(' ', order)}";
            }).ConfigureAwait(false);
            ok &= !answers.ContainsKey("no answer") && answers.Keys.All(holders.Contains);
        }

        Console.WriteLine($"from the command to the {Requests} answers: {sinceCommand.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        return ok;
    }

    /// <summary>What to do next, and how to take the lab down.</summary>
    public static void Next(IAnsiConsole console, LabState state)
    {
        console.WriteLine();
        console.MarkupLine("The lab stays up. Use it with kubectl:");
        console.MarkupLine($"  [bold]export KUBECONFIG={Markup.Escape(state.Kubeconfig)}[/]");
        console.MarkupLine("Try next:");
        console.MarkupLine("  kubectl get ipclaims                    [grey]# who holds which address[/]");
        console.MarkupLine($"  sudo ./extip lab fail {state.Spec.AgentNodes.FirstOrDefault() ?? "k8s1"}             [grey]# the node dies silently; watch the address move (heal brings it back)[/]");
        console.MarkupLine("  ./extip status                          [grey]# nodes, addresses, peers, Services, pools[/]");
        console.MarkupLine("  sudo ./extip lab probe --seconds 30     [grey]# a client's request stream, live, while you break things[/]");
        console.MarkupLine("Take it down: [bold]sudo ./extip lab down[/]");
    }

    private async Task Step(string what, Func<Task<string>> step)
    {
        var sw = Stopwatch.StartNew();
        var said = await step().ConfigureAwait(false);
        // Plain lines (not Spectre's markup), so that a narrow or redirected terminal does not wrap them.
        Console.WriteLine($"  ✓ {what}: {said} ({sw.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s)");
    }

    /// <summary>Every node's interfaces with their addresses, the Service's highlighted.</summary>
    private void ShowInterfaces(IReadOnlyList<IPAddress> highlight)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("NODE", "INTERFACE", "ADDRESSES");
        foreach (var node in state.Nodes)
        {
            using var nl = RtNetlink.Open(node.Netns);
            var links = nl.Links().ToDictionary(l => l.Index, l => l.Name);
            foreach (var group in nl.Addresses().GroupBy(a => a.InterfaceIndex).OrderBy(g => g.Key))
            {
                var text = string.Join(", ", group.Where(a => !a.Address.IsIPv6LinkLocal).Select(a =>
                {
                    var s = Markup.Escape($"{a.Address}/{a.PrefixLength}");
                    return highlight.Contains(a.Address) ? $"[bold yellow]{s}[/]" : s;
                }));
                table.AddRow(Markup.Escape(node.Name), Markup.Escape(links.GetValueOrDefault(group.Key, "?")), text);
            }
        }

        console.Write(table);
    }

    private static bool KernelHas(string netns, IEnumerable<IPAddress> addresses)
    {
        using var nl = RtNetlink.Open(netns);
        var held = nl.Addresses().Select(a => a.Address).ToHashSet();
        return addresses.All(held.Contains);
    }

    /// <summary>Polls until <paramref name="done"/> holds (2 minutes at most, then says what it waited for).</summary>
    private static async Task<T> Until<T>(Func<Task<T>> read, Func<T, bool> done, string what, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var value = await read().ConfigureAwait(false);
            if (done(value))
            {
                return value;
            }

            if (sw.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"waited 2 minutes for {what}");
            }

            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }
}
