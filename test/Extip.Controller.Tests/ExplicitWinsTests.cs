using Extip.Core.Allocation;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>Issue 11, against the embedded API server over HTTP: explicit requests win, and refusals do not leak.</summary>
public sealed class ExplicitWinsTests
{
    /// <summary>
    /// The report: a Service with spec.externalIPs [203.0.113.1] and a plain LoadBalancer
    /// Service applied together from a pool that auto-assigns and allows external IPs; in 4 of 5
    /// tries the LoadBalancer one took 203.0.113.1. Now the explicit one has it in either order.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ExternalIPs_AndLoadBalancer_AppliedTogether_TheExplicitRequestWins(bool explicitFirst)
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options());
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("both", ["203.0.113.1-203.0.113.10"], s => s.AllowExternalIPs = true);
        var ext = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "ext" },
            Spec = new V1ServiceSpec { Type = "ClusterIP", Selector = new Dictionary<string, string> { ["app"] = "ext" }, Ports = [new V1ServicePort { Port = 80 }], ExternalIPs = ["203.0.113.1"] },
        };
        var lb = LoadBalancer("lb");
        foreach (var svc in explicitFirst ? new[] { ext, lb } : [lb, ext])
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
        }

        // Created in the same second (or the explicit one first): the explicit request wins.
        var claims = await EventuallyAsync(env.ClaimsAsync, c => c.Any(x => x.Spec.Address == "203.0.113.1" && x.Spec.Owners.SequenceEqual([$"{ns}/ext"])), what: "203.0.113.1 claimed for the explicit Service");
        var ingress = await EventuallyAsync(() => env.IngressAsync(ns, "lb"), i => i.Count == 1 && i[0] != "203.0.113.1", what: "lb on another address");
        Assert.StartsWith("203.0.113.", ingress[0], StringComparison.Ordinal);
        Assert.DoesNotContain(claims, c => c.Spec.Address == "203.0.113.1" && c.Spec.Owners.Contains($"{ns}/lb"));
    }

    /// <summary>A refusal names the field and the rule, never another namespace's Service (issue 11).</summary>
    [Fact]
    public async Task RefusedExternalIP_OfAnotherNamespacesAddress_DoesNotNameThatService()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options() with { ExternalIPs = ExternalIpPolicy.Any });
        var a = await env.NamespaceAsync("h2-a");
        var b = await env.NamespaceAsync("h2-b");
        await env.PoolAsync("pool", ["198.51.100.1-198.51.100.5"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("svc-0000"), a);
        var held = (await EventuallyAsync(() => env.IngressAsync(a, "svc-0000"), i => i.Count == 1, what: "address of h2-a/svc-0000"))[0];

        // The thief is younger (a later creation second, as seen by the API server's clock):
        // created in the same second, an explicit request would win (applied together).
        await env.YoungerThanAsync((await env.Client.CoreV1.ReadNamespacedServiceAsync("svc-0000", a)).Metadata.CreationTimestamp, b);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "thief" },
            Spec = new V1ServiceSpec { Type = "ClusterIP", Selector = new Dictionary<string, string> { ["app"] = "t" }, Ports = [new V1ServicePort { Port = 80 }], ExternalIPs = [held] },
        }, b);
        var events = await EventuallyAsync(() => env.EventsAsync(b, "thief"), e => e.Any(x => x.Reason == nameof(RefusalReason.AddressInUse)), what: "refusal event");
        var message = events.First(x => x.Reason == nameof(RefusalReason.AddressInUse)).Message;
        Assert.Equal($"spec.externalIPs: {held} is in use by a Service in another namespace", message);
        Assert.DoesNotContain("h2-a", message, StringComparison.Ordinal);
        Assert.DoesNotContain("svc-0000", message, StringComparison.Ordinal);
        Assert.Equal([held], await env.IngressAsync(a, "svc-0000"));

        // kube-proxy would program spec.externalIPs whatever extip says: the hijacking address is removed, and the Service says so.
        var thief = await EventuallyAsync(() => env.Client.CoreV1.ReadNamespacedServiceAsync("thief", b), s => s.Spec.ExternalIPs is null or { Count: 0 }, what: "external IP removed");
        Assert.Equal(held, thief.Metadata.Annotations[ExtipApi.RemovedExternalIpsAnnotation]);
        var removed = await EventuallyAsync(() => env.EventsAsync(b, "thief"), e => e.Any(x => x.Reason == "ExternalIPRemoved"), what: "ExternalIPRemoved event");
        Assert.Equal($"spec.externalIPs: removed {held}: another Service holds it, and kube-proxy would send its traffic here (CVE-2020-8554); recorded in annotation extip.io/removed-external-ips",
            removed.First(x => x.Reason == "ExternalIPRemoved").Message);
    }
}

