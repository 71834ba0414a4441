using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Extip.Lab;
using Extip.Netlink.L2;
using Extip.Netlink.Wire;

namespace Extip.Netlink.Tests;

/// <summary>Round trips with the real kernel, in namespaces each test creates.</summary>
public sealed class KernelTests : IDisposable
{
    private const byte Mark = 0x65;
    private readonly Site _site;
    private readonly string _ns;

    public KernelTests()
    {
        Root.Require();
        _site = Site.Create();
        _ns = _site.AddNamespace("nl");
    }

    public void Dispose() => _site.Dispose();

    private static RtNetlink.AddressSpec On(Link link, string ip, int prefix) => new(link.Index, IPAddress.Parse(ip), prefix, Mark);

    [Fact]
    public void Links_ShowLoopbackAndVethWithTheirMacs()
    {
        var other = _site.AddNamespace("peer");
        _site.Veth(_ns, "eth0", other, "eth0", macA: "02:00:5e:10:00:01");
        using var nl = RtNetlink.Open(_ns);
        var lo = Assert.Single(nl.Links(), l => l.Name == "lo");
        Assert.True(lo.Flags.HasFlag(LinkFlags.Loopback));
        Assert.True(lo.IsUp);
        Assert.False(lo.HasNeighbours);
        var eth = nl.Link("eth0")!;
        Assert.Equal(PhysicalAddress.Parse("02-00-5E-10-00-01"), eth.Mac);
        Assert.Equal("veth", eth.Kind);
        Assert.True(eth.HasNeighbours);
    }

