using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Extip.Cli.Lab;
using Extip.Core.Pools;
using Extip.Lab.Routers;
using Spectre.Console;

namespace Extip.Cli.Commands;

/// <summary><c>extip lab</c>: the seed's site in network namespaces, extip running in it, shown working.</summary>
internal static class LabCommand
{
    public static Command Build()
    {
        var nodes = new Option<int>("--nodes") { Description = "Nodes k8s1…k8sN on the rack segment.", DefaultValueFactory = _ => 3 };
        var router = new Option<string>("--router") { Description = "The top-of-rack router: bird, frr or gobgp.", DefaultValueFactory = _ => "bird" };
        var distribution = new Option<string>("--distribution") { Description = "all: every node holds the address (ECMP); balance: one node.", DefaultValueFactory = _ => "all" };
        var once = new Option<bool>("--once") { Description = "Show that it works, then tear the lab down (exit code 0 when the client reached the Service)." };
        var kubeconfig = new Option<string>("--kubeconfig-out") { Description = "Where to write the lab's kubeconfig.", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "extip-lab.kubeconfig") };
        var cmd = new Command("lab", "Builds a small bare-metal site in network namespaces (nodes, a router running a real BGP daemon, a client) and runs extip in it.")
        {
            nodes, router, distribution, once, kubeconfig,
        };
        cmd.SetAction(async (r, ct) =>
        {
            if (Environment.UserName != "root")
            {
                await Console.Error.WriteLineAsync("extip lab: needs root (network namespaces): sudo ./extip lab").ConfigureAwait(false);
                return 2;
            }

            var n = r.GetValue(nodes);
            if (n is < 1 or > 20)
            {
                await Console.Error.WriteLineAsync($"extip lab: --nodes {n}: 1 to 20").ConfigureAwait(false);
                return 2;
            }

            if (!Enum.TryParse<RouterKind>(r.GetValue(router), ignoreCase: true, out var kind))
            {
                await Console.Error.WriteLineAsync($"extip lab: --router {r.GetValue(router)}: expected bird, frr or gobgp").ConfigureAwait(false);
                return 2;
            }

            if (!Enum.TryParse<Distribution>(r.GetValue(distribution), ignoreCase: true, out var dist))
            {
                await Console.Error.WriteLineAsync($"extip lab: --distribution {r.GetValue(distribution)}: expected all or balance").ConfigureAwait(false);
                return 2;
            }

            using var logs = ClusterConnection.Logs("lab", Microsoft.Extensions.Logging.LogLevel.Warning);
            var options = new LabOptions { Nodes = n, Router = kind, Distribution = dist, Kubeconfig = r.GetValue(kubeconfig)! };
            await using var lab = new LabRun(options, logs);
            var say = Console.Out;
            try
            {
                await lab.StartAsync(say, ct).ConfigureAwait(false);
                await lab.ApplySeedAsync(ct).ConfigureAwait(false);
                say.WriteLine($"applied the seed: IPPool seed (203.0.113.0/28, 2001:db8:1000::/120, BGP on lo), BGPPeers tor-v4 and tor-v6, Service {LabRun.SeedNamespace}/{LabRun.SeedService} (LoadBalancer, dual-stack)");
                var addresses = await lab.WaitRoutedAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
                Extip.Kubernetes.Status.StatusText.Render(AnsiConsole.Console, await StatusCommand.LoadAsync(lab.Client, "extip-system", ct).ConfigureAwait(false));
                var ok = true;
                foreach (var a in addresses)
                {
                    var hops = lab.Fabric.RouterNextHops(a);
                    say.WriteLine($"router: {a} via {string.Join(", ", hops.Select(h => $"{h} ({lab.Fabric.NodeOf(h)})"))}");
                    var answers = await lab.ProbeAsync(a, 24).ConfigureAwait(false);
                    var reached = !answers.ContainsKey("(no answer)");
                    ok &= reached;
                    var from = a.AddressFamily == AddressFamily.InterNetwork ? Extip.Lab.Fabric.ClientV4 : Extip.Lab.Fabric.ClientV6;
                    say.WriteLine($"client {from} -> {a} port {options.ServicePort}: 24 connections answered by {LabRun.Format(answers)}");
                }

                if (r.GetValue(once))
                {
                    say.WriteLine(ok ? "lab: the client reached the Service through the router; tearing down" : "lab: the client did not reach the Service; tearing down");
                    return ok ? 0 : 1;
                }

                say.WriteLine($"lab running. Try: kubectl --kubeconfig {options.Kubeconfig} get svc,ipclaims,ipnodes -A");
                say.WriteLine($"      ./extip status --kubeconfig {options.Kubeconfig}");
                say.WriteLine($"      ip netns exec {lab.Fabric.Client} curl -s http://{addresses[0]}/");
                say.WriteLine("Ctrl+C tears the lab down.");
                await WaitForSignalAsync(ct).ConfigureAwait(false);
                return 0;
            }
            catch (Exception e) when (e is TimeoutException or Extip.Lab.LabException or HttpRequestException or k8s.Autorest.HttpOperationException)
            {
                await Console.Error.WriteLineAsync($"extip lab: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return cmd;
    }

    private static async Task WaitForSignalAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
