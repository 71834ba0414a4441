using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Bfd;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Lab;
using Extip.Lab.Routers;
using Xunit.Abstractions;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>Everything the speaker puts on the wire, decoded by tshark: nothing malformed, no error.</summary>
public sealed class WireCaptureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task EveryMessageWeSend_DecodesInTshark_WithoutMalformedOrErrors()
    {
        if (!Shell.Exists("tshark"))
        {
            Assert.Fail("tshark is not installed; scripts/install-deps.sh installs it (CI runs it)");
        }

        await using var lab = new RouterLab();
        lab.Fabric.AddNode("n1");
        var v4 = lab.Fabric.V4("n1");
        var v6 = lab.Fabric.V6("n1");
        await using var capture = await Capture.StartAsync(lab.Site, lab.Fabric.Router, "br0", "tcp port 179 or udp port 3784");
        var bird = (BirdRouter)await lab.StartRouterAsync(RouterKind.Bird,
        [
            lab.Neighbor("n1", AddressFamily.InterNetwork, RouterLab.RouterAs) with { Bfd = true },
            lab.Neighbor("n1", AddressFamily.InterNetworkV6, RouterLab.NodeAs),
        ]);

        // One speaker, two sessions: iBGP over IPv4 (LOCAL_PREF, BFD), eBGP over IPv6 (MP_REACH).
        var bfd = new BfdOptions { MinTx = TimeSpan.FromMilliseconds(50), MinRx = TimeSpan.FromMilliseconds(50) };
        var (speaker, s4) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, RouterLab.RouterAs, o => o with { Bfd = bfd, GracefulRestart = true });
        var s6 = speaker.AddPeer(new PeerOptions
        {
            PeerAddress = Fabric.RouterV6, LocalAs = RouterLab.NodeAs, PeerAs = RouterLab.RouterAs,
            RouterId = PeerOptions.RouterIdOf(v4), HoldTime = TimeSpan.FromSeconds(9), ConnectRetry = TimeSpan.FromSeconds(1),
        });
        var tagged = new RouteAttributes([(64512u << 16) | 100, 0xFFFFFF01], [(64512, 7, 8)], 200);
        var routes = Enumerable.Range(1, 200).ToDictionary(i => Prefix.Parse($"192.0.2.{i}/32"), i => i % 2 == 0 ? tagged : RouteAttributes.None);
        foreach (var i in Enumerable.Range(1, 50))
        {
            routes[Prefix.Parse($"2001:db8:1000::{i:x}/128")] = i % 2 == 0 ? tagged : RouteAttributes.None;
        }

        speaker.Announce(routes);
        await lab.WaitAsync(v4, p => p.Established && p.Received == 200, TimeSpan.FromSeconds(30), "IPv4 session with 200 routes");
        await lab.WaitAsync(v6, p => p.Established && p.Received == 50, TimeSpan.FromSeconds(30), "IPv6 session with 50 routes");

        for (var i = 0; i < 100 && s4.Bfd!.State != BfdState.Up; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(BfdState.Up, s4.Bfd!.State);
        await Task.Delay(1000);

        // Withdraw half of each family, answer a route refresh, then shut down (withdraw all, Cease).
        speaker.Announce(routes.Where(r => r.Key.Address.GetAddressBytes()[^1] % 2 == 0).ToDictionary());
        await lab.WaitAsync(v4, p => p.Received == 100, TimeSpan.FromSeconds(10), "100 IPv4 routes left");
        await lab.WaitAsync(v6, p => p.Received == 25, TimeSpan.FromSeconds(10), "25 IPv6 routes left");
        await bird.RunAsync($"reload in {lab.Neighbor("n1", AddressFamily.InterNetwork).Name}");
        await Task.Delay(1500);
        await speaker.ShutdownAsync(TimeSpan.FromSeconds(5));
        await lab.WaitAsync(v4, p => !p.Established, TimeSpan.FromSeconds(10), "session closed");
        await Task.Delay(500);
        await capture.StopAsync();

        var ours = $"(ip.src == {v4} || ipv6.src == {v6})";
        var types = capture.Fields($"{ours} && bgp", "bgp.type").SelectMany(l => l.Split(',')).ToHashSet(StringComparer.Ordinal);
        var attrs = capture.Fields($"{ours} && bgp.type == 2", "bgp.update.path_attribute.type_code").SelectMany(l => l.Split(',')).ToHashSet(StringComparer.Ordinal);
        var bfdPackets = capture.Fields($"{ours} && bfd", "bfd.sta");
        var problems = capture.Fields($"{ours} && (_ws.malformed || _ws.expert.severity == error || bgp && _ws.expert.severity == warning)", "frame.number", "_ws.expert.message", "_ws.col.Info");
        output.WriteLine($"BGP message types sent: {string.Join(' ', types.Order())}; path attributes: {string.Join(' ', attrs.Order())}; BFD packets: {bfdPackets.Count}");
        foreach (var p in problems.Take(20))
        {
            output.WriteLine("problem: " + p);
        }

        Assert.Empty(problems);

        // TTL by default: 64 to the internal peer, 1 to the external one (single hop). A reset the
        // kernel sends after the socket is closed (the peer still writing) is not the session's:
        // it carries the system default, so resets are left out.
        Assert.Equal(["64"], capture.Fields($"ip.src == {v4} && tcp.dstport == 179 && tcp.flags.reset == 0", "ip.ttl").Select(t => t.Trim()).ToHashSet(StringComparer.Ordinal));
        foreach (var odd in capture.Fields($"ipv6.src == {v6} && tcp.dstport == 179 && ipv6.hlim != 1", "frame.number", "ipv6.hlim", "tcp.flags.str"))
        {
            output.WriteLine("IPv6 to port 179 with a hop limit other than 1: " + odd);
        }

        Assert.Equal(["1"], capture.Fields($"ipv6.src == {v6} && tcp.dstport == 179 && tcp.flags.reset == 0", "ipv6.hlim").Select(t => t.Trim()).ToHashSet(StringComparer.Ordinal));

        // BFD goes out with TTL 255 (RFC 5881 §5).
        Assert.Equal(["255"], capture.Fields($"ip.src == {v4} && bfd", "ip.ttl").Select(t => t.Trim()).ToHashSet(StringComparer.Ordinal));
        Assert.Superset(new HashSet<string>(["1", "2", "3", "4"]), types);

        // ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF, COMMUNITIES, MP_REACH, MP_UNREACH, LARGE_COMMUNITY.
        Assert.Superset(new HashSet<string>(["1", "2", "3", "5", "8", "14", "15", "32"]), attrs);
        Assert.True(bfdPackets.Count > 10, $"{bfdPackets.Count} BFD packets");
        Assert.Contains(bfdPackets, s => s.Trim() is "3" or "0x03"); // Up

        // RFC 5880 §4.1 / RFC 5882 §4.3: our BFD lives and dies with the agent, BGP's control plane
        // (the periodic packets come from its child process, which goes with it), so the Control
        // Plane Independent bit is clear: a router may take BFD down during a restart as the restart.
        Assert.Equal(["0"], capture.Fields($"{ours} && bfd", "bfd.flags.c").Select(c => c.Trim() is "False" ? "0" : c.Trim()).ToHashSet(StringComparer.Ordinal));

        // Graceful restart (RFC 4724): forwarding preserved for IPv4 unicast, not restarting (a first start).
        var gr = capture.Fields($"ip.src == {v4} && bgp.type == 1", "bgp.cap.gr.timers.restart_flag", "bgp.cap.gr.flag.pfs", "bgp.cap.gr.timers.restart_time");
        Assert.NotEmpty(gr);
        output.WriteLine($"our OPEN's graceful restart capability (R, F, time): {string.Join(" | ", gr)}");
        static string Bit(string b) => b.Trim() switch { "True" => "1", "False" => "0", var x => x };
        Assert.All(gr, l => Assert.Equal("0 1 120", string.Join(' ', l.Split('\t').Select(Bit))));
        Assert.Equal(SessionState.Idle, s6.State);
        Assert.Equal(SessionState.Idle, s4.State);
    }
}
