using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Lab.Routers;
using Xunit.Abstractions;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>extip's speaker against BIRD 2, FRR and GoBGP, over IPv4 and IPv6, eBGP and iBGP.</summary>
public sealed class DaemonSessionTests(ITestOutputHelper output)
{
    public static TheoryData<RouterKind, bool, bool> Matrix()
    {
        var data = new TheoryData<RouterKind, bool, bool>();
        foreach (var kind in Enum.GetValues<RouterKind>())
        {
            foreach (var v6 in new[] { false, true })
            {
                foreach (var ibgp in new[] { false, true })
                {
                    data.Add(kind, v6, ibgp);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Session_ComesUp_RoutesArrive_WithdrawalsLeave(RouterKind kind, bool v6, bool ibgp)
    {
        await using var lab = new RouterLab();
        lab.Fabric.AddNode("n1");
        var family = v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var nodeAs = ibgp ? RouterLab.RouterAs : RouterLab.NodeAs;
        var router = await lab.StartRouterAsync(kind, [lab.Neighbor("n1", family, nodeAs)], installRoutes: false);
        var (speaker, session) = lab.StartSpeaker("n1", family, nodeAs);
        speaker.Announce(v6
            ? RouterLab.Routes("2001:db8:1000::10/128", "2001:db8:1000::11/128", "192.0.2.99/32")
            : RouterLab.Routes("192.0.2.10/32", "192.0.2.11/32", "2001:db8:1000::99/128"));

        var peer = lab.Fabric.V(family, "n1");
        var up = await lab.WaitAsync(peer, p => p.Established && p.Received == 2, TimeSpan.FromSeconds(30), "Established with 2 routes");
        output.WriteLine($"{kind} {(v6 ? "IPv6" : "IPv4")} {(ibgp ? "iBGP" : "eBGP")}: {up}");
        Assert.Equal(SessionState.Established, session.State);
        Assert.Equal(2, session.PrefixesAdvertised);

        // The daemon's own OPEN, decoded by our codec: its AS, its identifier, the family.
        var open = session.PeerOpen!;
        Assert.Equal(RouterLab.RouterAs, open.Asn);
        Assert.Equal(Extip.Lab.Fabric.RouterV4, open.Identifier);
        Assert.Contains(open.Capabilities, c => c is Extip.Bgp.Wire.MultiprotocolCapability m && m.Family == Extip.Bgp.Wire.AfiSafi.Of(family));

        speaker.Announce(v6 ? RouterLab.Routes("2001:db8:1000::11/128") : RouterLab.Routes("192.0.2.11/32"));
        await lab.WaitAsync(peer, p => p.Established && p.Received == 1, TimeSpan.FromSeconds(10), "one route left");
        Assert.Equal(1, session.PrefixesAdvertised);
    }
}