/// <summary>Issue 11: every object says how it is doing.</summary>
public sealed class StatusTests
{
    [Fact]
    public async Task IpClaimEditedByHand_IsPutBack_WithAnEventNamingWhatWasUndone()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options());
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("p", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), ns);
        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s1"]), what: "claim on k8s1"))[0];
        var name = claim.Metadata.Name;
        await env.Client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch("""{"spec":{"nodes":["k8s9"],"interface":"eth9"}}""", V1Patch.PatchType.MergePatch),
            ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, name);
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s1"]) && c[0].Spec.Interface == "lo", what: "claim put back");
        var events = await EventuallyAsync(() => env.EventsAsync(env.Namespace, name), e => e.Any(x => x.Reason == "ClaimRestored"), what: "ClaimRestored event");
        var e = events.First(x => x.Reason == "ClaimRestored");
        Assert.Equal("Warning", e.Type);
        Assert.Equal($"IPClaim {name}: put back spec.interface eth9 → lo, spec.nodes [k8s9] → [k8s1] (changed outside the controller; the controller alone writes IPClaims)", e.Message);
    }

    [Fact]
    public async Task PoolStatus_CountsAddressesKeptForADeletedService_ApartFromThoseInUse()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options() with { StickyGrace = TimeSpan.FromHours(1) });
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("p", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("keep"), ns);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("gone"), ns);
        await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status?.InUseIPv4 == 2, what: "two in use");
        await env.DeleteServiceAsync(ns, "gone");
        var pool = await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status?.InUseIPv4 == 1, what: "one in use after the deletion");
        Assert.Equal((1L, 1L), (pool.Status!.InUseIPv4, pool.Status.ReservedIPv4));
    }

    [Fact]
    public async Task PoolStatus_ReservedCount_DropsWhenTheGracePeriodEnds_WithNoOtherChange()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        await env.Agents.StartAsync(["k8s1"]);
        await env.StartControllerAsync(env.Options() with { StickyGrace = TimeSpan.FromSeconds(1) });
        var ns = await env.NamespaceAsync("apps");
        await env.PoolAsync("p", ["192.0.2.0/28"]);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("gone"), ns);
        await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status?.InUseIPv4 == 1, what: "one in use");
        await env.DeleteServiceAsync(ns, "gone");
        await EventuallyAsync(() => env.PoolStatusAsync("p"), p => p.Status is { InUseIPv4: 0, ReservedIPv4: 0 }, what: "nothing in use or kept once the grace period is over");
    }
}

/// <summary>Issue 11: BGPPeers have a status, written by the controller, with or without agents running.</summary>
public sealed class PeerStatusTests
{
    private static async Task<BgpPeer> PeerAsync(Extip.Testing.Cluster.TestEnv env, string name) =>
        KubernetesJson.Deserialize<BgpPeer>(((System.Text.Json.JsonElement)await env.Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural, name)).GetRawText());

    [Fact]
    public async Task BgpPeer_Status_SaysValidOrWhy_TheNodesItSelects_AndTheSessionsUp()
    {
        var env = await EmbeddedAsync();
        await using var _ = env;
        foreach (var (node, rack) in new[] { ("k8s1", "r1"), ("k8s2", "r2") })
        {
            await env.Client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = node, Labels = new Dictionary<string, string> { ["rack"] = rack } } });
            await env.IpNodeAsync(node, new IpNodeStatusModel { Peers = node == "k8s1" ? [new PeerStatus { Name = "tor", Address = "198.51.100.1", State = PeerStatus.Established }] : [] });
        }

        await env.StartControllerAsync(env.Options());
        foreach (var (name, hold) in new[] { ("tor", "90s"), ("bad-hold", "2s") })
        {
            await env.Client.CustomObjects.CreateClusterCustomObjectAsync(new BgpPeer
            {
                Metadata = new V1ObjectMeta { Name = name },
                ApiVersion = $"{ExtipApi.Group}/{ExtipApi.Version}",
                Spec = new BgpPeerSpecModel
                {
                    PeerAddress = "198.51.100.1", PeerAsn = 64500, LocalAsn = 64512, HoldTime = hold,
                    NodeSelector = new LabelSelectorModel { MatchExpressions = [new SelectorRequirementModel { Key = "rack", Operator = "In", Values = ["r1"] }] },
                },
            }, ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural);
        }

        var tor = await EventuallyAsync(() => PeerAsync(env, "tor"), p => p.Status?.SessionsUp == 1, what: "tor status");
        Assert.Equal(["k8s1"], tor.Status!.Nodes);
        Assert.Equal(("True", "True", "1 of 1 sessions up"), (tor.Status.Conditions.Single(c => c.Type == "Accepted").Status, tor.Status.Conditions.Single(c => c.Type == "Ready").Status, tor.Status.Conditions.Single(c => c.Type == "Ready").Message));

        var bad = await EventuallyAsync(() => PeerAsync(env, "bad-hold"), p => p.Status?.Conditions.Count > 0, what: "bad-hold status");
        var accepted = bad.Status!.Conditions.Single(c => c.Type == "Accepted");
        Assert.Equal(("False", "Invalid", "spec.holdTime 2 s: must be 0 or 3 to 65535 whole seconds (RFC 4271 §4.2)"), (accepted.Status, accepted.Reason, accepted.Message));

        // The agent of k8s1 reports the session down, with why: the status says so.
        await env.IpNodeAsync("k8s1", new IpNodeStatusModel { Peers = [new PeerStatus { Name = "tor", Address = "198.51.100.1", State = "Active", Message = "connection refused" }] });
        tor = await EventuallyAsync(() => PeerAsync(env, "tor"), p => p.Status?.SessionsUp == 0, what: "tor down");
        Assert.Equal("0 of 1 sessions up; node k8s1: connection refused", tor.Status!.Conditions.Single(c => c.Type == "Ready").Message);
    }
}
