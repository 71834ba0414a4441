using System.CommandLine;
using System.Runtime.InteropServices;
using Extip.Agent;
using Extip.Netlink;

namespace Extip.Cli.Commands;

/// <summary><c>extip agent</c>: one per node.</summary>
internal static class AgentCommand
{
    public static Command Build()
    {
        var node = new Option<string>("--node") { Description = "The node this agent speaks for (default: $NODE_NAME).", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("NODE_NAME") ?? string.Empty };
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "kubeconfig file; in-cluster config when omitted inside a Pod." };
        var netns = new Option<string?>("--netns") { Description = "Network namespace (as in `ip netns`) whose interfaces to drive; default: the agent's own." };
        var ns = new Option<string>("--namespace") { Description = "Namespace of the agent Leases (the controller's).", DefaultValueFactory = _ => "extip-system" };
        var lease = new Option<double>("--lease-duration") { Description = "Seconds the Lease lasts: the controller moves claims this long after the last renewal; the agent drops its addresses after as long without one.", DefaultValueFactory = _ => 4 };
        var renew = new Option<double>("--renew-interval") { Description = "Seconds between Lease renewals.", DefaultValueFactory = _ => 1 };
        var noAnnounce = new Option<bool>("--no-announce") { Description = "No gratuitous ARP / unsolicited NA when taking an address." };
        var cmd = new Command("agent", "Puts the addresses of the IPClaims assigned to this node on its interfaces and announces them.")
        {
            node, kubeconfig, netns, ns, lease, renew, noAnnounce,
        };
        cmd.SetAction(async (r, ct) =>
        {
            var name = r.GetValue(node)!;
            if (string.IsNullOrWhiteSpace(name))
            {
                Console.Error.WriteLine("extip agent: --node is required (or set NODE_NAME)");
                return 2;
            }

            var leaseSeconds = r.GetValue(lease);
            var renewSeconds = r.GetValue(renew);
            if (leaseSeconds < 1 || renewSeconds <= 0 || renewSeconds >= leaseSeconds)
            {
                Console.Error.WriteLine($"extip agent: --lease-duration {leaseSeconds} and --renew-interval {renewSeconds}: the lease must be at least 1 s and longer than the renew interval");
                return 2;
            }

            using var logs = ClusterConnection.Logs("agent");
            var options = new AgentOptions
            {
                Node = name,
                Namespace = r.GetValue(ns)!,
                Netns = r.GetValue(netns),
                LeaseDuration = TimeSpan.FromSeconds(leaseSeconds),
                RenewInterval = TimeSpan.FromSeconds(renewSeconds),
                Announce = !r.GetValue(noAnnounce),
            };
            await using var agent = new ExtipAgent(ClusterConnection.Connect(r.GetValue(kubeconfig)), options, logs);
            try
            {
                await agent.StartAsync(ct);
            }
            catch (NetlinkException e)
            {
                Console.Error.WriteLine($"extip agent: {e.Message}");
                return 1;
            }

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
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await agent.StopAsync(grace.Token);
            return 0;
        });
        return cmd;
    }
}
