using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Extip.Cli.Lab;
using Extip.Core.Pools;
using Extip.Lab;
using Extip.Lab.Routers;
using Spectre.Console;

namespace Extip.Cli.Commands;

/// <summary>
/// <c>extip lab</c>: the seed's site in network namespaces with extip running in it, shown working
/// (<c>lab</c> = <c>lab demo</c>), left up for the user to break (<c>fail</c>, <c>heal</c>, <c>probe</c>)
/// and taken down (<c>down</c>).
/// </summary>
internal static class LabCommand
{
    public static Command Build()
    {
        var site = new SiteOptions();
        var lab = new Command("lab", "A small bare-metal site in network namespaces (nodes k8s1…k8sN, a router running BIRD, FRR or GoBGP, a client) with extip running in it. Alone: the same as `lab demo`.");
        site.AddTo(lab);
        lab.SetAction((r, ct) => DemoAsync(() => site.Read(r), ct));

        var demo = new Command("demo", "Brings the lab up and plays the seed's story: the frontend Service's address on the nodes, routed by the router, answered by the nodes.");
        site.AddTo(demo);
        demo.SetAction((r, ct) => DemoAsync(() => site.Read(r), ct));

        var up = new Command("up", "Brings the lab up (replacing a lab that is up) and leaves it running.");
        site.AddTo(up);
        up.SetAction((r, ct) => Guard("up", async () =>
        {
            var spec = site.Read(r);
            var state = await LabLauncher.UpAsync(spec, LabHome.Default, Console.Out, ct).ConfigureAwait(false);
            LabDemo.Next(AnsiConsole.Console, state);
            return 0;
        }));

        var down = new Command("down", "Removes every namespace, process, file and address of the lab (also what a crashed lab left).");
        down.SetAction((_, ct) => Guard("down", async () =>
        {
            await LabLauncher.DownAsync(LabHome.Default, Console.Out, ct).ConfigureAwait(false);
            return 0;
        }));

        lab.Subcommands.Add(demo);
        lab.Subcommands.Add(up);
        lab.Subcommands.Add(down);
        lab.Subcommands.Add(Fail());
        lab.Subcommands.Add(Heal());
        lab.Subcommands.Add(Probe());
        lab.Subcommands.Add(Serve());
        return lab;
    }

