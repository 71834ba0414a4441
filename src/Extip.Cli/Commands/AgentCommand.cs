using System.CommandLine;
using Extip.Kubernetes.Runtime;
using Extip.Agent;
using Extip.Bgp.Bfd;
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
        var ns = new Option<string>("--namespace") { Description = "Namespace of the agent Leases (the controller's).", DefaultValueFactory = _ => Extip.Kubernetes.Models.ExtipApi.DefaultNamespace };
        var lease = new Option<double>("--lease-duration") { Description = "Seconds the Lease lasts: the controller moves claims this long after the last renewal; the agent drops its addresses after as long without one.", DefaultValueFactory = _ => 4 };
        var renew = new Option<double>("--renew-interval") { Description = "Seconds between Lease renewals.", DefaultValueFactory = _ => 1 };
        var noAnnounce = new Option<bool>("--no-announce") { Description = "No gratuitous ARP / unsolicited NA when taking an address." };
        var repeats = new Option<int>("--announce-repeats") { Description = "Gratuitous ARP / unsolicited NA repeats after the first 3, at 0.1 to 3 s (0–9); all of them again when a link comes back up or its neighbour table is flushed.", DefaultValueFactory = _ => AgentOptions.Defaults.AnnounceRepeats };
        repeats.Validators.Add(v =>
        {
            if (v.GetValue(repeats) is < 0 or > 9)
            {
                v.AddError($"--announce-repeats: {v.GetValue(repeats)} is not between 0 and 9");
            }
        });
        var noBgp = new Option<bool>("--no-bgp") { Description = "No BGP sessions (BGPPeers are ignored)." };
        var routerId = new Option<string?>("--router-id") { Description = "BGP identifier (an IPv4 address) for BGPPeers that name none; default: the node's first IPv4 address." };
        var metrics = new Option<string?>("--metrics") { Description = "host:port for /metrics, /healthz and /readyz." };
        var peerPort = new Option<int>("--peer-port") { Description = "UDP port of the heartbeat between agents (signed with the extip-peer-key Secret); 0: off, and a Lease that runs out always fences single-owner claims.", DefaultValueFactory = _ => AgentOptions.DefaultPeerPort };
        var bfdInProcess = new Option<bool>("--bfd-in-process") { Description = "Send BFD's periodic packets from the agent's own process, not from its `extip bfd-transmit` child (where the agent's garbage collections cannot delay them)." };
        var outageHold = new Option<double?>("--outage-hold") { Description = "Longest time, in seconds, single-owner addresses stay past the Lease while no peer reaches the API server either; default: the whole outage." };
        var drain = new Option<double>("--drain-timeout") { Description = "On SIGTERM, seconds to wait while the controller moves this node's claims to others and they take them over (make-before-break) before what is left is withdrawn and removed; 0: remove at once.", DefaultValueFactory = _ => AgentOptions.Defaults.DrainTimeout.TotalSeconds };
        var handover = new Option<double>("--handover-timeout") { Description = "Seconds an address whose claim moved away stays here, announced, until its new nodes say they hold it; 0: give it up at once.", DefaultValueFactory = _ => AgentOptions.Defaults.HandoverTimeout.TotalSeconds };
        var withdrawDelay = new Option<double>("--withdraw-delay") { Description = "Seconds an address given up stays after it is no longer announced (BGP route withdrawn, L2 ARP no longer answered), for packets on their way and connections the new holder chains back.", DefaultValueFactory = _ => AgentOptions.Defaults.WithdrawDelay.TotalSeconds };
        var noChain = new Option<bool>("--no-chain-connections") { Description = "Do not send the node handing an address over the TCP segments of the connections it still serves (they are then reset when the network switches to this node); chaining needs libnftables (Debian's libnftables1)." };
        var cmd = new Command("agent", "Puts the addresses of the IPClaims assigned to this node on its interfaces and announces them (ARP/NDP, BGP).")
        {
            node, kubeconfig, netns, ns, lease, renew, noAnnounce, repeats, noBgp, routerId, metrics, peerPort, outageHold, bfdInProcess, drain, handover, withdrawDelay, noChain,
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

            if (r.GetValue(peerPort) is < 0 or > 65535)
            {
                Console.Error.WriteLine($"extip agent: --peer-port {r.GetValue(peerPort)}: expected 0 (off) to 65535");
                return 2;
            }

            if (r.GetValue(outageHold) is { } hold && (!double.IsFinite(hold) || hold < 0))
            {
                Console.Error.WriteLine($"extip agent: --outage-hold {hold}: expected a number of seconds, 0 or more");
                return 2;
            }

            foreach (var (option, value) in new[] { (drain, r.GetValue(drain)), (handover, r.GetValue(handover)), (withdrawDelay, r.GetValue(withdrawDelay)) })
            {
                if (!double.IsFinite(value) || value < 0 || value > 3600)
                {
                    Console.Error.WriteLine($"extip agent: {option.Name} {value}: expected a number of seconds from 0 to 3600");
                    return 2;
                }
            }

            System.Net.IPAddress? rid = null;
            if (r.GetValue(routerId) is { } ridText && (!System.Net.IPAddress.TryParse(ridText, out rid) || rid.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork))
            {
                Console.Error.WriteLine($"extip agent: --router-id \"{ridText}\": expected an IPv4 address");
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
                AnnounceRepeats = r.GetValue(repeats),
                Bgp = !r.GetValue(noBgp),
                RouterId = rid,
                MetricsAddress = r.GetValue(metrics),
                PeerPort = r.GetValue(peerPort),
                OutageHold = r.GetValue(outageHold) is { } h ? TimeSpan.FromSeconds(h) : null,
                DrainTimeout = TimeSpan.FromSeconds(r.GetValue(drain)),
                HandoverTimeout = TimeSpan.FromSeconds(r.GetValue(handover)),
                WithdrawDelay = TimeSpan.FromSeconds(r.GetValue(withdrawDelay)),
                ChainConnections = !r.GetValue(noChain),
                BfdTransmit = r.GetValue(bfdInProcess) ? null : BfdTransmitCommand.Self(BfdTransmitCommandLine.Dll),
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
            catch (Exception e) when (e is ArgumentException or IOException)
            {
                Console.Error.WriteLine($"extip agent: {e.Message}");
                return 2;
            }

            using var trim = new IdleTrim(TimeProvider.System, logs.CreateLogger("extip.memory"));
            await Termination.WaitAsync(ct);

            using var grace = new CancellationTokenSource(options.DrainTimeout + TimeSpan.FromSeconds(5));
            await agent.StopAsync(grace.Token);
            return 0;
        });
        return cmd;
    }
}
