using System.Diagnostics;
using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Lab.Routers;
using Xunit.Abstractions;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>
/// RFC 4724, restarting-speaker side, with BIRD as the helper: the agent's speaker dies without a
/// NOTIFICATION (a crash, kill -9, an upgrade's restart) and comes back.
/// </summary>
public sealed class GracefulRestartTests(ITestOutputHelper output)
{
    private static readonly string[] Ten = [.. Enumerable.Range(1, 10).Select(i => $"192.0.2.{i}/32")];

    /// <summary>
    /// With graceful restart the router keeps forwarding to the node while its speaker is gone, and
    /// keeps the routes when it is back until the speaker knows its routes and says End-of-RIB: then
    /// exactly what it announces again stays. Without, the routes go with the session.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SpeakerCrashesAndComesBack_TheRouterKeepsForwarding_UntilEndOfRib(bool gracefulRestart)
    {
        await using var lab = new RouterLab();
        lab.Fabric.AddNode("n1");
        var peer = lab.Fabric.V4("n1");
        var bird = await lab.StartRouterAsync(RouterKind.Bird, [lab.Neighbor("n1", AddressFamily.InterNetwork)]);
        var (first, _) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { GracefulRestart = gracefulRestart });
        first.Announce(RouterLab.Routes(Ten));
        await lab.WaitAsync(peer, p => p.Established && p.Received == 10, TimeSpan.FromSeconds(30), "Established with 10 routes");
        await Until(() => Installed(lab) == 10, "10 routes in the router's kernel");

        // The process dies: its sockets close, no NOTIFICATION is sent.
        await first.DisposeAsync();
        await lab.WaitAsync(peer, p => !p.Established, TimeSpan.FromSeconds(30), "the router saw the session go");
        if (!gracefulRestart)
        {
            await Until(() => Installed(lab) == 0, "the routes gone with the session");
            return;
        }

        Assert.Equal(10, Installed(lab));

        // Back (the agent found its addresses still on the node): the session comes up, but until
        // the agent knows its claims it sends no End-of-RIB, and the router keeps every stale route.
        var (second, session) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { GracefulRestart = true, RestartState = true, ForwardingPreserved = true });
        await lab.WaitAsync(peer, p => p.Established, TimeSpan.FromSeconds(30), "Established again");
        await Until(() => session.State == SessionState.Established, "our side Established");
        Assert.Equal(10, Installed(lab));

        // It knows them now: 7 of the 10. After End-of-RIB the router drops the 3 it did not hear again.
        second.Announce(RouterLab.Routes(Ten[..7]));
        await Until(() => Installed(lab) == 7, "the 3 stale routes dropped at End-of-RIB, the 7 kept");
        output.WriteLine(bird.Tail(15));
        Assert.Equal(7, Installed(lab));
    }

    /// <summary>Restarted without its addresses (the node rebooted): F=0, so the router drops the stale routes at the OPEN.</summary>
    [Fact]
    public async Task SpeakerBackWithoutItsForwardingState_TheRouterDropsTheStaleRoutesAtOnce()
    {
        await using var lab = new RouterLab();
        lab.Fabric.AddNode("n1");
        var peer = lab.Fabric.V4("n1");
        await lab.StartRouterAsync(RouterKind.Bird, [lab.Neighbor("n1", AddressFamily.InterNetwork)]);
        var (first, _) = lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { GracefulRestart = true });
        first.Announce(RouterLab.Routes(Ten));
        await lab.WaitAsync(peer, p => p.Established && p.Received == 10, TimeSpan.FromSeconds(30), "Established with 10 routes");
        await Until(() => Installed(lab) == 10, "10 routes in the router's kernel");
        await first.DisposeAsync();
        await lab.WaitAsync(peer, p => !p.Established, TimeSpan.FromSeconds(30), "the router saw the session go");
        Assert.Equal(10, Installed(lab));

        // Nothing announced yet (no End-of-RIB): only the F bit can make the router let go.
        lab.StartSpeaker("n1", AddressFamily.InterNetwork, configure: o => o with { GracefulRestart = true, RestartState = false, ForwardingPreserved = false });
        await lab.WaitAsync(peer, p => p.Established, TimeSpan.FromSeconds(30), "Established again");
        await Until(() => Installed(lab) == 0, "the stale routes dropped at the new OPEN");
    }

    /// <summary>Routes BIRD put into the router's kernel for hosts in 192.0.2.0/24.</summary>
    private static int Installed(RouterLab lab) =>
        Extip.Lab.Shell.Run("ip", "-n", lab.Fabric.Router, "-4", "route", "show", "root", "192.0.2.0/24", "proto", "bird")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    private static async Task Until(Func<bool> done, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"not within 60 s: {what}");
            }

            await Task.Delay(20);
        }
    }
}
