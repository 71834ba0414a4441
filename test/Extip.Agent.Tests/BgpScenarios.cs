using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Extip.Controller;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using Extip.Lab;
using Extip.Lab.Routers;
using Extip.Testing.Cluster;
using k8s;
using k8s.Models;
using Xunit.Abstractions;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Agent.Tests;

/// <summary>
/// The seed's ECMP story end to end: embedded API server, controller, agents driving node
/// namespaces on one segment with a BIRD router; what the router's kernel routes, read through
/// netlink. Node failures: frozen (SIGSTOP and all traffic dropped), killed, stopped.
/// </summary>
public sealed class BgpScenarios(ITestOutputHelper output)
{
    private const uint RouterAs = 64500;
    private const uint NodeAs = 64512;
    private static readonly IPAddress V4 = IPAddress.Parse("203.0.113.0");
    private static readonly IPAddress V6 = IPAddress.Parse("2001:db8:1000::");

    private sealed record World(TestEnv Env, NodeLab Lab, BirdRouter Router) : IAsyncDisposable
    {
        public Fabric Fabric => Lab.Fabric!;

        public async ValueTask DisposeAsync()
        {
            await Router.DisposeAsync();
            await Lab.DisposeAsync();
            await Env.DisposeAsync();
        }
    }

    /// <summary>Router, nodes n1 and n2 (IPv4 and IPv6 sessions each), controller (All, BGP pools), one BGPPeer per family.</summary>
    private static async Task<World> WorldAsync(bool bfd = false, int holdTime = 9, string? password = null, bool gracefulRestart = false, TimeSpan? leaseDuration = null)
    {
        var env = await EmbeddedAsync();
        var lab = new NodeLab(env, fabric: true) { LeaseDuration = leaseDuration ?? TimeSpan.FromSeconds(2) };
        try
        {
            lab.AddNode("n1");
            lab.AddNode("n2");
            var fabric = lab.Fabric!;
            var neighbors = new[] { "n1", "n2" }.SelectMany(n => new[] { fabric.V4(n), fabric.V6(n) })
                .Select(a => new BgpNeighbor { Address = a, As = NodeAs, Bfd = bfd, HoldTime = holdTime, Password = password }).ToList();
            var router = new BirdRouter(lab.Site, fabric.Router, new RouterConfig { RouterId = Fabric.RouterV4, As = RouterAs, Neighbors = neighbors }, "router");
            await router.StartAsync();
            await env.StartControllerAsync(env.Options() with { LeaderElection = false, Distribution = Distribution.All, Mask = 32, Interface = "lo" });
            await env.PoolAsync("v4", ["203.0.113.0/28"], s => s.Announce = new AnnounceModel { Mode = "BGP", Communities = ["64512:100", "64512:7:8"] });
            await env.PoolAsync("v6", ["2001:db8:1000::/120"], s => s.Announce = new AnnounceModel { Mode = "BGP" });
            if (password is not null)
            {
                await env.NamespaceAsync("bgp-secrets");
                await env.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
                {
                    Metadata = new V1ObjectMeta { Name = "tor" },
                    StringData = new Dictionary<string, string> { ["password"] = password },
                }, "bgp-secrets");
            }

            foreach (var (name, address) in new[] { ("tor-v4", Fabric.RouterV4), ("tor-v6", Fabric.RouterV6) })
            {
                await PeerAsync(env, name, new BgpPeerSpecModel
                {
                    PeerAddress = address.ToString(),
                    PeerAsn = RouterAs,
                    LocalAsn = NodeAs,
                    HoldTime = $"{holdTime}s",
                    ConnectTime = "1s",
                    Bfd = bfd ? new BfdModel { MinRxMs = 50, MinTxMs = 50, Multiplier = 3 } : null,
                    PasswordSecret = password is null ? null : new SecretKeyRef { Namespace = "bgp-secrets", Name = "tor" },
                    GracefulRestart = gracefulRestart ? true : null,
                });
            }

            return new World(env, lab, router);
        }
        catch
        {
            await lab.DisposeAsync();
            await env.DisposeAsync();
            throw;
        }
    }

    private static Task PeerAsync(TestEnv env, string name, BgpPeerSpecModel spec) =>
        env.Client.CustomObjects.CreateClusterCustomObjectAsync(
            new BgpPeer { Metadata = new V1ObjectMeta { Name = name }, ApiVersion = $"{ExtipApi.Group}/{ExtipApi.Version}", Spec = spec },
            ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural);

    private static async Task DualStackServiceAsync(TestEnv env, string name = "web")
    {
        var ns = await env.NamespaceAsync("bgp");
        var svc = LoadBalancer(name, 443);
        svc.Spec.IpFamilyPolicy = "RequireDualStack";
        svc.Spec.IpFamilies = ["IPv4", "IPv6"];
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
    }

    private static async Task<IpNode> NodeStatusAsync(TestEnv env, string node)
    {
        var o = await env.Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpNode.Plural, node);
        return KubernetesJson.Deserialize<IpNode>(((JsonElement)o).GetRawText());
    }

    private static async Task<TimeSpan> UntilAsync(Func<bool> done, TimeSpan timeout, Func<string> what, int pollMs = 5)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"not within {timeout.TotalSeconds} s: {what()}");
            }

            await Task.Delay(pollMs);
        }

        return sw.Elapsed;
    }

    private static string Hops(World w, IPAddress a) => string.Join(",", w.Fabric.RouterNextHops(a));

    private string Debug(World w)
    {
        var claims = w.Env.ClaimsAsync().GetAwaiter().GetResult();
        var svc = w.Env.IngressAsync("bgp", "web").GetAwaiter().GetResult();
        var events = w.Env.EventsAsync("bgp", "web").GetAwaiter().GetResult().Select(e => $"{e.Reason}: {e.Message}");
        var pools = string.Join("; ", new[] { "v4", "v6" }.Select(p => w.Env.PoolStatusAsync(p).GetAwaiter().GetResult()).Select(p => $"{p.Metadata.Name} gen {p.Metadata.Generation} conditions {string.Join(",", p.Status?.Conditions.Select(c => $"{c.Type}={c.Status}") ?? [])}"));
        var leases = w.Env.Client.CoordinationV1.ListNamespacedLease(w.Env.Namespace).Items.Select(l => $"{l.Metadata.Name} holder {l.Spec.HolderIdentity} renewed {l.Spec.RenewTime:O}");
        return $"router v4 hops [{Hops(w, V4)}], v6 hops [{Hops(w, V6)}]; service ingress [{string.Join(",", svc)}]; claims [{string.Join("; ", claims.Select(c => $"{c.Metadata.Name} {c.Spec.Mode} on {string.Join(",", c.Spec.Nodes)}"))}]; leases [{string.Join("; ", leases)}]; n1 holds [{string.Join(",", w.Lab.MarkedText("n1"))}]; events [{string.Join("; ", events)}]; pools [{pools}]\n--- BIRD:\n{w.Router.Tail(30)}\n--- extip:\n{w.Env.DumpLog()}";
    }

    /// <summary>Both nodes announce the Service's addresses; the router's kernel holds ECMP routes to both.</summary>
    private async Task EcmpAsync(World w)
    {
        var both = new[] { w.Fabric.V4("n1"), w.Fabric.V4("n2") }.Select(a => a.ToString()).Order(StringComparer.Ordinal).ToList();
        var both6 = new[] { w.Fabric.V6("n1"), w.Fabric.V6("n2") }.Select(a => a.ToString()).Order(StringComparer.Ordinal).ToList();
        var took = await UntilAsync(() => Hops(w, V4) == string.Join(",", both) && Hops(w, V6) == string.Join(",", both6), TimeSpan.FromSeconds(40), () => $"ECMP routes to both nodes\n{Debug(w)}", 50);
        if (took > TimeSpan.FromSeconds(10))
        {
            output.WriteLine($"SLOW ECMP {took}: {Debug(w)}");
        }
    }

    [Fact]
    public async Task Ecmp_TwoAgentsAnnounceTheAddress_RouterRoutesToBoth_DeletingTheServiceWithdrawsEverywhere()
    {
        await using var w = await WorldAsync();
        await w.Lab.StartAgentAsync("n1");
        var a2 = await w.Lab.StartAgentAsync("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        Assert.Contains("203.0.113.0/32", w.Lab.MarkedText("n1"));
        Assert.Contains("2001:db8:1000::/128", w.Lab.MarkedText("n2"));

        // What the router learned carries the pool's communities.
        var route = string.Join('\n', await w.Router.RunAsync("show route 203.0.113.0/32 all"));
        Assert.Contains("(64512,100)", route, StringComparison.Ordinal);
        Assert.Contains("(64512, 7, 8)", route, StringComparison.Ordinal);

        // The IPNode status and the metrics tell the same.
        var status = await EventuallyAsync(() => NodeStatusAsync(w.Env, "n2"), n => n.Status?.Peers.Count == 2 && n.Status.Peers.All(p => p.State == "Established" && p.PrefixesAdvertised == 1), what: "n2's peers in its IPNode status");
        Assert.Equal(["tor-v4", "tor-v6"], status.Status!.Peers.Select(p => p.Name));
        var metrics = await a2.Metrics.RenderAsync();
        Assert.Contains($"extip_agent_bgp_session_up{{peer=\"{Fabric.RouterV4}\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Contains($"extip_agent_bgp_prefixes_advertised{{peer=\"{Fabric.RouterV6}\"}} 1", metrics, StringComparison.Ordinal);

        await w.Env.DeleteServiceAsync("bgp", "web");
        await UntilAsync(() => w.Fabric.RouterNextHops(V4).Count == 0 && w.Fabric.RouterNextHops(V6).Count == 0, TimeSpan.FromSeconds(20), () => $"routes withdrawn\n{Debug(w)}", 20);
        foreach (var n in new[] { "n1", "n2" })
        {
            foreach (var a in new[] { w.Fabric.V4(n), w.Fabric.V6(n) })
            {
                var peer = await w.Router.PeerAsync(a);
                Assert.True(peer is { Established: true, Received: 0 }, $"{n} {a}: {peer}");
            }
        }

        await EventuallyAsync(() => Task.FromResult(w.Lab.Marked("n1").Count + w.Lab.Marked("n2").Count), c => c == 0, what: "addresses gone");
    }

    [Fact]
    public async Task FrozenNode_WithBfd_RouterDropsItsNextHopWithin250ms()
    {
        await using var w = await WorldAsync(bfd: true);
        var p1 = w.Lab.StartAgentProcess("n1");
        w.Lab.StartAgentProcess("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        foreach (var a in new[] { w.Fabric.V4("n1"), w.Fabric.V4("n2"), w.Fabric.V6("n1") })
        {
            await UntilAsync(() => w.Router.BfdStateAsync(a).GetAwaiter().GetResult() == "Up", TimeSpan.FromSeconds(20), () => $"BIRD's BFD session with {a} Up\n{Debug(w)}", 50);
        }

        // The IPNode status says BFD is up on both sessions.
        await EventuallyAsync(() => NodeStatusAsync(w.Env, "n2"), n => n.Status?.Peers.Count == 2 && n.Status.Peers.All(p => p.State == "Established" && p.Bfd == "Up"), what: "BFD Up in n2's IPNode status");

        // Give BFD time to settle on 50 ms after its poll sequences.
        await Task.Delay(1000);
        var sw = Stopwatch.StartNew();
        Shell.Run("kill", "-STOP", p1.Id.ToString(CultureInfo.InvariantCulture));
        Site.Freeze(w.Lab.Nodes["n1"]);
        var n2 = w.Fabric.V4("n2").ToString();
        var gone = await UntilAsync(() => Hops(w, V4) == n2, TimeSpan.FromSeconds(10), () => $"n1 dropped from the ECMP route\n{Debug(w)}", 2);
        var gone6 = await UntilAsync(() => Hops(w, V6) == w.Fabric.V6("n2").ToString(), TimeSpan.FromSeconds(10), () => $"n1 dropped from the IPv6 ECMP route\n{Debug(w)}", 2);
        output.WriteLine($"frozen node, BFD 50 ms x 3: n1 gone from the router's kernel route after {gone.TotalMilliseconds:F0} ms (IPv4), {gone6.TotalMilliseconds + gone.TotalMilliseconds:F0} ms (IPv6)");
        Shell.Run("kill", "-CONT", p1.Id.ToString(CultureInfo.InvariantCulture));
        Assert.True(gone <= TimeSpan.FromMilliseconds(250), $"IPv4 next hop gone after {gone.TotalMilliseconds:F0} ms");
        Assert.True(gone + gone6 <= TimeSpan.FromMilliseconds(250), $"IPv6 next hop gone after {(gone + gone6).TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task FrozenNode_WithoutBfd_RouterWaitsForTheHoldTime()
    {
        await using var w = await WorldAsync(holdTime: 3);
        var p1 = w.Lab.StartAgentProcess("n1");
        w.Lab.StartAgentProcess("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        var sw = Stopwatch.StartNew();
        Shell.Run("kill", "-STOP", p1.Id.ToString(CultureInfo.InvariantCulture));
        Site.Freeze(w.Lab.Nodes["n1"]);
        var n2 = w.Fabric.V4("n2").ToString();
        var gone = await UntilAsync(() => Hops(w, V4) == n2, TimeSpan.FromSeconds(15), () => $"n1 dropped from the ECMP route\n{Debug(w)}", 10);
        output.WriteLine($"frozen node, no BFD, hold time 3 s: n1 gone from the router's kernel route after {gone.TotalMilliseconds:F0} ms");
        output.WriteLine(w.Router.Tail(15));
        Shell.Run("kill", "-CONT", p1.Id.ToString(CultureInfo.InvariantCulture));

        // The router last heard from n1 about a keepalive (1 s, later when the agent's process is
        // slow to be scheduled) before the freeze, and waits out the rest of the 3 s: seconds,
        // where BFD takes a tenth of one.
        Assert.InRange(gone.TotalSeconds, 1.0, 4.5);
    }

    [Fact]
    public async Task KilledAgent_KernelClosesTheSession_RouterDropsTheNextHopAtOnce()
    {
        await using var w = await WorldAsync();
        var p1 = w.Lab.StartAgentProcess("n1");
        w.Lab.StartAgentProcess("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        output.WriteLine(Debug(w));
        p1.Kill();
        var gone = await UntilAsync(() => Hops(w, V4) == w.Fabric.V4("n2").ToString(), TimeSpan.FromSeconds(10), () => $"n1 dropped from the ECMP route\n{Debug(w)}", 2);
        output.WriteLine($"SIGKILL: n1 gone from the router's kernel route after {gone.TotalMilliseconds:F0} ms (the kernel closed the TCP session)");
        Assert.True(gone < TimeSpan.FromSeconds(1), $"{gone.TotalMilliseconds:F0} ms");

        // Nobody removed n1's address: a dead agent cannot (and the router no longer sends it traffic).
        Assert.Contains("203.0.113.0/32", w.Lab.MarkedText("n1"));
    }

    /// <summary>
    /// With <c>gracefulRestart</c> on the BGPPeer, an agent killed and started again at once (a crash,
    /// an upgrade that does not drain) costs no next hop: the router keeps n1's route as stale while
    /// the agent is gone, the addresses stay on n1, and the new agent (R and F bits set: it found
    /// them) sends End-of-RIB only once it knows its claims, with the route in it.
    /// </summary>
    [Fact]
    public async Task KilledAgent_WithGracefulRestart_TheRouterNeverDropsTheNextHop_AcrossTheRestart()
    {
        // A Lease longer than the restart: the claims stay with n1, as in a quick restart.
        await using var w = await WorldAsync(gracefulRestart: true, leaseDuration: TimeSpan.FromSeconds(15));
        var p1 = w.Lab.StartAgentProcess("n1");
        w.Lab.StartAgentProcess("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        var n1 = w.Fabric.V4("n1").ToString();

        // The router's kernel route, sampled all along.
        int samples = 0, without = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                samples++;
                if (!Hops(w, V4).Contains(n1, StringComparison.Ordinal))
                {
                    without++;
                }

                await Task.Delay(2);
            }
        });

        p1.Kill();
        await w.Router.WaitAsync(w.Fabric.V4("n1"), p => !p.Established, TimeSpan.FromSeconds(30), "the router saw n1's session go");
        var down = samples;

        // The new agent's sessions come up before it has listed its claims (the order that let
        // a first, empty set of routes end the router's graceful restart in one CI run): its
        // lists of IPClaims fail until the router has the session again.
        w.Env.Server!.Faults.FailNext(int.MaxValue, 503, verb: "list", resource: IpClaim.Plural);
        w.Lab.StartAgentProcess("n1");
        await w.Router.WaitAsync(w.Fabric.V4("n1"), p => p.Established, TimeSpan.FromSeconds(30), "the router Established with the new n1 before its claims were listed");
        w.Env.Server.Faults.Clear();
        await UntilAsync(
            () => NodeStatusAsync(w.Env, "n1").GetAwaiter().GetResult().Status?.Peers.Any(p => p.Name == "tor-v4" && p.State == "Established" && p.PrefixesAdvertised >= 1) == true,
            TimeSpan.FromSeconds(60), () => $"the new agent Established with its route\n{Debug(w)}", 20);
        await w.Router.WaitAsync(w.Fabric.V4("n1"), p => p.Established && p.Received >= 1, TimeSpan.FromSeconds(30), "the router Established with n1 again");

        // Past End-of-RIB: a route missing from it would be gone from the kernel within milliseconds.
        var at = samples;
        await UntilAsync(() => samples >= at + 200, TimeSpan.FromSeconds(60), () => "200 more samples");
        await stop.CancelAsync();
        await sampler;
        output.WriteLine($"{samples} samples of the router's route ({down} before n1's session was seen down): {without} without n1");
        Assert.Equal(0, without);
        Assert.Contains(n1, Hops(w, V4), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoppedAgent_WithdrawsBeforeItCloses_AndThenRemovesItsAddresses()
    {
        await using var w = await WorldAsync();
        var p1 = w.Lab.StartAgentProcess("n1");
        w.Lab.StartAgentProcess("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        await using var capture = await Capture.StartAsync(w.Lab.Site, w.Fabric.Router, "br0", "tcp port 179");
        Shell.Run("kill", "-TERM", p1.Id.ToString(CultureInfo.InvariantCulture));
        var gone = await UntilAsync(() => Hops(w, V4) == w.Fabric.V4("n2").ToString(), TimeSpan.FromSeconds(10), () => $"n1 dropped from the ECMP route\n{Debug(w)}", 2);
        output.WriteLine($"SIGTERM: n1 gone from the router's kernel route after {gone.TotalMilliseconds:F0} ms");
        Assert.True(p1.WaitForExit(10_000));
        Assert.Equal(0, p1.ExitCode);
        await capture.StopAsync();

        // On the wire from n1: an UPDATE withdrawing the address, then Cease / administrative shutdown.
        var n1 = w.Fabric.V4("n1");
        var frames = capture.Fields($"ip.src == {n1} && bgp", "frame.number", "bgp.type", "bgp.withdrawn_prefix", "bgp.notify.major_error", "bgp.notify.minor_error_cease");
        var seen = string.Join('\n', frames);
        output.WriteLine(seen);

        // Messages in the order sent: (frame, position in the frame). Several may share a segment.
        var messages = frames.SelectMany(f =>
        {
            var cols = f.Split('\t');
            return cols[1].Split(',').Select((type, i) => (Frame: int.Parse(cols[0], CultureInfo.InvariantCulture), At: i, Type: type, Withdrawn: cols[2], Error: cols.Length > 3 ? cols[3] : string.Empty, Cease: cols.Length > 4 ? cols[4] : string.Empty));
        }).ToList();
        var withdraw = messages.FindIndex(m => m.Type == "2" && m.Withdrawn.Contains("203.0.113.0", StringComparison.Ordinal));
        var cease = messages.FindIndex(m => m.Type == "3");
        Assert.True(withdraw >= 0 && cease > withdraw, $"a withdrawal of 203.0.113.0/32 before the NOTIFICATION; n1 sent:\n{seen}\ncapture: {capture.Output}");
        Assert.Equal(("6", "2"), (messages[cease].Error, messages[cease].Cease));
        Assert.Empty(w.Lab.Marked("n1"));
    }

    [Fact]
    public async Task Md5PasswordFromASecret_SessionComesUp()
    {
        await using var w = await WorldAsync(password: "rack-7-secret");
        await w.Lab.StartAgentAsync("n1");
        await w.Lab.StartAgentAsync("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
    }

    [Fact]
    public async Task BadBgpPeers_AreReportedWithTheField_AndTheGoodOneStillWorks()
    {
        await using var w = await WorldAsync();
        await PeerAsync(w.Env, "bad-address", new BgpPeerSpecModel { PeerAddress = "198.51.100.999", PeerAsn = RouterAs, LocalAsn = NodeAs });
        await PeerAsync(w.Env, "no-secret", new BgpPeerSpecModel
        {
            PeerAddress = "198.51.100.2", PeerAsn = RouterAs, LocalAsn = NodeAs,
            PasswordSecret = new SecretKeyRef { Namespace = "nowhere", Name = "missing" },
        });
        await PeerAsync(w.Env, "bad-hold", new BgpPeerSpecModel { PeerAddress = "198.51.100.3", PeerAsn = RouterAs, LocalAsn = NodeAs, HoldTime = "2s" });
        await w.Lab.StartAgentAsync("n1");
        await w.Lab.StartAgentAsync("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);

        // The status is written as things change: wait for one that shows both the three invalid
        // peers and the good session up (a write between the two shows the session still opening).
        var status = await EventuallyAsync(
            () => NodeStatusAsync(w.Env, "n1"),
            n => n.Status?.Peers.Count(p => p.State == "Invalid") == 3 && n.Status.Peers.Any(p => p.Name == "tor-v4" && p.State == "Established"),
            what: "three invalid peers and tor-v4 Established in n1's status");
        var byName = status.Status!.Peers.ToDictionary(p => p.Name, StringComparer.Ordinal);
        Assert.Contains("spec.peerAddress: \"198.51.100.999\"", byName["bad-address"].Message, StringComparison.Ordinal);
        Assert.Contains("Secret nowhere/missing does not exist", byName["no-secret"].Message, StringComparison.Ordinal);
        Assert.Contains("holdTime", byName["bad-hold"].Message, StringComparison.Ordinal);
        Assert.Equal("Established", byName["tor-v4"].State);

        var events = await EventuallyAsync(() => w.Env.EventsAsync("default", "bad-address"), e => e.Count > 0, what: "an Event on the bad BGPPeer");
        Assert.Contains(events, e => e.Reason == "InvalidPeer" && e.Type == "Warning" && e.Message.Contains("198.51.100.999", StringComparison.Ordinal));
    }

    /// <summary>
    /// Issue 11: a BGPPeer edited into holdTime 1e400 (or NaN) made the peer building throw, and
    /// the catch around the whole reconcile stopped every peer change on the node. Now it is an
    /// error naming the field, and the session goes on with the last valid spec. The schema now
    /// refuses 1e400 and NaN at the door (ExtipCrdTests); a duration that overflows a TimeSpan
    /// still passes it and threw the same way.
    /// </summary>
    [Fact]
    public async Task BgpPeerEditedIntoANonFiniteHoldTime_KeepsItsSession_AndSaysSo_OtherPeerChangesGoOn()
    {
        await using var w = await WorldAsync();
        await w.Lab.StartAgentAsync("n1");
        await w.Lab.StartAgentAsync("n2");
        await DualStackServiceAsync(w.Env);
        await EcmpAsync(w);
        var generation = await UpdateAsync(async () =>
        {
            var o = await w.Env.Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural, "tor-v4");
            var peer = KubernetesJson.Deserialize<BgpPeer>(((JsonElement)o).GetRawText());
            peer.Spec.HoldTime = "99999999999999999999999h";
            await w.Env.Client.CustomObjects.ReplaceClusterCustomObjectAsync(peer, ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural, "tor-v4");
            return peer.Metadata.Generation;
        });

        // Another peer change made afterwards is still carried out.
        await PeerAsync(w.Env, "bad-address", new BgpPeerSpecModel { PeerAddress = "198.51.100.999", PeerAsn = RouterAs, LocalAsn = NodeAs });
        var expected = $"spec.holdTime: \"99999999999999999999999h\" is not a duration (such as 90s or 3m; a finite, non-negative number); serving the last valid spec (generation {generation})";
        var status = await EventuallyAsync(
            () => NodeStatusAsync(w.Env, "n1"),
            n => n.Status?.Peers.Any(p => p.Name == "tor-v4" && p.Message == expected) == true && n.Status.Peers.Any(p => p.Name == "bad-address"),
            what: "tor-v4 serving its last valid spec and bad-address reported in n1's status");
        Assert.Equal("Established", status.Status!.Peers.Single(p => p.Name == "tor-v4").State);
        await EcmpAsync(w);
        var events = await EventuallyAsync(() => w.Env.EventsAsync("default", "tor-v4"), e => e.Any(x => x.Reason == "InvalidPeer"), what: "an Event on tor-v4");
        Assert.Contains(events, e => e.Type == "Warning" && e.Message.EndsWith(expected, StringComparison.Ordinal));
    }
}
