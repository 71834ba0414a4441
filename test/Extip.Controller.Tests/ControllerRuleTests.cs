using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using Extip.Testing.Cluster;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>Each rule of the controller, against the embedded API server over HTTP.</summary>
public sealed class ControllerRuleTests
{
    private static async Task<(TestEnv Env, string Ns)> StartAsync(ControllerOptions? options = null, params string[] agents)
    {
        var env = await EmbeddedAsync();
        await env.Agents.StartAsync(agents.Length == 0 ? ["k8s1", "k8s2"] : agents);
        await env.StartControllerAsync(options ?? env.Options());
        return (env, await env.NamespaceAsync("apps"));
    }

    private static async Task<Corev1Event> WarningAsync(TestEnv env, string ns, string name, string reason) =>
        (await EventuallyAsync(() => env.EventsAsync(ns, name), e => e.Any(x => x.Reason == reason), what: $"{reason} event on {name}")).First(x => x.Reason == reason);

    [Fact]
    public async Task OptInAnnotation_PutsTheAddressIntoExternalIPs()
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        var svc = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "frontend", Annotations = new Dictionary<string, string> { [ExtipApi.ExternalIpAnnotation] = "auto" } },
            Spec = new V1ServiceSpec { Type = "NodePort", Selector = new Dictionary<string, string> { ["app"] = "frontend" }, Ports = [new V1ServicePort { Port = 443 }], ExternalIPs = ["198.51.100.9"] },
        };
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
        var updated = await EventuallyAsync(() => env.Client.CoreV1.ReadNamespacedServiceAsync("frontend", ns), s => s.Spec.ExternalIPs?.Count == 2, what: "externalIPs");
        Assert.Equal(["198.51.100.9", "192.0.2.0"], updated.Spec.ExternalIPs);
        Assert.Equal("192.0.2.0", updated.Metadata.Annotations[ExtipApi.AllocatedAnnotation]);
        var refusal = await WarningAsync(env, ns, "frontend", nameof(RefusalReason.ExternalIPNotAllowed));
        Assert.Contains("198.51.100.9", refusal.Message, StringComparison.Ordinal);

        // Opting out removes only what extip added.
        await UpdateAsync(async () =>
        {
            var current = await env.Client.CoreV1.ReadNamespacedServiceAsync("frontend", ns);
            current.Metadata.Annotations.Remove(ExtipApi.ExternalIpAnnotation);
            return await env.Client.CoreV1.ReplaceNamespacedServiceAsync(current, "frontend", ns);
        });
        await EventuallyAsync(() => env.Client.CoreV1.ReadNamespacedServiceAsync("frontend", ns), s => s.Spec.ExternalIPs?.Count == 1, what: "opt-out");
        Assert.Equal(["198.51.100.9"], (await env.Client.CoreV1.ReadNamespacedServiceAsync("frontend", ns)).Spec.ExternalIPs);
    }

    [Fact]
    public async Task RequestedAddress_IsHonoured_AndOneOutsideEveryPool_IsRefusedWithoutTouchingTheService()
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        var good = LoadBalancer("good");
        good.Metadata.Annotations[ExtipApi.AddressesAnnotation] = "192.0.2.9";
        await env.Client.CoreV1.CreateNamespacedServiceAsync(good, ns);
        var bad = LoadBalancer("bad");
        bad.Metadata.Annotations[ExtipApi.AddressesAnnotation] = "203.0.113.5";
        await env.Client.CoreV1.CreateNamespacedServiceAsync(bad, ns);
        Assert.Equal(["192.0.2.9"], await EventuallyAsync(() => env.IngressAsync(ns, "good"), i => i.Count == 1));
        var refusal = await WarningAsync(env, ns, "bad", nameof(RefusalReason.AddressNotInPool));
        Assert.Equal("Warning", refusal.Type);
        Assert.Contains("203.0.113.5", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(await env.IngressAsync(ns, "bad"));
    }

    public static TheoryData<string, string, string, string> BadAnnotations => new()
    {
        { ExtipApi.PoolAnnotation, "no-such-pool", nameof(RefusalReason.NoSuchPool), "no-such-pool" },
        { ExtipApi.AddressesAnnotation, "192.0.2.300", nameof(RefusalReason.MalformedAddress), "192.0.2.300" },
        { ExtipApi.AddressesAnnotation, "192.0.2.1", nameof(RefusalReason.AddressInUse), "apps/holder" },
    };

    [Theory]
    [MemberData(nameof(BadAnnotations))]
    public async Task BadInput_GivesAWarningNamingTheValue_AndOthersAreUnaffected(string annotation, string value, string reason, string named)
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        var holder = LoadBalancer("holder");
        holder.Metadata.Annotations[ExtipApi.AddressesAnnotation] = "192.0.2.1";
        await env.Client.CoreV1.CreateNamespacedServiceAsync(holder, ns);
        await EventuallyAsync(() => env.IngressAsync(ns, "holder"), i => i.Count == 1);
        await env.YoungerThanAsync((await env.Client.CoreV1.ReadNamespacedServiceAsync("holder", ns)).Metadata.CreationTimestamp, ns);
        var bad = LoadBalancer("bad");
        bad.Metadata.Annotations[annotation] = value;
        await env.Client.CoreV1.CreateNamespacedServiceAsync(bad, ns);
        var warning = await WarningAsync(env, ns, "bad", reason);
        Assert.Contains(named, warning.Message, StringComparison.Ordinal);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("after"), ns);
        Assert.Single(await EventuallyAsync(() => env.IngressAsync(ns, "after"), i => i.Count == 1));
        Assert.Equal(["192.0.2.1"], await env.IngressAsync(ns, "holder"));
        Assert.Empty(await env.IngressAsync(ns, "bad"));
    }

    [Fact]
    public async Task SharingKey_WithOverlappingPorts_OnARequestedAddress_IsASharingConflict()
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        foreach (var name in new[] { "a", "b" })
        {
            var svc = LoadBalancer(name, 80);
            svc.Metadata.Annotations[ExtipApi.SharingKeyAnnotation] = "k";
            svc.Metadata.Annotations[ExtipApi.AddressesAnnotation] = "192.0.2.5";
            var created = await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);

            // b is younger: in the same second the lower UID would win.
            await env.YoungerThanAsync(created.Metadata.CreationTimestamp, ns);
        }

        var conflict = await WarningAsync(env, ns, "b", nameof(RefusalReason.SharingConflict));
        Assert.Contains("port 80/TCP", conflict.Message, StringComparison.Ordinal);
        Assert.Equal(["192.0.2.5"], await env.IngressAsync(ns, "a"));
    }

    [Fact]
    public async Task PoolStatus_ShowsCapacityUse_AndOverlapAndInvalidConditions_WhileValidPoolsWork()
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("good", ["192.0.2.0/30", "2001:db8::/126"]);
        await Task.Delay(1100);
        await env.PoolAsync("younger", ["192.0.2.2-192.0.2.10"]);
        await env.PoolAsync("broken", ["192.0.2.50-192.0.2.40"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("s"), ns);
        await EventuallyAsync(() => env.IngressAsync(ns, "s"), i => i.Count == 1);
        var good = await EventuallyAsync(() => env.PoolStatusAsync("good"), p => p.Status?.InUseIPv4 == 1, what: "good pool status");
        Assert.Equal(("4", "4"), (good.Status!.CapacityIPv4, good.Status.CapacityIPv6));
        Assert.Equal("True", good.Status.Conditions.Single(c => c.Type == "Ready").Status);
        var younger = await EventuallyAsync(() => env.PoolStatusAsync("younger"), p => p.Status?.Conditions.Any(c => c.Type == "Overlap" && c.Status == "True") == true, what: "overlap condition");
        Assert.Contains("\"good\"", younger.Status!.Conditions.Single(c => c.Type == "Overlap").Message, StringComparison.Ordinal);
        Assert.Equal("False", younger.Status.Conditions.Single(c => c.Type == "Ready").Status);
        var broken = await EventuallyAsync(() => env.PoolStatusAsync("broken"), p => p.Status?.Conditions.Any(c => c.Type == "Invalid" && c.Status == "True") == true, what: "invalid condition");
        Assert.Contains("spec.addresses[0]: \"192.0.2.50-192.0.2.40\"", broken.Status!.Conditions.Single(c => c.Type == "Invalid").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(24, 64)]
    [InlineData(32, 128)]
    public async Task ControllerMasks_GoOnAddressesOfPoolsWithoutAPrefixLength(int mask, int maskV6)
    {
        // Issue 12: --mask and --mask-v6 (the seed's extip_mask) were read and never used.
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync("k8s1", "k8s2");
        await env.StartControllerAsync(env.Options() with { Mask = mask, MaskV6 = maskV6 });
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("plain", ["192.0.2.0/28", "2001:db8::/124"]);
        await env.PoolAsync("own", ["198.51.100.0/28"], s => (s.PrefixLength, s.AutoAssign) = (28, false));
        var v6 = LoadBalancer("v6");
        v6.Spec.IpFamilies = ["IPv6"];
        var own = LoadBalancer("own");
        own.Metadata.Annotations[ExtipApi.PoolAnnotation] = "own";
        foreach (var s in new[] { LoadBalancer("v4"), v6, own })
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(s, ns);
        }

        var claims = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 3, what: "three claims");
        int Prefix(string prefix) => claims.Single(c => c.Spec.Address.StartsWith(prefix, StringComparison.Ordinal)).Spec.PrefixLength;
        Assert.Equal((mask, maskV6, 28), (Prefix("192.0.2."), Prefix("2001:db8::"), Prefix("198.51.100.")));
    }

    [Fact]
    public async Task L2Addresses_LiveOnOneNode_EvenWhenThePoolSaysAll()
    {
        var (env, ns) = await StartAsync(null, "k8s1", "k8s2", "k8s3");
        await using var _ = env;
        await env.PoolAsync("segment", ["192.0.2.0/28"], s => s.Announce = new AnnounceModel { Mode = "L2", Interface = "eth0", Distribution = "All" });
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count > 0, what: "claim"))[0];
        Assert.Equal(("L2", "eth0"), (claim.Spec.Mode, claim.Spec.Interface));
        Assert.Single(claim.Spec.Nodes);
    }

    [Fact]
    public async Task PoolExhausted_IsAConditionAndAWarning()
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("tiny", ["192.0.2.7"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("first"), ns);
        Assert.Equal(["192.0.2.7"], await EventuallyAsync(() => env.IngressAsync(ns, "first"), i => i.Count == 1, what: "first holds the only address"));
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("second"), ns);
        await WarningAsync(env, ns, "second", nameof(RefusalReason.PoolExhausted));
        var pool = await EventuallyAsync(() => env.PoolStatusAsync("tiny"), p => p.Status?.Conditions.Any(c => c.Type == "Exhausted" && c.Status == "True") == true, what: "exhausted");
        Assert.Equal(1, pool.Status!.InUseIPv4);
    }

    [Fact]
    public async Task LocalTrafficPolicy_PutsTheAddressOnlyOnNodesWithReadyEndpoints()
    {
        var (env, ns) = await StartAsync(null, "k8s1", "k8s2", "k8s3");
        await using var _ = env;
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        var svc = LoadBalancer("local");
        svc.Spec.ExternalTrafficPolicy = "Local";
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
        await env.Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "local-1", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "local" } },
            AddressType = "IPv4",
            Endpoints =
            [
                new V1Endpoint { Addresses = ["10.1.3.2"], NodeName = "k8s2", Conditions = new V1EndpointConditions { Ready = true } },
                new V1Endpoint { Addresses = ["10.1.3.3"], NodeName = "k8s3", Conditions = new V1EndpointConditions { Ready = false } },
            ],
        }, ns);
        var claims = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s2"]), what: "claim on k8s2 only");
        Assert.Equal("192.0.2.0", claims[0].Spec.Address);
    }

    [Fact]
    public async Task ExcludedNodes_AndPoolNodeSelectors_LimitWhereAddressesLive()
    {
        var (env, ns) = await StartAsync(null, "k8s1", "k8s2", "k8s3");
        await using var _ = env;
        await env.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "k8s1", Labels = new Dictionary<string, string> { ["node.kubernetes.io/exclude-from-external-load-balancers"] = "" } } });
        await env.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "k8s2", Labels = new Dictionary<string, string> { ["rack"] = "a" } } });
        await env.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "k8s3", Labels = new Dictionary<string, string> { ["rack"] = "b" } } });
        await env.PoolAsync("rack-a", ["192.0.2.0/28"], s => s.Announce = new AnnounceModel { NodeSelector = new LabelSelectorModel { MatchLabels = new Dictionary<string, string> { ["rack"] = "a" } } });
        await env.PoolAsync("any", ["198.51.100.0/28"], s => s.ServiceAllocation = new ServiceAllocationModel { Namespaces = ["other"] });
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("a"), ns);
        var other = await env.NamespaceAsync("other");
        var pinned = LoadBalancer("b");
        pinned.Metadata.Annotations[ExtipApi.PoolAnnotation] = "any";
        await env.Client.CoreV1.CreateNamespacedServiceAsync(pinned, other);
        var claims = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 2 && c.All(x => x.Spec.Nodes.Count > 0), what: "two claims");
        Assert.Equal(["k8s2"], claims.Single(c => c.Spec.Pool == "rack-a").Spec.Nodes);
        Assert.Equal(["k8s2", "k8s3"], claims.Single(c => c.Spec.Pool == "any").Spec.Nodes);
    }

    [Fact]
    public async Task OutOfServiceTaint_MovesTheClaimAtOnce_NotReadyAfterItsGrace_TheLeasesStillRenewing()
    {
        await using var env = await EmbeddedAsync();
        await env.Agents.StartAsync("k8s1", "k8s2");
        await env.StartControllerAsync(env.Options() with { NotReadyGrace = TimeSpan.FromSeconds(1) });
        var ns = await env.NamespaceAsync("apps");
        foreach (var n in new[] { "k8s1", "k8s2" })
        {
            await env.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = n } });
        }

        await env.PoolAsync("one", ["192.0.2.0/28"], s => s.Announce = new AnnounceModel { Distribution = "Balance" });
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var first = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 1, what: "claim on one node"))[0].Spec.Nodes[0];
        var other = first == "k8s1" ? "k8s2" : "k8s1";

        // The operator says the node is shut down: its claim moves though its agent's Lease renews.
        var node = await env.Client.CoreV1.ReadNodeAsync(first);
        node.Spec ??= new V1NodeSpec();
        node.Spec.Taints = [new V1Taint { Key = "node.kubernetes.io/out-of-service", Value = "nodeshutdown", Effect = "NoExecute" }];
        await env.Client.CoreV1.ReplaceNodeAsync(node, first);
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual([other]), what: $"claim moved to {other}");
        var events = await EventuallyAsync(() => env.Client.CoreV1.ListEventForAllNamespacesAsync(fieldSelector: $"involvedObject.name={first}"),
            l => l.Items.Any(e => e.Reason == "NodeOutOfService"), what: "NodeOutOfService event");
        Assert.Contains(events.Items, e => e.Reason == "NodeOutOfService" && e.Message.Contains("out-of-service", StringComparison.Ordinal));

        // The other node goes NotReady: after the grace it holds nothing either.
        var status = await env.Client.CoreV1.ReadNodeStatusAsync(other);
        status.Status ??= new V1NodeStatus();
        status.Status.Conditions = [new V1NodeCondition { Type = "Ready", Status = "Unknown", Reason = "NodeStatusUnknown" }];
        await env.Client.CoreV1.ReplaceNodeStatusAsync(status, other);
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 0, what: "no node left to hold the claim");
    }

    [Fact]
    public async Task Explain_ReadsTheClusterThroughTheApi_AndFollowsTheFix()
    {
        var (env, ns) = await StartAsync(null, "k8s1");
        await using var _ = env;
        await env.PoolAsync("billing-only", ["198.51.100.0/28"], s => s.ServiceAllocation = new ServiceAllocationModel { Namespaces = ["billing"] });
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var broken = await Explain.ExplainLoader.LoadAsync(env.Client, ns, "web", env.Options(), CancellationToken.None);
        Assert.False(broken.Ok);
        Assert.Contains($"billing-only serves namespaces billing, not {ns}", broken.Cause, StringComparison.Ordinal);

        // The fix: a pool for everyone. The explanation follows the controller's work.
        await env.PoolAsync("default", ["203.0.113.0/28"]);
        var fixedUp = await EventuallyAsync(() => Explain.ExplainLoader.LoadAsync(env.Client, ns, "web", env.Options(), CancellationToken.None),
            e => e.Addresses.Count == 1 && e.Addresses[0].Claim is not null && e.Addresses[0].Nodes.Any(n => n.Holds) && e.Pools.Any(p => p.Chosen),
            what: "an address with a claim, from the chosen pool (the assigned-pool annotation lands after the address)");
        Assert.Equal("default", fixedUp.Pools.Single(p => p.Chosen).Pool);
        Assert.Equal(["k8s1"], fixedUp.Addresses[0].Nodes.Where(n => n.Holds).Select(n => n.Node));

        // The fake agents report no IPNode: that is what is left to look at.
        Assert.Contains("k8s1", fixedUp.Cause, StringComparison.Ordinal);
        Assert.Contains("no IPNode", fixedUp.Cause, StringComparison.Ordinal);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Explain.ExplainLoader.LoadAsync(env.Client, ns, "nope", env.Options(), CancellationToken.None));
    }

    [Fact]
    public async Task DeletedAndRecreated_GetsItsAddressBack_AndTheClaimFollows()
    {
        var (env, ns) = await StartAsync();
        await using var _ = env;
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("first"), ns);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("sticky"), ns);
        var address = (await EventuallyAsync(() => env.IngressAsync(ns, "sticky"), i => i.Count == 1))[0];
        await env.DeleteServiceAsync(ns, "sticky");
        await EventuallyAsync(env.ClaimsAsync, c => c.All(x => x.Spec.Address != address), what: "claim released");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("newcomer"), ns);
        var newcomer = await EventuallyAsync(() => env.IngressAsync(ns, "newcomer"), i => i.Count == 1);
        Assert.NotEqual(address, newcomer[0]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("sticky"), ns);
        Assert.Equal([address], await EventuallyAsync(() => env.IngressAsync(ns, "sticky"), i => i.Count == 1));
    }

    [Fact]
    public async Task AgentReleasingItsLease_MovesItsClaimsAtOnce()
    {
        // Leases of ten minutes: a claim that moves within the wait below moved because the Lease
        // was released, not because it ran out (no clock read, so a busy machine changes nothing).
        var env = await EmbeddedAsync();
        await using var _ = env;
        env.Agents.LeaseSeconds = 600;
        await env.Agents.StartAsync("k8s1", "k8s2");
        await env.StartControllerAsync(env.Options());
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("s"), ns);
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 2, what: "on both");
        env.Agents.Kill("k8s1");
        var lease = await env.Client.CoordinationV1.ReadNamespacedLeaseAsync(ExtipApi.AgentLeasePrefix + "k8s1", env.Namespace);
        lease.Spec.HolderIdentity = null;
        await env.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, lease.Metadata.Name, env.Namespace);
        await EventuallyAsync(env.ClaimsAsync, c => c[0].Spec.Nodes.SequenceEqual(["k8s2"]), TimeSpan.FromSeconds(120), "moved while the released Lease had minutes to run");
    }

    [Fact]
    public async Task MetricsAndHealth_AreServed()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        var controller = await env.StartControllerAsync(env.Options() with { Metrics = "127.0.0.1:0" });
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("m");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("s"), ns);
        await EventuallyAsync(() => env.IngressAsync(ns, "s"), i => i.Count == 1);
        using var http = new HttpClient { BaseAddress = controller.MetricsUrl };
        Assert.Equal("ok", await http.GetStringAsync("/healthz"));
        await EventuallyAsync(() => http.GetStringAsync("/readyz"), s => s == "ok");
        var metrics = await EventuallyAsync(() => http.GetStringAsync("/metrics"),
            m => m.Contains("extip_pool_in_use{pool=\"default\",family=\"IPv4\"} 1", StringComparison.Ordinal)
                && m.Contains("extip_allocations_total{pool=\"default\"} 1", StringComparison.Ordinal), what: "pool and allocation metrics");
        Assert.Contains("extip_leader 1", metrics, StringComparison.Ordinal);
    }
}