    private static Task<int> DemoAsync(Func<LabSpec> read, CancellationToken ct) => Guard("demo", async () =>
    {
        var spec = read();
        var since = Stopwatch.StartNew();
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = Math.Max(console.Profile.Width, 160);
        }

        console.MarkupLine($"[bold]extip lab[/]: {spec.Nodes} nodes, agents on {spec.Agents} ({string.Join(", ", spec.AgentNodes)}), router {spec.Router.ToString().ToLowerInvariant()}, {spec.Mode} {spec.Distribution}, API server {spec.ApiServer}");
        var state = await LabLauncher.UpAsync(spec, LabHome.Default, Console.Out, ct).ConfigureAwait(false);
        var ok = await new LabDemo(state, console).RunAsync(since, ct).ConfigureAwait(false);
        LabDemo.Next(console, state);
        if (!ok)
        {
            console.MarkupLine("[red]the client's requests were not all answered by the nodes holding the address[/]");
        }

        return ok ? 0 : 1;
    });

    private static Command Fail()
    {
        var node = new Argument<string>("node") { Description = "A node (k8s1…), `controller` (kill or stop) or `apiserver` (freeze or kill)." };
        var how = new Option<string>("--how") { Description = "freeze: the node dies silently (agent SIGSTOPped, its traffic dropped); hang: only its agent is SIGSTOPped (a stuck process; traffic flows); kill: SIGKILL its agent; stop: SIGTERM its agent; cut-api: only its agent's API traffic is dropped (its data traffic flows); link-down: its uplink loses its carrier (the cable pulled; its agent runs and renews).", DefaultValueFactory = _ => "freeze" };
        how.AcceptOnlyFromAmong("freeze", "hang", "kill", "stop", "cut-api", "link-down");
        var cmd = new Command("fail", "Breaks a node (or the controller) of the running lab.") { node, how };
        cmd.SetAction((r, ct) => Guard("fail", async () =>
        {
            Console.WriteLine(await LabLauncher.SendAsync(LabHome.Default, $"fail {r.GetValue(node)} {r.GetValue(how)}", ct).ConfigureAwait(false));
            return 0;
        }));
        return cmd;
    }

    private static Command Heal()
    {
        var node = new Argument<string>("node") { Description = "A node (k8s1…): gives its agent the API server back (after cut-api), thaws it, or starts its agent (also on a node that had none); or `apiserver`: thaws or restarts it." };
        var cmd = new Command("heal", "Brings a node back into service.") { node };
        cmd.SetAction((r, ct) => Guard("heal", async () =>
        {
            Console.WriteLine(await LabLauncher.SendAsync(LabHome.Default, $"heal {r.GetValue(node)}", ct).ConfigureAwait(false));
            return 0;
        }));
        return cmd;
    }

    private static Command Probe()
    {
        var seconds = new Option<double>("--seconds") { Description = "How long to probe.", DefaultValueFactory = _ => 10 };
        var interval = new Option<double>("--interval-ms") { Description = "A new request every this many milliseconds.", DefaultValueFactory = _ => 10 };
        var address = new Option<string?>("--address") { Description = "The address to probe (default: the seed's 203.0.113.1)." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON line at the end." };
        var cmd = new Command("probe", "From the lab's client, a stream of requests to the Service's address: a live line of successes, failures and the longest gap.") { seconds, interval, address, json };
        cmd.SetAction((r, ct) => Guard("probe", async () =>
        {
            var state = LabHome.Default.Running() ?? throw new LabException("no lab is up: sudo ./extip lab up");
            var target = r.GetValue(address) is { } a ? IPAddress.Parse(a) : LabObjects.SeedV4;
            var prober = new Prober(state.Client, target, state.Spec.Port) { Interval = TimeSpan.FromMilliseconds(r.GetValue(interval)) };
            var live = !Console.IsOutputRedirected;
            var result = await prober.RunAsync(TimeSpan.FromSeconds(r.GetValue(seconds)), p =>
            {
                var line = Line(target, p);
                if (live)
                {
                    Console.Write("\r" + line + "   ");
                }
            }, TimeSpan.FromMilliseconds(live ? 200 : 1000), ct).ConfigureAwait(false);
            Console.WriteLine(live ? string.Empty : Line(target, result));
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    probe = target.ToString(),
                    sent = result.Sent,
                    succeeded = result.Succeeded,
                    failed = result.Failed,
                    longestGapMs = Math.Round(result.LongestGap.TotalMilliseconds, 1),
                    answers = result.Answers,
                }));
            }

            return 0;
        }));
        return cmd;
    }

    private static string Line(IPAddress target, ProbeResult p) => string.Create(CultureInfo.InvariantCulture,
        $"{target}: {p.Succeeded} ok, {p.Failed} failed, longest gap {p.LongestGap.TotalMilliseconds:F0} ms; answered by {string.Join(", ", p.Answers.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}"))}");

    /// <summary>The lab's own process (started detached by up and demo): builds the lab, prints progress, runs it until down.</summary>
    private static Command Serve()
    {
        var spec = new Option<string>("--spec") { Description = "The lab's spec as JSON.", Required = true };
        var cmd = new Command("serve", "Runs a lab in the foreground (what `lab up` starts in the background).") { spec };
        cmd.Hidden = true;
        cmd.SetAction(async (r, ct) =>
        {
            var labSpec = JsonSerializer.Deserialize<LabSpec>(r.GetValue(spec)!, LabState.Json)!;
            await using var supervisor = new LabSupervisor(labSpec, LabHome.Default, Console.Out);
            using var signals = Termination.OnSignal(supervisor.RequestStop);
            try
            {
                await supervisor.StartAsync(supervisor.Stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is LabException or TimeoutException or HttpRequestException or OperationCanceledException or k8s.Autorest.HttpOperationException or IOException)
            {
                Console.WriteLine(LabLauncher.Failed + e.Message.Replace('\n', ' '));
                Console.Error.WriteLine(e);
                return 1;
            }

            Console.WriteLine(LabLauncher.Ready);
            await supervisor.RunAsync(ct).ConfigureAwait(false);
            Console.WriteLine("lab coming down");
            return 0;
        });
        return cmd;
    }

    /// <summary>Root first (namespaces, routing daemons); a lab error is one clear line and exit 1.</summary>
    private static async Task<int> Guard(string what, Func<Task<int>> action)
    {
        if (Environment.UserName != "root")
        {
            await Console.Error.WriteLineAsync($"extip lab {what}: needs root (it creates network namespaces and runs routing daemons): sudo ./extip lab {(what == "demo" ? string.Empty : what)}".TrimEnd()).ConfigureAwait(false);
            return 1;
        }

        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is LabException or TimeoutException or HttpRequestException or k8s.Autorest.HttpOperationException or ArgumentException or FormatException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"extip lab {what}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>The flags that shape a lab (up, demo, and lab alone).</summary>
    private sealed class SiteOptions
    {
        private readonly Option<int> _nodes = new("--nodes") { Description = "Nodes k8s1…k8sN (the seed has 11).", DefaultValueFactory = _ => 11 };
        private readonly Option<int> _agents = new("--agents") { Description = "How many nodes run an agent, from k8s1 on (the seed's replicas: 2).", DefaultValueFactory = _ => 2 };
        private readonly Option<string> _router = new("--router") { Description = "The top-of-rack router: bird, frr or gobgp.", DefaultValueFactory = _ => "bird" };
        private readonly Option<string> _mode = new("--mode") { Description = "bgp (routes to the router, ECMP), l2 (ARP/NDP on the rack segment) or local (on the nodes only; the router is routed by hand).", DefaultValueFactory = _ => "bgp" };
        private readonly Option<string> _distribution = new("--distribution") { Description = "all: every agent's node holds the address; balance: one node each.", DefaultValueFactory = _ => "all" };
        private readonly Option<bool> _ipv6 = new("--ipv6") { Description = "Dual-stack: an IPv6 address too (2001:db8:1000::1)." };
        private readonly Option<string> _apiServer = new("--apiserver") { Description = "embedded (extip's own) or real (kube-apiserver v1.20 from tools/real-apiserver; built on first use).", DefaultValueFactory = _ => "embedded" };
        private readonly Option<bool> _noBfd = new("--no-bfd") { Description = "No BFD between the router and the nodes: a dead node is noticed by the BGP hold time." };
        private readonly Option<int> _holdTime = new("--hold-time") { Description = "BGP hold time in seconds.", DefaultValueFactory = _ => 9 };
        private readonly Option<double> _lease = new("--lease") { Description = "Seconds an agent's Lease lasts (renewed every fifth of it).", DefaultValueFactory = _ => 2 };
        private readonly Option<double?> _withdrawDelay = new("--withdraw-delay") { Description = "The agents' --withdraw-delay: seconds a BGP-mode address stays on the node that gave it up, after its route was withdrawn (and connections chained to it can finish); default: the agent's." };
        private readonly Option<bool> _noChain = new("--no-chain") { Description = "The agents chain no connections to the node handing an address over (--no-chain-connections): connections open when the network switches are reset." };
        private readonly Option<string?> _image = new("--image") { Description = "Run the controller and the agents from extip's OCI image (an archive from scripts/build-image.sh) with podman, as the manifests run them: users, capabilities, read-only root." };

        public SiteOptions()
        {
            _router.AcceptOnlyFromAmong("bird", "frr", "gobgp");
            _mode.AcceptOnlyFromAmong("bgp", "l2", "local");
            _distribution.AcceptOnlyFromAmong("all", "balance");
            _apiServer.AcceptOnlyFromAmong("embedded", "real");
        }

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { _nodes, _agents, _router, _mode, _distribution, _ipv6, _apiServer, _noBfd, _holdTime, _lease, _withdrawDelay, _noChain, _image })
            {
                c.Options.Add(o);
            }
        }

        public LabSpec Read(ParseResult r)
        {
            var spec = new LabSpec
            {
                Nodes = r.GetValue(_nodes),
                Agents = r.GetValue(_agents),
                Router = Enum.Parse<RouterKind>(r.GetValue(_router)!, ignoreCase: true),
                Mode = Enum.Parse<AnnounceMode>(r.GetValue(_mode)!, ignoreCase: true),
                Distribution = Enum.Parse<Distribution>(r.GetValue(_distribution)!, ignoreCase: true),
                Ipv6 = r.GetValue(_ipv6),
                ApiServer = r.GetValue(_apiServer)!,
                // GoBGP has no BFD: a lab with it runs without (its peers would wait for BFD forever).
                Bfd = !r.GetValue(_noBfd) && !string.Equals(r.GetValue(_router), "gobgp", StringComparison.Ordinal),
                HoldTime = r.GetValue(_holdTime),
                LeaseSeconds = r.GetValue(_lease),
                RenewSeconds = r.GetValue(_lease) / 5,
                WithdrawDelaySeconds = r.GetValue(_withdrawDelay),
                NoChain = r.GetValue(_noChain),
                Image = r.GetValue(_image) is { } image ? Path.GetFullPath(image) : null,
            };
            return spec.Problem() is { } problem ? throw new ArgumentException(problem) : spec;
        }
    }
}
