using System.Net;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Agent.Tests;

/// <summary>The dataplane against a real kernel, in a namespace of its own.</summary>
public sealed class DataplaneTests
{
    [Fact]
    public void RemovingTheFirstAddressOfASubnet_LeavesItsNeighbours_NoBlink()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }

        using var site = Site.Create();
        var ns = site.AddNamespace("dp");
        site.Veth(ns, "eth0", site.AddNamespace("peer"), "eth0");
        Assert.Equal("0", Site.Exec(ns, "cat", "/proc/sys/net/ipv4/conf/eth0/promote_secondaries").Trim());

        // An L2 pool with a /27 mask: both addresses are in one subnet, the first is the primary.
        var first = new DesiredAddress(IPAddress.Parse("192.0.2.1"), 27, "eth0", Extip.Core.Pools.AnnounceMode.L2, "c1");
        var second = new DesiredAddress(IPAddress.Parse("192.0.2.2"), 27, "eth0", Extip.Core.Pools.AnnounceMode.L2, "c2");
        using var dp = new Dataplane(ns, NodeLab.Mark, announce: false);
        Assert.All(dp.Apply([first, second]), s => Assert.Equal(AddressState.Held, s.State));

        // The first goes: the second must still be there right after, not put back by a later pass.
        dp.Apply([second]);
        using var nl = RtNetlink.Open(ns);
        Assert.Equal(["192.0.2.2/27"], nl.Addresses(System.Net.Sockets.AddressFamily.InterNetwork).Where(a => a.Protocol == NodeLab.Mark).Select(a => $"{a.Address}/{a.PrefixLength}"));
        Assert.Equal("1", Site.Exec(ns, "cat", "/proc/sys/net/ipv4/conf/eth0/promote_secondaries").Trim());
    }

    [Fact]
    public void Extend_PushesOnTheLifetimesOfWhatIsThere_AddsAndRemovesNothing()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }

        using var site = Site.Create();
        var ns = site.AddNamespace("dp");
        using var dp = new Dataplane(ns, NodeLab.Mark, announce: false);
        var held = new DesiredAddress(IPAddress.Parse("203.0.113.7"), 32, "lo", Extip.Core.Pools.AnnounceMode.BGP, "c1") { LifetimeSeconds = 2 };
        Assert.All(dp.Apply([held]), s => Assert.Equal(AddressState.Held, s.State));
        using var nl = RtNetlink.Open(ns);
        nl.AddAddress(new RtNetlink.AddressSpec(nl.Link("lo")!.Index, IPAddress.Parse("203.0.113.8"), 32)); // not ours: forever, untouched

        Assert.Equal(1, dp.Extend(600));
        var marked = Assert.Single(nl.Addresses(), a => a.Protocol == NodeLab.Mark);
        Assert.Equal(IPAddress.Parse("203.0.113.7"), marked.Address);
        Assert.InRange(marked.ValidSeconds, 590u, 600u);
        Assert.Equal(uint.MaxValue, nl.Addresses().Single(a => a.Address.Equals(IPAddress.Parse("203.0.113.8"))).ValidSeconds);
    }

    [Fact]
    public async Task AnL2Address_NeverNamedAsTheSenderOfTheNodesArpRequests()
    {
        RequireRoot();
        using var site = Site.Create();
        var (ns, peer) = NodeAndPeer(site);
        Assert.Equal("0", Site.Exec(ns, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_announce").Trim());
        using var dp = new Dataplane(ns, NodeLab.Mark, announce: false);
        var vip = new DesiredAddress(IPAddress.Parse("192.0.2.1"), 32, "eth0", Extip.Core.Pools.AnnounceMode.L2, "c1");
        Assert.All(dp.Apply([vip]), s => Assert.Equal(AddressState.Held, s.State));
        Assert.Equal("2", Site.Exec(ns, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_announce").Trim());

        // The node sends from the extip address (as when it answers a client) to a neighbour it
        // has not resolved: its ARP request names the node's own address as sender, so the
        // neighbour learns that one, and nothing about the extip address.
        using (var socket = NetNs.Run(ns, () => new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp)))
        {
            socket.Bind(new IPEndPoint(vip.Address, 0));
            var until = DateTime.UtcNow.AddSeconds(30);
            while (!Site.Exec(peer, "ip", "neigh", "show", "dev", "eth0").Contains("198.51.100.2", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < until, "the peer never heard an ARP request from the node");
                socket.SendTo(new byte[] { 1 }, new IPEndPoint(IPAddress.Parse("198.51.100.1"), 9));
                await Task.Delay(50);
            }
        }

        Assert.DoesNotContain("192.0.2.1", Site.Exec(peer, "ip", "neigh", "show", "dev", "eth0"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAddressTakenBackWhileItWasHandedOver_IsAnnouncedAgain()
    {
        RequireRoot();
        using var site = Site.Create();
        var (ns, peer) = NodeAndPeer(site);
        var mac = Site.Exec(ns, "cat", "/sys/class/net/eth0/address").Trim();
        const string other = "02:00:5e:00:53:99"; // the node that took the address over
        using var dp = new Dataplane(ns, NodeLab.Mark, announce: true);
        var vip = new DesiredAddress(IPAddress.Parse("192.0.2.1"), 32, "eth0", Extip.Core.Pools.AnnounceMode.L2, "c1");
        string PeerSees() => Site.Exec(peer, "ip", "neigh", "show", "192.0.2.1", "dev", "eth0");
        async Task PeerLearnsAsync(string what)
        {
            var until = DateTime.UtcNow.AddSeconds(60);
            while (!PeerSees().Contains(mac, StringComparison.OrdinalIgnoreCase))
            {
                Assert.True(DateTime.UtcNow < until, $"{what}: the peer still sees {PeerSees()}");
                await Task.Delay(20);
            }
        }

        // Added: announced.
        Site.Exec(peer, "ip", "neigh", "replace", "192.0.2.1", "lladdr", other, "dev", "eth0", "nud", "stale");
        Assert.All(dp.Apply([vip]), s => Assert.Equal(AddressState.Held, s.State));
        await PeerLearnsAsync("added");

        // Handed over: kept quiet while the other node announces it (the peer now points there).
        Assert.All(dp.Apply([vip with { Quiet = true }]), s => Assert.Equal(AddressState.Held, s.State));
        Site.Exec(peer, "ip", "neigh", "replace", "192.0.2.1", "lladdr", other, "dev", "eth0", "nud", "stale");

        // Its claim comes back before it went: the address is already there, and still announced.
        Assert.All(dp.Apply([vip]), s => Assert.Equal(AddressState.Held, s.State));
        await PeerLearnsAsync("taken back");
    }

    /// <summary>A node namespace (198.51.100.2 on eth0) and a peer on its link (198.51.100.1).</summary>
    private static (string Node, string Peer) NodeAndPeer(Site site)
    {
        var ns = site.AddNamespace("dp");
        var peer = site.AddNamespace("peer");
        site.Veth(ns, "eth0", peer, "eth0");
        Site.Exec(ns, "ip", "addr", "add", "198.51.100.2/24", "dev", "eth0");
        Site.Exec(peer, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0");
        return (ns, peer);
    }

    private static void RequireRoot()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }
    }
}
