using System.Diagnostics;
using System.Text.Json;
using Extip.Controller;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using Extip.Testing.Cluster;
using k8s;
using k8s.Models;
using Xunit.Abstractions;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Agent.Tests;

/// <summary>
/// Embedded API server, controller and real agents driving real network namespaces: what the
/// kernel of each node holds, read back through netlink.
/// </summary>
public sealed class AgentScenarios(ITestOutputHelper output)
{
    private static ControllerOptions Controller(TestEnv env, Distribution distribution) =>
        env.Options() with { LeaderElection = false, Distribution = distribution };

    private static async Task<IpNode> NodeStatusAsync(TestEnv env, string node)
    {
        var o = await env.Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpNode.Plural, node);
        return KubernetesJson.Deserialize<IpNode>(((JsonElement)o).GetRawText());
    }

    /// <summary>Polls every 10 ms; returns how long the condition took.</summary>
    private static async Task<TimeSpan> UntilAsync(Func<bool> done, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds} s");
            }

            await Task.Delay(10);
        }

        return sw.Elapsed;
    }

    [Fact]
    public async Task Seed_LocalMode_AllNodes_AddressOnLoOfExactlyTheAgentsNodes_GoneWithTheService()
    {
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        lab.AddNode("n1");
        lab.AddNode("n2");
        lab.AddNode("n3"); // a node without an agent: nothing may land there
        await env.StartControllerAsync(Controller(env, Distribution.All) with { Mask = 32, Interface = "lo", Mode = AnnounceMode.Local });
        await lab.StartAgentAsync("n1");
        await lab.StartAgentAsync("n2");
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        await env.PoolAsync("v6", ["2001:db8::/120"]);
        var ns = await env.NamespaceAsync("seed");
        var svc = LoadBalancer("frontend", 443);
        svc.Spec.IpFamilyPolicy = "RequireDualStack";
        svc.Spec.IpFamilies = ["IPv4", "IPv6"];
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);

        var want = new HashSet<string>(["192.0.2.0/32", "2001:db8::/128"], StringComparer.Ordinal);
        await EventuallyAsync(() => Task.FromResult(lab.MarkedText("n1").SetEquals(want) && lab.MarkedText("n2").SetEquals(want)), ok => ok, what: "the addresses on lo of n1 and n2");
        Assert.Empty(lab.Marked("n3"));
        Assert.All(lab.Marked("n1"), a => Assert.Equal("lo", RtLinkName(lab, "n1", a.InterfaceIndex)));

        var status = await EventuallyAsync(() => NodeStatusAsync(env, "n1"), n => n.Status?.Addresses.Count == 2 && n.Status.Addresses.All(a => a.State == "Held"), what: "IPNode n1 status");
        Assert.Equal(["192.0.2.0", "2001:db8::"], status.Status!.Addresses.Select(a => a.Address));
        Assert.All(status.Status.Addresses, a => Assert.Equal(("lo", "Local"), (a.Interface, a.Mode)));
        Assert.Contains(status.Status.Conditions, c => c.Type == "Ready" && c.Status == "True");

        // The node's interfaces as netlink lists them (read in the pass that added the addresses), and the counts.
        var lo = Assert.Single(status.Status.Interfaces, i => i.Name == "lo");
        Assert.Subset(lo.Addresses.ToHashSet(), want);
        Assert.Equal((2, 2, 0), (status.Status.Summary.Addresses, status.Status.Summary.Held, status.Status.Summary.Peers));

        await env.DeleteServiceAsync(ns, "frontend");
        await EventuallyAsync(() => Task.FromResult(lab.Marked("n1").Count + lab.Marked("n2").Count), n => n == 0, what: "addresses removed with the Service");
    }

    private static string RtLinkName(NodeLab lab, string node, int index)
    {
        using var nl = Netlink.RtNetlink.Open(lab.Nodes[node]);
        return nl.Link(index)!.Name;
    }

    [Fact]
    public async Task Balance_AgentKilled_ItsAddressesMove_AndARestartSweepsWhatItLeft()
    {
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        string[] nodes = ["n1", "n2", "n3"];
        foreach (var n in nodes)
        {
            lab.AddNode(n);
        }

        await env.StartControllerAsync(Controller(env, Distribution.Balance));
        var processes = nodes.ToDictionary(n => n, n => lab.StartAgentProcess(n));
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("balance");
        for (var i = 0; i < 6; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer($"s{i}"), ns);
        }

        await EventuallyAsync(() => Task.FromResult(nodes.Select(n => lab.Marked(n).Count).ToList()), c => c.All(x => x == 2), TimeSpan.FromSeconds(30), "two addresses on each node");
        var n1Had = lab.MarkedText("n1");

        // SIGKILL: n1's agent removes nothing; its Lease runs out and the claims move.
        var killedAt = Stopwatch.StartNew();
        processes["n1"].Kill();
        var moved = await UntilAsync(() => n1Had.All(a => lab.MarkedText("n2").Contains(a) || lab.MarkedText("n3").Contains(a)), TimeSpan.FromSeconds(20), "n1's addresses on n2 or n3");
        var movedAt = DateTime.UtcNow;
        var lease = await env.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + "n1", env.Namespace);
        var expiry = lease.Spec.RenewTime!.Value.ToUniversalTime().AddSeconds(lease.Spec.LeaseDurationSeconds!.Value);
        output.WriteLine($"failover after SIGKILL: {moved.TotalMilliseconds:F0} ms from the kill to all of n1's addresses on the other nodes' interfaces, {(movedAt - expiry).TotalMilliseconds:F0} ms after n1's Lease expired (lease {lab.LeaseDuration.TotalSeconds} s, renewed every {lab.RenewInterval.TotalMilliseconds} ms)");
        Assert.True(movedAt >= expiry, $"moved at {movedAt:O}, before n1's Lease expired at {expiry:O}");
        // A dead agent removes nothing, but its addresses' kernel lifetimes ran out with its Lease.
        await EventuallyAsync(() => Task.FromResult(lab.MarkedText("n1")), m => m.Count == 0, what: "n1's addresses removed by the kernel");
        Assert.Equal(6, lab.MarkedText("n2").Count + lab.MarkedText("n3").Count);

        // Restarted, it sweeps what no claim gives it any more; whatever the controller gives back, it holds.
        processes["n1"] = lab.StartAgentProcess("n1");
        await EventuallyAsync(async () =>
        {
            var claims = await env.ClaimsAsync();
            return nodes.All(n => lab.MarkedText(n).SetEquals(claims.Where(c => c.Spec.Nodes.Contains(n)).Select(c => $"{c.Spec.Address}/32")))
                && claims.Count == 6 && claims.All(c => c.Spec.Nodes.Count == 1);
        }, ok => ok, TimeSpan.FromSeconds(30), "each node holds exactly its claims");
        var all = nodes.SelectMany(lab.MarkedText).ToList();
        Assert.Equal(6, all.Count);
        Assert.Equal(6, all.Distinct().Count());
    }

    [Fact]
    public async Task Sigterm_HandsTheClaimsOverMakeBeforeBreak_ThenReleasesTheLease()
    {
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env) { LeaseDuration = TimeSpan.FromSeconds(10), RenewInterval = TimeSpan.FromSeconds(1) };
        lab.AddNode("n1");
        lab.AddNode("n2");
        await env.StartControllerAsync(Controller(env, Distribution.Balance));
        var p1 = lab.StartAgentProcess("n1");
        var p2 = lab.StartAgentProcess("n2");
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("term");
        for (var i = 0; i < 4; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer($"s{i}"), ns);
        }

        await EventuallyAsync(() => Task.FromResult(lab.Marked("n1").Count == 2 && lab.Marked("n2").Count == 2), ok => ok, TimeSpan.FromSeconds(30), "two addresses on each node");
        var n1Had = lab.MarkedText("n1");

        // SIGTERM: n1's Lease says it drains, the controller moves its claims to n2, and n1 keeps
        // each address until n2 says it holds it. Watched all along: never on neither node.
        var sw = Stopwatch.StartNew();
        Lab.Shell.Run("kill", "-TERM", p1.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var gaps = new List<string>();
        var samples = 0;
        while (!(lab.Marked("n2").Count == 4 && lab.Marked("n1").Count == 0))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "n1's addresses did not all reach n2");
            var (on1, on2) = (lab.MarkedText("n1"), lab.MarkedText("n2"));
            gaps.AddRange(n1Had.Where(a => !on1.Contains(a) && !on2.Contains(a)).Select(a => $"{a} at {sw.Elapsed.TotalMilliseconds:F0} ms"));
            samples++;
        }

        output.WriteLine($"SIGTERM to all addresses on n2 and none on n1: {sw.Elapsed.TotalMilliseconds:F0} ms, {samples} samples (lease {lab.LeaseDuration.TotalSeconds} s)");
        Assert.True(gaps.Count == 0, $"an address was on neither node: {string.Join(", ", gaps)}");
        Assert.True(p1.WaitForExit(30_000));
        p1.WaitForExit();
        var log = string.Join('\n', env.DumpLog().Split('\n').Where(l => l.Contains("[agent n1]", StringComparison.Ordinal)).TakeLast(80));
        Assert.True(p1.ExitCode == 0, $"agent n1 exited with {p1.ExitCode}; its output:\n{log}");
        Assert.Contains("every claim handed over", log, StringComparison.Ordinal);
        var lease = await env.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + "n1", env.Namespace);
        Assert.Null(lease.Spec.HolderIdentity);
        Assert.False(lease.Metadata.Annotations?.ContainsKey(ExtipApi.DrainingAnnotation) ?? false);
        GC.KeepAlive(p2);
    }

    [Fact]
    public async Task MissingInterface_IsAConditionAndIsRetriedWhenItAppears()
    {
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        lab.AddNode("n1");
        var peer = lab.Site.AddNamespace("peer");
        await env.StartControllerAsync(Controller(env, Distribution.All));
        await lab.StartAgentAsync("n1");
        await env.PoolAsync("late", ["198.51.100.0/28"], s => s.Announce = new AnnounceModel { Interface = "eth7" });
        var ns = await env.NamespaceAsync("late");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);

        var pending = await EventuallyAsync(() => NodeStatusAsync(env, "n1"), n => n.Status?.Addresses.Any(a => a.State == "Pending") == true, what: "Pending address");
        var ready = Assert.Single(pending.Status!.Conditions, c => c.Type == "Ready");
        Assert.Equal(("False", "InterfaceMissing"), (ready.Status, ready.Reason));
        Assert.Contains("eth7", ready.Message, StringComparison.Ordinal);
        Assert.Empty(lab.Marked("n1"));

        lab.Site.Veth(lab.Nodes["n1"], "eth7", peer, "eth7");
        await EventuallyAsync(() => Task.FromResult(lab.MarkedText("n1")), m => m.Contains("198.51.100.0/32"), what: "address on eth7 once it exists");
        await EventuallyAsync(() => NodeStatusAsync(env, "n1"), n => n.Status?.Conditions.Any(c => c.Type == "Ready" && c.Status == "True") == true, what: "Ready again");
    }

    [Fact]
    public async Task StaleMarkedAddresses_AreSweptAtStart_OthersAreLeftAlone()
    {
        await using var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        var n1 = lab.AddNode("n1");
        using (var nl = Netlink.RtNetlink.Open(n1))
        {
            var lo = nl.Link("lo")!;
            nl.AddAddress(new Netlink.RtNetlink.AddressSpec(lo.Index, NodeLab.Ip("203.0.113.50"), 32, NodeLab.Mark));
        }

        Lab.Site.Exec(n1, "ip", "addr", "add", "203.0.113.51/32", "dev", "lo");
        await env.StartControllerAsync(Controller(env, Distribution.All));
        await lab.StartAgentAsync("n1");
        await EventuallyAsync(() => Task.FromResult(lab.Marked("n1").Count), c => c == 0, what: "stale marked address swept");
        Assert.Contains("203.0.113.51/32", Lab.Site.Exec(n1, "ip", "addr", "show", "dev", "lo"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartedBeforeItReachesTheApiServer_NotReady_ThenHoldsItsClaimOnceItDoes()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        lab.AddNode("n1");

        // Every request of the agent fails as a refused connection would, from its start.
        var cut = new ApiCut();
        cut.Cut();
        var agent = await lab.StartAgentAsync("n1", cut);
        await env.StartControllerAsync(Controller(env, Distribution.All));
        await env.Agents.StartAsync("n1"); // the controller places the claim on n1 (a Lease renewed for it)
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("early");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["n1"]), what: "the claim on n1");
        await UntilAsync(() => env.DumpLog().Contains("the test cut this agent off from the API server", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the agent trying");
        Assert.False(agent.IsReady);
        Assert.Empty(lab.Marked("n1"));

        // The API server answers: within a backoff step the agent holds its claim, without a restart.
        cut.Heal();
        await EventuallyAsync(() => Task.FromResult(lab.MarkedText("n1")), m => m.SetEquals(["192.0.2.0/32"]), TimeSpan.FromSeconds(60), "the address held once the API server answers");
        await UntilAsync(() => agent.IsReady, TimeSpan.FromSeconds(60), "the agent ready");
    }

    [Fact]
    public async Task FrozenAgent_L2_TheKernelRemovesItsAddress_BeforeTheClaimMoves()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env, fabric: true) { LeaseDuration = TimeSpan.FromSeconds(2), RenewInterval = TimeSpan.FromMilliseconds(400) };
        lab.AddNode("n1");
        lab.AddNode("n2");
        await env.StartControllerAsync(env.Options() with { LeaderElection = false, Mode = AnnounceMode.L2, Interface = "eth0" });
        var processes = new Dictionary<string, Process>(StringComparer.Ordinal) { ["n1"] = lab.StartAgentProcess("n1"), ["n2"] = lab.StartAgentProcess("n2") };
        await env.PoolAsync("segment", ["198.51.100.100/32"]);
        var ns = await env.NamespaceAsync("frozen");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 1, TimeSpan.FromSeconds(60), "an L2 claim on one node"))[0];
        var first = claim.Spec.Nodes[0];
        var second = first == "n1" ? "n2" : "n1";
        await EventuallyAsync(() => Task.FromResult(lab.Marked(first)), m => m.Count == 1 && m[0].ValidSeconds <= 3, TimeSpan.FromSeconds(60), $"the address on {first}, with a kernel lifetime");

        // The agent hangs (SIGSTOP): nothing of it runs, but its address must not outlive its Lease.
        Extip.Netlink.Signals.Send(processes[first].Id, Extip.Netlink.Signals.Stop);
        var sw = Stopwatch.StartNew();
        TimeSpan? dropped = null, taken = null;
        while (dropped is null || taken is null)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"{first} holds {lab.Marked(first).Count}, {second} {lab.Marked(second).Count}\n{env.DumpLog()}");
            if (dropped is null && lab.Marked(first).Count == 0)
            {
                dropped = sw.Elapsed;
            }

            if (taken is null && lab.Marked(second).Count == 1)
            {
                taken = sw.Elapsed;
            }

            await Task.Delay(2);
        }

        output.WriteLine($"{first} frozen at 0; its address removed by the kernel at {dropped.Value.TotalMilliseconds:F0} ms; {second} took it at {taken.Value.TotalMilliseconds:F0} ms");
        Assert.False(processes[first].HasExited);
        Assert.True(dropped <= taken, $"both held the address for {(dropped - taken)!.Value.TotalMilliseconds:F0} ms");
        Extip.Netlink.Signals.Send(processes[first].Id, Extip.Netlink.Signals.Cont);
    }

    [Fact]
    public async Task AgentThatCannotStart_NeverRenewsItsLease()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env);
        lab.AddNode("n1");
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        // Its metrics port is taken: it fails at start, before it could tell the controller it is there.
        await Assert.ThrowsAnyAsync<IOException>(() => lab.StartAgentAsync("n1", configure: o => o with { MetricsAddress = $"127.0.0.1:{port}" }));
        Assert.DoesNotContain((await env.Client.CoordinationV1.ListNamespacedLeaseAsync(env.Namespace)).Items, l => l.Metadata.Name == "extip-agent-n1");
    }

    [Fact]
    public async Task StartedBeforeTheCrds_NotReady_ThenHoldsItsClaimOnceTheyAppear()
    {
        var env = await EmbeddedAsync(crds: false);
        await using var lab = new NodeLab(env);
        lab.AddNode("n1");
        var agent = await lab.StartAgentAsync("n1");

        // No IPClaim resource yet: the agent keeps asking, and says it is not ready (it used to go
        // on without claims, ready, and list them again only 30 s later).
        await UntilAsync(() => env.DumpLog().Contains("ipclaims: the API server does not serve this resource (its CRD is not installed yet?)", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the agent finding no IPClaim resource");
        await UntilAsync(() => env.DumpLog().Contains("not renewing the Lease: its IPClaims are not listed yet", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the agent holding back its Lease");
        Assert.False(agent.IsReady);

        // It cannot act on claims, so it does not ask for any: no Lease.
        Assert.DoesNotContain((await env.Client.CoordinationV1.ListNamespacedLeaseAsync(env.Namespace)).Items, l => l.Metadata.Name == "extip-agent-n1");

        // The CRDs arrive, then the controller, a pool and a Service: the agent holds the address.
        await Extip.Kubernetes.Crds.CrdInstaller.InstallAsync(env.Client, CancellationToken.None);
        await env.StartControllerAsync(Controller(env, Distribution.All));
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("late");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        await EventuallyAsync(() => Task.FromResult(lab.MarkedText("n1")), m => m.SetEquals(["192.0.2.0/32"]), what: "the address held once the CRDs exist");
        await UntilAsync(() => agent.IsReady, TimeSpan.FromSeconds(60), "the agent ready");
    }

    [Fact]
    public async Task LostApiServer_AllClaim_FencedAgentKeepsTheAddress_UntilSigterm()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env) { LeaseDuration = TimeSpan.FromSeconds(2), RenewInterval = TimeSpan.FromMilliseconds(400) };
        lab.AddNode("n1");
        var controller = await env.StartControllerAsync(Controller(env, Distribution.All));
        var agent = await lab.StartAgentAsync("n1");
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("keep");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        await EventuallyAsync(() => Task.FromResult(lab.Marked("n1").Count), c => c == 1, what: "address held");

        // The API server goes away: the agent fences (its Lease runs out) but keeps the address
        // of its All claim, where several holders are normal and the network judges liveness.
        await env.KillAsync(controller);
        await env.Server!.DisposeAsync();
        await UntilAsync(() => agent.Fenced, TimeSpan.FromSeconds(30), "the agent fenced without the API");
        Assert.Equal(["192.0.2.0/32"], lab.MarkedText("n1"));
        Assert.Equal(["192.0.2.0/32"], agent.States.Where(s => s.State == AddressState.Held).Select(s => $"{s.Want.Address}/{s.Want.PrefixLength}"));

        // Only a SIGTERM (or its claim) takes it away.
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await agent.StopAsync(grace.Token);
        Assert.Empty(lab.Marked("n1"));
    }

    [Fact]
    public async Task LostApiServer_ForEveryone_BalanceClaimsStay_AsNoPeerReachesItEither()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env, fabric: true) { LeaseDuration = TimeSpan.FromSeconds(2), RenewInterval = TimeSpan.FromMilliseconds(400) };
        lab.AddNode("n1");
        lab.AddNode("n2");
        var controller = await env.StartControllerAsync(Controller(env, Distribution.Balance));
        var agents = new[] { await lab.StartAgentAsync("n1"), await lab.StartAgentAsync("n2") };
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("outage");
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer(name), ns);
        }

        // Two on each node: the one that arrived second gets its share once its hold-down is
        // over, gradually; each node must hold single-owner addresses for the outage to keep.
        await EventuallyAsync(() => Task.FromResult((lab.Marked("n1").Count, lab.Marked("n2").Count)), c => c == (2, 2), what: "two addresses held on each node");
        await UntilAsync(() => agents.All(a => a.Peers.PeersHeard(TimeSpan.FromSeconds(2)) == 1), TimeSpan.FromSeconds(30), "each agent hears the other");
        var before = lab.MarkedText("n1").Concat(lab.MarkedText("n2")).Order(StringComparer.Ordinal).ToList();

        // The API server goes away for both: their Leases run out, but neither hears of a peer
        // that reached it since, so nobody can take over: every address stays.
        await env.KillAsync(controller);
        await env.Server!.DisposeAsync();
        await UntilAsync(() => agents.All(a => a.Fenced && a.HoldingThroughOutage), TimeSpan.FromSeconds(30), "both Leases ran out, addresses kept through the outage");
        foreach (var a in agents)
        {
            await UntilAsync(() => DateTime.UtcNow > a.LeaseValidUntil.AddSeconds(1), TimeSpan.FromSeconds(30), "a second past the Lease");
        }

        Assert.Equal(before, lab.MarkedText("n1").Concat(lab.MarkedText("n2")).Order(StringComparer.Ordinal).ToList());
        Assert.Contains("extip_agent_outage_hold 1", await agents[0].Metrics.RenderAsync(), StringComparison.Ordinal);
        GC.KeepAlive(agents);
    }

    [Fact]
    public async Task LostApiServer_OutageHold_BoundsHowLongSingleOwnerAddressesStay()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env) { LeaseDuration = TimeSpan.FromSeconds(2), RenewInterval = TimeSpan.FromMilliseconds(400) };
        lab.AddNode("n1");
        var controller = await env.StartControllerAsync(Controller(env, Distribution.Balance));
        var agent = await lab.StartAgentAsync("n1", configure: o => o with { OutageHold = TimeSpan.FromSeconds(1) });
        await env.PoolAsync("v4", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("hold");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        await EventuallyAsync(() => Task.FromResult(lab.Marked("n1").Count), c => c == 1, what: "address held");
        await UntilAsync(() => agent.Peers is not null && env.Server is not null, TimeSpan.FromSeconds(1), "started");

        await env.KillAsync(controller);
        await env.Server!.DisposeAsync();
        await UntilAsync(() => agent.HoldingThroughOutage, TimeSpan.FromSeconds(30), "kept through the outage");
        Assert.Single(lab.Marked("n1"));
        await UntilAsync(() => lab.Marked("n1").Count == 0, TimeSpan.FromSeconds(30), "dropped once the longest hold is over");
        Assert.True(DateTime.UtcNow >= agent.LeaseValidUntil.AddSeconds(1), "dropped before the Lease plus the hold had passed");
    }

    [Fact]
    public async Task CutOffFromTheApiOnly_L2_TheNodeFencesOnItsPeersWord_AndTheOtherTakesOver()
    {
        var env = await EmbeddedAsync();
        await using var lab = new NodeLab(env, fabric: true) { LeaseDuration = TimeSpan.FromSeconds(2), RenewInterval = TimeSpan.FromMilliseconds(400) };
        lab.AddNode("n1");
        lab.AddNode("n2");
        await env.StartControllerAsync(env.Options() with { LeaderElection = false, Mode = AnnounceMode.L2, Interface = "eth0" });
        var cuts = new Dictionary<string, ApiCut>(StringComparer.Ordinal) { ["n1"] = new(), ["n2"] = new() };
        var agents = new Dictionary<string, ExtipAgent>(StringComparer.Ordinal)
        {
            ["n1"] = await lab.StartAgentAsync("n1", cuts["n1"]),
            ["n2"] = await lab.StartAgentAsync("n2", cuts["n2"]),
        };
        await env.PoolAsync("segment", ["198.51.100.100/32"]);
        var ns = await env.NamespaceAsync("cut");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 1, what: "an L2 claim on one node"))[0];
        var first = claim.Spec.Nodes[0];
        var second = first == "n1" ? "n2" : "n1";
        await EventuallyAsync(() => Task.FromResult(lab.Marked(first).Count), c => c == 1, what: $"the address on {first}");
        await UntilAsync(() => agents.Values.All(a => a.Peers.PeersHeard(TimeSpan.FromSeconds(2)) == 1), TimeSpan.FromSeconds(30), "each agent hears the other");

        // Only the holder loses the API server; its data traffic (the heartbeats too) goes on.
        cuts[first].Cut();
        var sw = Stopwatch.StartNew();
        TimeSpan? dropped = null, taken = null;
        while (dropped is null || taken is null)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"no hand-over: {first} holds {lab.Marked(first).Count}, {second} {lab.Marked(second).Count}\n{env.DumpLog()}");
            if (dropped is null && lab.Marked(first).Count == 0)
            {
                dropped = sw.Elapsed;
            }

            if (taken is null && lab.Marked(second).Count == 1)
            {
                taken = sw.Elapsed;
            }

            await Task.Delay(5);
        }

        output.WriteLine($"cut at 0; {first} fenced at {dropped.Value.TotalMilliseconds:F0} ms (Lease {lab.LeaseDuration.TotalSeconds} s), {second} took over at {taken.Value.TotalMilliseconds:F0} ms; both held it for {Math.Max(0, (dropped - taken).Value.TotalMilliseconds):F0} ms");
        Assert.True(agents[first].Fenced);
        Assert.False(agents[first].HoldingThroughOutage);
        Assert.Contains(env.DumpLog().Split('\n'), l => l.Contains($"{second} reached the API server after this node lost it", StringComparison.Ordinal));

        // Back on the API: it takes nothing back that is not its own.
        cuts[first].Heal();
        await UntilAsync(() => !agents[first].Fenced, TimeSpan.FromSeconds(30), "unfenced");
        Assert.Empty(lab.Marked(first));
        Assert.Single(lab.Marked(second));
    }
}