    [Theory]
    [InlineData("192.0.2.7", 32)]
    [InlineData("2001:db8::7", 128)]
    [InlineData("198.51.100.9", 24)]
    public void Address_AddListDelete_KeepsTheMark_AndIpSeesIt(string ip, int prefix)
    {
        using var nl = RtNetlink.Open(_ns);
        var lo = nl.Link("lo")!;
        nl.AddAddress(On(lo, ip, prefix));
        var got = Assert.Single(nl.Addresses(), a => a.Address.Equals(IPAddress.Parse(ip)));
        Assert.Equal((lo.Index, prefix, Mark), (got.InterfaceIndex, got.PrefixLength, got.Protocol));
        Assert.Contains($"{ip}/{prefix}", Site.Exec(_ns, "ip", "addr", "show", "dev", "lo"), StringComparison.Ordinal);

        nl.DeleteAddress(On(lo, ip, prefix));
        Assert.DoesNotContain(nl.Addresses(), a => a.Address.Equals(IPAddress.Parse(ip)));
        Assert.DoesNotContain(ip, Site.Exec(_ns, "ip", "addr", "show", "dev", "lo"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.8", 32)]
    [InlineData("2001:db8::8", 128)]
    public async Task Address_WithALifetime_TheKernelRemovesIt_UnlessRefreshed(string ip, int prefix)
    {
        using var nl = RtNetlink.Open(_ns);
        var lo = nl.Link("lo")!;
        var address = IPAddress.Parse(ip);
        nl.AddAddress(On(lo, ip, prefix) with { LifetimeSeconds = 2 });
        Assert.InRange(Assert.Single(nl.Addresses(), a => a.Address.Equals(address)).ValidSeconds, 1u, 2u);

        // A refresh moves the end on; forever is forever.
        Assert.All(nl.ReplaceAddresses([On(lo, ip, prefix) with { LifetimeSeconds = 600 }]), Assert.Null);
        Assert.InRange(Assert.Single(nl.Addresses(), a => a.Address.Equals(address)).ValidSeconds, 599u, 600u);
        Assert.All(nl.ReplaceAddresses([On(lo, ip, prefix)]), Assert.Null);
        Assert.Equal(uint.MaxValue, Assert.Single(nl.Addresses(), a => a.Address.Equals(address)).ValidSeconds);
        Assert.Equal(Mark, Assert.Single(nl.Addresses(), a => a.Address.Equals(address)).Protocol);

        // Not refreshed: gone by the kernel's own hand, nobody deleting it.
        Assert.All(nl.ReplaceAddresses([On(lo, ip, prefix) with { LifetimeSeconds = 1 }]), Assert.Null);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (nl.Addresses().Any(a => a.Address.Equals(address)))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "the kernel did not remove the address whose lifetime ran out");
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// An address added as NotASource on an uplink: deprecated (preferred lifetime 0, also after a
    /// refresh) and without a subnet route, so a route lookup and a real TCP connection to a host of
    /// its subnet leave from the node's own address. Beside it, an address added the plain way
    /// shows what would happen otherwise: its subnet route, with itself as the source.
    /// </summary>
    [Fact]
    public async Task NotASource_IsNeverTheSource_AndAddsNoSubnetRoute()
    {
        var router = _site.AddNamespace("rt");
        _site.Veth(_ns, "eth0", router, "eth0");
        _site.Address(_ns, "eth0", "192.0.2.11/24");
        _site.Address(router, "eth0", "192.0.2.1/24");
        _site.Address(router, "eth0", "198.51.100.20/27");
        _site.Address(router, "eth0", "203.0.113.20/27");
        Shell.Run("ip", "-n", _ns, "route", "add", "default", "via", "192.0.2.1");
        using var nl = RtNetlink.Open(_ns);
        var eth = nl.Link("eth0")!;
        nl.AddAddress(On(eth, "198.51.100.5", 27) with { NotASource = true, LifetimeSeconds = 600 });
        nl.AddAddress(On(eth, "203.0.113.5", 27));

        var ours = Assert.Single(nl.Addresses(), a => a.Address.Equals(IPAddress.Parse("198.51.100.5")));
        Assert.Equal(AddressEntry.FlagNoPrefixRoute | AddressEntry.FlagDeprecated, ours.Flags & (AddressEntry.FlagNoPrefixRoute | AddressEntry.FlagDeprecated));
        Assert.All(nl.ReplaceAddresses([On(eth, "198.51.100.5", 27) with { NotASource = true, LifetimeSeconds = 900 }]), Assert.Null);
        ours = Assert.Single(nl.Addresses(), a => a.Address.Equals(IPAddress.Parse("198.51.100.5")));
        Assert.Equal(AddressEntry.FlagNoPrefixRoute | AddressEntry.FlagDeprecated, ours.Flags & (AddressEntry.FlagNoPrefixRoute | AddressEntry.FlagDeprecated));

        var routes = Site.Exec(_ns, "ip", "route", "show", "table", "main");
        Assert.DoesNotContain("198.51.100.0/27", routes, StringComparison.Ordinal);
        Assert.Contains("203.0.113.0/27 dev eth0 proto kernel scope link src 203.0.113.5", routes, StringComparison.Ordinal);
        Assert.Contains("src 192.0.2.11", Site.Exec(_ns, "ip", "route", "get", "198.51.100.20"), StringComparison.Ordinal);
        Assert.Contains("src 203.0.113.5", Site.Exec(_ns, "ip", "route", "get", "203.0.113.20"), StringComparison.Ordinal);

        // The kernel still answers for it: its local route is there.
        Assert.Contains("local 198.51.100.5 dev eth0", Site.Exec(_ns, "ip", "route", "show", "table", "local"), StringComparison.Ordinal);

        // A real TCP connection to a host of its subnet: the host sees the node's own address.
        const string Server = "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('198.51.100.20', 7777)); s.listen(); print('listening', flush=True); c, a = s.accept(); print(a[0], flush=True)";
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        using var server = _site.Start(router, "/usr/bin/python3", ["-c", Server], output: lines.Add);
        Assert.True(lines.TryTake(out var first, TimeSpan.FromSeconds(60)) && first == "listening", "the test's TCP server did not start");
        Site.Exec(_ns, "/usr/bin/python3", "-c", "import socket; socket.create_connection(('198.51.100.20', 7777), timeout=30).close()");
        Assert.True(lines.TryTake(out var seen, TimeSpan.FromSeconds(60)), "the test's TCP server saw no connection");
        Assert.Equal("192.0.2.11", seen);
        await server.WaitForExitAsync();
    }

    [Fact]
    public void Ipv4Setting_PromoteSecondaries_SetByRtnetlink_IsWhatProcSysShows()
    {
        using var nl = RtNetlink.Open(_ns);
        var lo = nl.Link("lo")!;
        Assert.Equal("0", Site.Exec(_ns, "cat", "/proc/sys/net/ipv4/conf/lo/promote_secondaries").Trim());
        nl.SetIpv4Setting(lo.Index, Rtnl.Ipv4DevconfPromoteSecondaries, 1);
        Assert.Equal("1", Site.Exec(_ns, "cat", "/proc/sys/net/ipv4/conf/lo/promote_secondaries").Trim());
        nl.SetIpv4Setting(lo.Index, Rtnl.Ipv4DevconfPromoteSecondaries, 0);
        Assert.Equal("0", Site.Exec(_ns, "cat", "/proc/sys/net/ipv4/conf/lo/promote_secondaries").Trim());
        var e = Assert.Throws<NetlinkException>(() => nl.SetIpv4Setting(99999, Rtnl.Ipv4DevconfPromoteSecondaries, 1));
        Assert.Contains("#99999", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddressesAddedByOthers_HaveNoMark()
    {
        Site.Exec(_ns, "ip", "addr", "add", "192.0.2.99/32", "dev", "lo");
        using var nl = RtNetlink.Open(_ns);
        Assert.Equal(0, Assert.Single(nl.Addresses(), a => a.Address.Equals(IPAddress.Parse("192.0.2.99"))).Protocol);
    }

    [Fact]
    public void Errors_AreTheClearOnes()
    {
        using var nl = RtNetlink.Open(_ns);
        var lo = nl.Link("lo")!;
        nl.AddAddress(On(lo, "192.0.2.1", 32));
        var exists = Assert.Throws<NetlinkException>(() => nl.AddAddress(On(lo, "192.0.2.1", 32)));
        Assert.Equal(NetlinkError.Exists, exists.Error);
        Assert.Contains("192.0.2.1/32", exists.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<NetlinkException>(() => nl.DeleteAddress(On(lo, "192.0.2.2", 32)));
        Assert.Equal(NetlinkError.NotFound, missing.Error);

        var nodev = Assert.Throws<NetlinkException>(() => nl.AddAddress(new RtNetlink.AddressSpec(9999, IPAddress.Parse("192.0.2.3"), 32, Mark)));
        Assert.Equal(NetlinkError.NoSuchDevice, nodev.Error);
        Assert.Contains("#9999", nodev.Message, StringComparison.Ordinal);

        var nons = Assert.Throws<NetlinkException>(() => RtNetlink.Open(_site.Prefix + "absent"));
        Assert.Equal(NetlinkError.NoSuchNamespace, nons.Error);
        Assert.Contains("absent", nons.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManyAddresses_ArePipelined_AndEachResultIsItsOwn()
    {
        using var nl = RtNetlink.Open(_ns);
        var lo = nl.Link("lo")!;
        var specs = Enumerable.Range(0, 1000).Select(i => new RtNetlink.AddressSpec(lo.Index, IPAddress.Parse($"2001:db8::{i:x}"), 128, Mark)).ToList();
        nl.AddAddress(specs[500]);
        var results = nl.AddAddresses(specs);
        Assert.Equal(NetlinkError.Exists, results[500]!.Error);
        Assert.Equal(999, results.Count(r => r is null));
        Assert.Equal(1000, nl.Addresses(AddressFamily.InterNetworkV6).Count(a => a.Protocol == Mark));
        Assert.All(nl.DeleteAddresses(specs), Assert.Null);
        Assert.DoesNotContain(nl.Addresses(), a => a.Protocol == Mark);
    }

    [Fact]
    public void Routes_AddListDelete_IncludingMultipath()
    {
        var a = _site.AddNamespace("ra");
        var b = _site.AddNamespace("rb");
        _site.Veth(_ns, "e1", a, "e1");
        _site.Veth(_ns, "e2", b, "e2");
        _site.Address(_ns, "e1", "192.0.2.1/30");
        _site.Address(_ns, "e2", "192.0.2.5/30");
        using var nl = RtNetlink.Open(_ns);
        var e1 = nl.Link("e1")!;
        var e2 = nl.Link("e2")!;
        var single = new Route(AddressFamily.InterNetwork, IPAddress.Parse("198.51.100.0"), 24, Route.TableMain, Route.ProtoStatic, 0, Route.TypeUnicast, null, null, [new NextHop(IPAddress.Parse("192.0.2.2"), e1.Index)]);
        nl.AddRoute(single);
        var got = Assert.Single(nl.Routes(AddressFamily.InterNetwork), r => r.Destination.Equals(IPAddress.Parse("198.51.100.0")));
        Assert.Equal((24, Route.ProtoStatic, IPAddress.Parse("192.0.2.2"), e1.Index), (got.PrefixLength, got.Protocol, got.NextHops[0].Gateway, got.NextHops[0].InterfaceIndex));

        var ecmp = new Route(AddressFamily.InterNetwork, IPAddress.Parse("203.0.113.10"), 32, Route.TableMain, Route.ProtoStatic, 0, Route.TypeUnicast, null, null,
            [new NextHop(IPAddress.Parse("192.0.2.2"), e1.Index), new NextHop(IPAddress.Parse("192.0.2.6"), e2.Index)]);
        nl.AddRoute(ecmp);
        var multi = Assert.Single(nl.Routes(AddressFamily.InterNetwork), r => r.Destination.Equals(IPAddress.Parse("203.0.113.10")));
        Assert.Equal(["192.0.2.2", "192.0.2.6"], multi.NextHops.Select(h => h.Gateway!.ToString()).Order(StringComparer.Ordinal));
        Assert.Contains("nexthop via 192.0.2.6", Site.Exec(_ns, "ip", "route", "show", "203.0.113.10"), StringComparison.Ordinal);

        Assert.Equal(NetlinkError.Exists, Assert.Throws<NetlinkException>(() => nl.AddRoute(single)).Error);
        nl.DeleteRoute(single);
        nl.DeleteRoute(ecmp);
        Assert.DoesNotContain(nl.Routes(AddressFamily.InterNetwork), r => r.Protocol == Route.ProtoStatic);
    }

    [Fact]
    public async Task Monitor_SeesAddressesAndLinksChange()
    {
        using var monitor = NetlinkMonitor.Open(_ns);
        Site.Exec(_ns, "ip", "addr", "add", "203.0.113.5/32", "dev", "lo");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await foreach (var change in monitor.Changes.ReadAllAsync(cts.Token))
        {
            if (change is NetlinkChange.AddressChange { Removed: false } a && a.Address.Address.Equals(IPAddress.Parse("203.0.113.5")))
            {
                break;
            }
        }

        var other = _site.AddNamespace("peer2");
        _site.Veth(_ns, "late0", other, "late0");
        await foreach (var change in monitor.Changes.ReadAllAsync(cts.Token))
        {
            if (change is NetlinkChange.LinkChange { Removed: false } l && l.Link.Name == "late0")
            {
                break;
            }
        }
    }

    [Theory]
    [InlineData("192.0.2.10")]
    [InlineData("2001:db8::10")]
    public void Announcement_MovesTheNeighboursEntryToTheNewMac(string ip)
    {
        var client = _site.AddNamespace("client");
        _site.Veth(_ns, "eth0", client, "eth0", macA: "02:00:5e:10:00:0a");
        var v6 = ip.Contains(':', StringComparison.Ordinal);
        _site.Address(client, "eth0", v6 ? "2001:db8::1/64" : "192.0.2.1/24");

        // The client believes the address lives at another MAC (the node that held it before).
        Site.Exec(client, "ip", "neigh", "replace", ip, "lladdr", "02:00:5e:10:00:99", "dev", "eth0", "nud", "stale");
        Assert.Contains("02:00:5e:10:00:99", Site.Exec(client, "ip", "neigh", "show", ip), StringComparison.Ordinal);

        using var nl = RtNetlink.Open(_ns);
        var eth = nl.Link("eth0")!;
        nl.AddAddress(new RtNetlink.AddressSpec(eth.Index, IPAddress.Parse(ip), v6 ? 128 : 32, Mark));
        using var packets = PacketSocket.Open(_ns);
        packets.Send(eth.Index, Announcer.FrameFor(eth, IPAddress.Parse(ip)));

        var deadline = DateTime.UtcNow.AddSeconds(2);
        string neigh;
        do
        {
            neigh = Site.Exec(client, "ip", "neigh", "show", ip);
        }
        while (!neigh.Contains("02:00:5e:10:00:0a", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("lladdr 02:00:5e:10:00:0a", neigh, StringComparison.Ordinal);
    }
}
