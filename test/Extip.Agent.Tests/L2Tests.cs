using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Extip.Controller;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using Extip.Lab;
using Extip.Netlink;
using Extip.Testing.Cluster;
using k8s;
using Xunit.Abstractions;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Agent.Tests;

/// <summary>
/// Two nodes and a client on one bridge. The client resolves the address to the node holding it;
/// when the address moves, the new node's gratuitous ARP / unsolicited NA updates the client's
/// neighbour entry at once, without the client sending anything or the entry expiring.
/// </summary>
public sealed class L2Tests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> Macs = new(StringComparer.Ordinal) { ["a"] = "02:00:5e:00:00:0a", ["b"] = "02:00:5e:00:00:0b" };

    [Theory]
    [InlineData("192.0.2.100")]
    [InlineData("2001:db8::100")]
    public async Task AddressMoves_ClientsNeighbourEntryFollowsWithinASecond(string vip)
    {
        var v6 = vip.Contains(':', StringComparison.Ordinal);
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        var sw = lab.Site.AddNamespace("sw");
        var client = lab.Site.AddNamespace("client");
        lab.Site.Veth(client, "eth0", sw, "pc");
        var ports = new List<string> { "pc" };
        foreach (var n in new[] { "a", "b" })
        {
            var ns = lab.AddNode(n);
            lab.Site.Veth(ns, "eth0", sw, $"p{n}", macA: Macs[n]);
            ports.Add($"p{n}");
        }

        lab.Site.Bridge(sw, "br0", [.. ports]);
        lab.Site.Address(client, "eth0", v6 ? "2001:db8::1/64" : "192.0.2.1/24");

        await env.StartControllerAsync(env.Options() with { LeaderElection = false, Mode = AnnounceMode.L2, Interface = "eth0" });
        var agents = new Dictionary<string, ExtipAgent>(StringComparer.Ordinal)
        {
            ["a"] = await lab.StartAgentAsync("a"),
            ["b"] = await lab.StartAgentAsync("b"),
        };
        await env.PoolAsync("segment", [v6 ? "2001:db8::100/128" : "192.0.2.100/32"]);
        var svcNs = await env.NamespaceAsync("l2");
        var svc = LoadBalancer("web");
        svc.Spec.IpFamilies = [v6 ? "IPv6" : "IPv4"];
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, svcNs);

        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 1, what: "an L2 claim on one node"))[0];
        Assert.Equal("L2", claim.Spec.Mode);
        var first = claim.Spec.Nodes[0];
        var second = first == "a" ? "b" : "a";
        await EventuallyAsync(() => Task.FromResult(lab.Marked(first).Count), c => c == 1, what: $"the address on {first}");

        // The client resolves the address (it sends to it) and learns the first node's MAC.
        Poke(client, vip);
        var learned = await EventuallyAsync(() => Task.FromResult(Neighbour(client, vip)), n => n.Contains(Macs[first], StringComparison.Ordinal), what: "client resolved the address to the first node");
        output.WriteLine($"before: {learned.Trim()}");

        // The first node's agent stops (it removes the address and releases its Lease); the claim moves.
        await agents[first].StopAsync();
        var sw1 = Stopwatch.StartNew();
        while (lab.Marked(second).Count == 0)
        {
            Assert.True(sw1.Elapsed < TimeSpan.FromSeconds(10), "the address did not reach the second node");
            await Task.Delay(5);
        }

        // The client sends nothing more, so it never resolves the address again by itself: only
        // the second node's unsolicited announcements can change its entry.
        var onSecond = Stopwatch.StartNew();
        var now = await EventuallyAsync(() => Task.FromResult(Neighbour(client, vip)), n => n.Contains(Macs[second], StringComparison.Ordinal), TimeSpan.FromSeconds(30), what: $"the client's entry following the address to {second}");

        output.WriteLine($"after: {now.Trim()}; the client's entry followed {onSecond.Elapsed.TotalMilliseconds:F0} ms after the address reached {second} ({sw1.Elapsed.TotalMilliseconds:F0} ms after the first agent stopped)");
        Assert.True(agents[second].AnnouncementsSent >= 3);
    }

    /// <summary>
    /// A node's link goes down and comes back: meanwhile the client's entry went wrong (here: set to
    /// another MAC, as after a flush and a wrong answer). The agent announces its addresses again
    /// when the link is up, and the client's entry is right again without the client sending anything.
    /// </summary>
    /// <remarks>
    /// The same after the node's neighbour table on the link was flushed (<c>ip neigh flush</c>,
    /// here with the link up all along): the agent takes it as a sign the segment changed.
    /// </remarks>
    [Theory]
    [InlineData("192.0.2.100", "link")]
    [InlineData("2001:db8::100", "link")]
    [InlineData("192.0.2.100", "flush")]
    [InlineData("2001:db8::100", "flush")]
    public async Task LinkBackUpOrNeighboursFlushed_TheAgentAnnouncesAgain_AndAStaleClientEntryIsPutRight(string vip, string trigger)
    {
        var v6 = vip.Contains(':', StringComparison.Ordinal);
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        var sw = lab.Site.AddNamespace("sw");
        var client = lab.Site.AddNamespace("client");
        lab.Site.Veth(client, "eth0", sw, "pc");
        var node = lab.AddNode("a");
        lab.Site.Veth(node, "eth0", sw, "pa", macA: Macs["a"]);
        lab.Site.Bridge(sw, "br0", "pc", "pa");
        lab.Site.Address(client, "eth0", v6 ? "2001:db8::1/64" : "192.0.2.1/24");

        await env.StartControllerAsync(env.Options() with { LeaderElection = false, Mode = AnnounceMode.L2, Interface = "eth0" });
        var agent = await lab.StartAgentAsync("a");
        await env.PoolAsync("segment", [v6 ? "2001:db8::100/128" : "192.0.2.100/32"]);
        var svc = LoadBalancer("web");
        svc.Spec.IpFamilies = [v6 ? "IPv6" : "IPv4"];
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, await env.NamespaceAsync("l2"));
        await EventuallyAsync(() => Task.FromResult(lab.Marked("a").Count), c => c == 1, what: "the address on a");
        Poke(client, vip);
        await EventuallyAsync(() => Task.FromResult(Neighbour(client, vip)), n => n.Contains(Macs["a"], StringComparison.Ordinal), what: "client resolved the address to a");

        // The first announcements (a burst and its repeats) are over: only a new one can help now.
        var all = new Netlink.L2.Announcer(null!).Burst + new Netlink.L2.Announcer(null!).Repeats.Count;
        await EventuallyAsync(() => Task.FromResult(agent.AnnouncementsSent), n => n >= all, what: $"the first {all} announcement frames sent");
        if (trigger == "link")
        {
            Shell.Run("ip", "-n", node, "link", "set", "eth0", "down");
        }
        else
        {
            // Something for the flush to delete (the node may or may not have learned the client).
            Site.Exec(node, "ip", "neigh", "replace", v6 ? "2001:db8::1" : "192.0.2.1", "lladdr", "02:00:5e:00:00:01", "dev", "eth0", "nud", "stale");
        }

        const string Wrong = "02:00:5e:00:00:ff";
        Site.Exec(client, "ip", "neigh", "replace", vip, "lladdr", Wrong, "dev", "eth0", "nud", "stale");
        Assert.Contains(Wrong, Neighbour(client, vip), StringComparison.Ordinal);
        var before = agent.AnnouncementsSent;
        Shell.Run("ip", ["-n", node, .. trigger == "link" ? new[] { "link", "set", "eth0", "up" } : ["neigh", "flush", "dev", "eth0"]]);

        var now = await EventuallyAsync(() => Task.FromResult(Neighbour(client, vip)), n => n.Contains(Macs["a"], StringComparison.Ordinal), TimeSpan.FromSeconds(30), what: $"the client's entry put right after the {trigger}");
        output.WriteLine($"after the {trigger}: {now.Trim()}; {agent.AnnouncementsSent - before} frames sent since");
        Assert.True(agent.AnnouncementsSent > before);
    }

    private static string Neighbour(string ns, string ip) => Site.Exec(ns, "ip", "neigh", "show", ip);

    /// <summary>One UDP datagram from inside the namespace, so its kernel resolves the address.</summary>
    private static void Poke(string ns, string ip) => NetNs.Run(ns, () =>
    {
        var address = IPAddress.Parse(ip);
        using var s = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        s.SendTo([1], new IPEndPoint(address, 9));
        return 0;
    });
}
