using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Lab;
using Extip.Lab.Routers;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>The session's transport as a BGPPeer sets it: source address, peer port, eBGP multihop TTL.</summary>
public sealed class TransportTests
{
    private static readonly IPAddress Source = IPAddress.Parse("198.51.100.50");

    [Theory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task SourceAddressPortAndTtl_AreTheOnesConfigured(RouterKind kind)
    {
        await using var lab = new RouterLab();
        var node = lab.Fabric.AddNode("n1");
        lab.Site.Address(node, "eth0", $"{Source}/25");
        await using var capture = await Capture.StartAsync(lab.Site, lab.Fabric.Router, "br0", "tcp port 1790");
        capture.DecodeAs.Add("tcp.port==1790,bgp");
        await lab.StartRouterAsync(kind, [new BgpNeighbor { Address = Source, As = RouterLab.NodeAs }], installRoutes: false, port: 1790);
        var (speaker, session) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { LocalAddress = Source, PeerPort = 1790, Ttl = 7 });
        speaker.Announce(RouterLab.Routes("192.0.2.10/32"));
        await lab.WaitAsync(Source, p => p.Established && p.Received == 1, TimeSpan.FromSeconds(30), "Established from the source address");
        Assert.Equal(Source, session.LocalEndPoint!.Address);
        await capture.StopAsync();

        var ttls = capture.Fields($"ip.src == {Source} && tcp.dstport == 1790", "ip.ttl").Select(t => t.Trim()).ToHashSet(StringComparer.Ordinal);
        Assert.True(ttls.SetEquals(["7"]), $"TTLs [{string.Join(",", ttls)}]; all frames:\n{string.Join('\n', capture.Fields("frame", "frame.number", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "ip.ttl"))}\n{capture.Output}");

        // The announced next hop is the session's address: next hop self.
        var hops = capture.Fields($"ip.src == {Source} && bgp.type == 2 && bgp.update.path_attribute.next_hop", "bgp.update.path_attribute.next_hop").Select(t => t.Trim()).ToHashSet(StringComparer.Ordinal);
        Assert.Equal([Source.ToString()], hops);
    }
}
