using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Lab.Routers;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>TCP MD5 signatures (RFC 2385): the kernel signs and checks every segment of the session.</summary>
public sealed class Md5Tests
{
    [Theory]
    [InlineData(RouterKind.Bird)]
    [InlineData(RouterKind.Frr)]
    [InlineData(RouterKind.Gobgp)]
    public async Task MatchingPassword_ComesUp(RouterKind kind)
    {
        await using var lab = new RouterLab();
        lab.Fabric.AddNode("n1");
        await lab.StartRouterAsync(kind, [lab.Neighbor("n1", AddressFamily.InterNetwork) with { Password = "s3cret-Md5" }], installRoutes: false);
        var (speaker, session) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { Password = "s3cret-Md5" });
        speaker.Announce(RouterLab.Routes("192.0.2.10/32"));
        await lab.WaitAsync(lab.Fabric.V4("n1"), p => p.Established && p.Received == 1, TimeSpan.FromSeconds(30), "Established with a signed session");
        Assert.Equal(SessionState.Established, session.State);
    }

    [Theory]
    [InlineData("wrong-password")]
    [InlineData(null)]
    public async Task WrongOrMissingPassword_NeverComesUp(string? ours)
    {
        await using var lab = new RouterLab();
        lab.Fabric.AddNode("n1");
        var router = await lab.StartRouterAsync(RouterKind.Bird, [lab.Neighbor("n1", AddressFamily.InterNetwork) with { Password = "s3cret-Md5" }], installRoutes: false);
        var (_, session) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { Password = ours });
        var states = new List<SessionState>();
        session.StateChanged += (_, s) =>
        {
            lock (states)
            {
                states.Add(s);
            }
        };

        // Several connect retries (1 s each) on both sides: none may get past the TCP handshake.
        await Task.Delay(TimeSpan.FromSeconds(6));
        var peer = await router.PeerAsync(lab.Fabric.V4("n1"));
        Assert.False(peer!.Established, peer.ToString());
        lock (states)
        {
            Assert.DoesNotContain(SessionState.OpenConfirm, states);
            Assert.DoesNotContain(SessionState.Established, states);
        }

        Assert.Contains(SessionState.Connect, states);
    }
}
