using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using Extip.Testing.Fixtures;
using k8s;
using k8s.Models;
using Extip.Testing.Cluster;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>
/// The controller's main scenarios, run against the embedded server and against a real
/// kube-apiserver v1.20: the controller talks to both only through KubernetesClient.
/// </summary>
public abstract class ControllerScenarios
{
    protected abstract Task<TestEnv> NewEnvAsync();

    /// <summary>Whether the server keeps status.loadBalancer.ingress[].ipMode (kube-apiserver v1.29 on).</summary>
    protected abstract bool IpModeServed { get; }

    [Fact]
    public async Task PoolAndLoadBalancerService_GetAddressAndClaim_OnEveryLiveAgent()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s6", "k8s9");
        await env.StartControllerAsync();
        await env.PoolAsync("default", ["203.0.113.0/28"]);
        var ns = await env.NamespaceAsync("shop");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("frontend", 443), ns);
        var ingress = await EventuallyAsync(() => env.IngressAsync(ns, "frontend"), i => i.Count == 1, what: "ingress");
        Assert.Equal("203.0.113.0", ingress[0]);
        var claim = (await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 2, what: "claim on both agents"))[0];
        Assert.Equal("203-0-113-0", claim.Metadata.Name);
        Assert.Equal(("203.0.113.0", 32, "lo", "Local"), (claim.Spec.Address, claim.Spec.PrefixLength, claim.Spec.Interface, claim.Spec.Mode));
        Assert.Equal(["k8s6", "k8s9"], claim.Spec.Nodes);
        Assert.Equal(["shop/frontend"], claim.Spec.Owners);
        // The status (ingress) and the annotation are two writes: the annotation lands second.
        var svc = await EventuallyAsync(
            () => env.Client.CoreV1.ReadNamespacedServiceAsync("frontend", ns),
            s => s.Metadata.Annotations?.ContainsKey(ExtipApi.AssignedPoolAnnotation) == true,
            what: "assigned-pool annotation");
        Assert.Equal("default", svc.Metadata.Annotations[ExtipApi.AssignedPoolAnnotation]);

        // ipMode VIP where the API has the field (v1.29 on; the embedded server), none on kube-apiserver v1.20.
        Assert.Equal(IpModeServed ? "VIP" : null, Assert.Single(svc.Status.LoadBalancer.Ingress).IpMode);
        var events = await EventuallyAsync(() => env.EventsAsync(ns, "frontend"), e => e.Any(x => x.Reason == "AddressAssigned"), what: "event");
        Assert.Contains(events, e => e.Message == "Assigned 203.0.113.0 (pool default)");

        await env.DeleteServiceAsync(ns, "frontend");
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 0, what: "claim deleted with the Service");
    }

    [Fact]
    public async Task ExternalIPs_InsideAllowingPool_AreClaimed_OthersRefusedWithAnEvent()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s1");
        await env.StartControllerAsync();
        await env.PoolAsync("ext", ["198.51.100.0/29"], s => { s.AllowExternalIPs = true; s.AutoAssign = false; });
        var ns = await env.NamespaceAsync("seed");
        var ok = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "frontend" },
            Spec = new V1ServiceSpec { Type = "NodePort", Selector = new Dictionary<string, string> { ["app"] = "frontend" }, Ports = [new V1ServicePort { Port = 443, Protocol = "TCP" }], ExternalIPs = ["198.51.100.1"] },
        };
        await env.Client.CoreV1.CreateNamespacedServiceAsync(ok, ns);
        var hijack = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "hijack" },
            Spec = new V1ServiceSpec { Type = "ClusterIP", Selector = new Dictionary<string, string> { ["app"] = "x" }, Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }], ExternalIPs = ["203.0.113.77"] },
        };
        await env.Client.CoreV1.CreateNamespacedServiceAsync(hijack, ns);
        var claims = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 1, what: "external IP claim");
        Assert.Equal("198.51.100.1", claims[0].Spec.Address);
        var events = await EventuallyAsync(() => env.EventsAsync(ns, "hijack"), e => e.Any(x => x.Reason == nameof(RefusalReason.ExternalIPNotAllowed)), what: "refusal event");
        var refusal = events.First(x => x.Reason == nameof(RefusalReason.ExternalIPNotAllowed));
        Assert.Equal("Warning", refusal.Type);
        Assert.Contains("203.0.113.77", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sharing_TwoServicesWithOneKey_ShareAnAddressAndOneClaim()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s1");
        await env.StartControllerAsync();
        await env.PoolAsync("default", ["203.0.113.0/29"]);
        var ns = await env.NamespaceAsync("dns");
        foreach (var (name, port) in new[] { ("tcp", 53), ("web", 80) })
        {
            var svc = LoadBalancer(name, port);
            svc.Metadata.Annotations[ExtipApi.SharingKeyAnnotation] = "shared";
            await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
        }

        var a = await EventuallyAsync(() => env.IngressAsync(ns, "tcp"), i => i.Count == 1, what: "tcp ingress");
        var b = await EventuallyAsync(() => env.IngressAsync(ns, "web"), i => i.Count == 1, what: "web ingress");
        Assert.Equal(a, b);
        var claims = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Owners.Count == 2, what: "one shared claim");
        Assert.Equal(["dns/tcp", "dns/web"], claims[0].Spec.Owners);
    }

    [Fact]
    public async Task Failover_AgentLeaseExpires_ItsClaimsMove_OthersStay()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s1", "k8s2", "k8s3");
        await env.StartControllerAsync(env.Options() with { Distribution = Distribution.Balance });
        await env.PoolAsync("default", ["203.0.113.0/27"]);
        var ns = await env.NamespaceAsync("apps");
        for (var i = 0; i < 9; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer($"s{i}"), ns);
        }

        var before = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 9 && c.All(x => x.Spec.Nodes.Count == 1), what: "9 balanced claims");
        Assert.All(new[] { "k8s1", "k8s2", "k8s3" }, n => Assert.Equal(3, before.Count(c => c.Spec.Nodes[0] == n)));
        // How soon after the Lease runs out is bench failover's figure, not a bound here.
        env.Agents.Kill("k8s2");
        var after = await EventuallyAsync(env.ClaimsAsync, c => c.Count == 9 && c.All(x => x.Spec.Nodes.Count == 1 && x.Spec.Nodes[0] != "k8s2"),
            TimeSpan.FromSeconds(60), "claims off the dead node");
        foreach (var c in before.Where(c => c.Spec.Nodes[0] != "k8s2"))
        {
            Assert.Equal(c.Spec.Nodes, after.Single(x => x.Metadata.Name == c.Metadata.Name).Spec.Nodes);
        }
    }

    [Fact]
    public async Task MostAgentsLeasesRunOutTogether_ADisruption_EventAndMetric_ClaimsWaitForTheGrace()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s1", "k8s2", "k8s3", "k8s4");
        var controller = await env.StartControllerAsync(env.Options() with
        {
            Distribution = Distribution.Balance,
            Disruption = new DisruptionRule { Grace = TimeSpan.FromSeconds(10) },
        });
        await env.PoolAsync("default", ["203.0.113.0/27"]);
        var ns = await env.NamespaceAsync("apps");
        for (var i = 0; i < 8; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer($"s{i}"), ns);
        }

        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 8 && c.All(x => x.Spec.Nodes.Count == 1) && c.Select(x => x.Spec.Nodes[0]).Distinct().Count() == 4, what: "8 claims over 4 nodes");

        // Three of four agents fall silent together: the control plane, most likely.
        foreach (var n in new[] { "k8s1", "k8s2", "k8s3" })
        {
            env.Agents.Kill(n);
        }

        var events = await EventuallyAsync(() => env.EventsAsync(env.Namespace, "extip-controller"), e => e.Any(x => x.Reason == "ControlPlaneDisruption"),
            TimeSpan.FromSeconds(30), "a ControlPlaneDisruption Event");
        var e = events.Single(x => x.Reason == "ControlPlaneDisruption");
        Assert.Equal("Warning", e.Type);
        Assert.StartsWith("3 of 4 agents' Leases ran out within 5 s: a control-plane disruption", e.Message, StringComparison.Ordinal);
        Assert.Contains("extip_control_plane_disruptions_total 1", await controller.Metrics.RenderAsync(), StringComparison.Ordinal);
        // The agents that ran out after the first keep their claims through the grace. The first
        // one's may have moved already: on a busy machine the three last renewals can lie far
        // enough apart that k8s4's unbroken renewals confirmed it dead (the streak rule) before
        // the others ran out, which is the design's rule, not a disruption.
        var held = (await env.ClaimsAsync()).Count(c => c.Spec.Nodes[0] != "k8s4");
        Assert.True(held is 4 or 6, $"{held} claims off k8s4 at the disruption; expected those of the two or three agents it covers");

        // The grace is over and they have not renewed: dead after all (a rack that lost power).
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 8 && c.All(x => x.Spec.Nodes.SequenceEqual(["k8s4"])), TimeSpan.FromSeconds(60), "claims on k8s4 after the grace");
    }

    [Fact]
    public async Task AgentLeaseRunsOut_IpNodeLabelledGone_RenewedAgain_Live_StatusLeftToTheAgent()
    {
        await using var env = await NewEnvAsync();
        var status = new IpNodeStatusModel
        {
            Addresses = [new Extip.Kubernetes.Models.NodeAddressStatus { Address = "203.0.113.5", PrefixLength = 32, Interface = "lo", Mode = "BGP", State = "Held", Since = DateTime.UtcNow }],
            Conditions = [new Condition { Type = "Ready", Status = "True", Reason = "AllHeld", Message = "1 addresses held", LastTransitionTime = DateTime.UtcNow }],
            LastUpdate = DateTime.UtcNow,
        };
        await env.Agents.StartAsync("k8s1", "k8s2");

        // k8s1's IPNode is there when the controller starts leading, k8s2's comes after.
        await env.IpNodeAsync("k8s1", status);
        await env.StartControllerAsync();
        await EventuallyAsync(() => env.IpNodeAsync("k8s1"), n => Agent(n) == ExtipApi.AgentLive, what: "k8s1 labelled Live at the session's start");
        await env.IpNodeAsync("k8s2", status);
        await EventuallyAsync(() => env.IpNodeAsync("k8s2"), n => Agent(n) == ExtipApi.AgentLive, what: "k8s2 labelled Live when its IPNode appears");

        // The agent dies without a word: its Lease stops being renewed and runs out.
        env.Agents.Kill("k8s1");
        var gone = await EventuallyAsync(() => env.IpNodeAsync("k8s1"), n => Agent(n) == ExtipApi.AgentGone, what: "k8s1 labelled Gone once its Lease ran out");
        Assert.Equal(ExtipApi.AgentLive, Agent(await env.IpNodeAsync("k8s2")));

        // The status stays what the agent last wrote: the label is the controller's, the status the agent's.
        Assert.Equal("True", gone.Status!.Conditions.Single(c => c.Type == "Ready").Status);
        Assert.Equal(["203.0.113.5"], gone.Status.Addresses.Select(a => a.Address));

        // Its label removed by hand, it is put back; the agent back, it is Live again.
        await env.Client.CustomObjects.PatchClusterCustomObjectAsync(
            new V1Patch("{\"metadata\":{\"labels\":{\"" + ExtipApi.AgentLabel + "\":null}}}", V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpNode.Plural, "k8s1");
        await EventuallyAsync(() => env.IpNodeAsync("k8s1"), n => Agent(n) == ExtipApi.AgentGone, what: "k8s1's removed label put back");
        await env.Agents.StartAsync("k8s1");
        await EventuallyAsync(() => env.IpNodeAsync("k8s1"), n => Agent(n) == ExtipApi.AgentLive, what: "k8s1 labelled Live once its Lease is renewed");

        static string? Agent(IpNode n) => n.Metadata.Labels?.TryGetValue(ExtipApi.AgentLabel, out var v) == true ? v : null;
    }

    [Fact]
    public async Task LeaderHandOver_KilledLeader_StandbyTakesOver_WithoutChangingAddresses()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s1");
        var first = await env.StartControllerAsync(env.Options("first"));
        await EventuallyAsync(() => Task.FromResult(first.IsLeader), l => l, what: "first leads");
        var second = await env.StartControllerAsync(env.Options("second"));
        await env.PoolAsync("default", ["203.0.113.0/28"]);
        var ns = await env.NamespaceAsync("ho");
        for (var i = 0; i < 5; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer($"s{i}"), ns);
        }

        var before = new Dictionary<string, string>();
        for (var i = 0; i < 5; i++)
        {
            before[$"s{i}"] = (await EventuallyAsync(() => env.IngressAsync(ns, $"s{i}"), x => x.Count == 1, what: $"s{i}"))[0];
        }

        Assert.False(second.IsLeader);
        await env.KillAsync(first);
        await EventuallyAsync(() => Task.FromResult(second.IsLeader), l => l, TimeSpan.FromSeconds(60), "second leads");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("late"), ns);
        var late = await EventuallyAsync(() => env.IngressAsync(ns, "late"), x => x.Count == 1, what: "new Service after hand-over");
        Assert.DoesNotContain(late[0], before.Values);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(before[$"s{i}"], (await env.IngressAsync(ns, $"s{i}"))[0]);
        }
    }
}

public sealed class EmbeddedControllerScenarios : ControllerScenarios
{
    protected override bool IpModeServed => true;

    protected override Task<TestEnv> NewEnvAsync() => TestEnv.EmbeddedAsync();
}

/// <summary>Against kube-apiserver v1.20, which lacks discovery.k8s.io/v1 and spec.loadBalancerClass.</summary>
public sealed class RealControllerScenarios(RealFixture fixture) : ControllerScenarios, IClassFixture<RealFixture>
{
    protected override bool IpModeServed => false;

    protected override Task<TestEnv> NewEnvAsync() => TestEnv.RealAsync(fixture);

    /// <summary>kube-apiserver v1.20 serves EndpointSlices only as discovery.k8s.io/v1beta1: a Local Service follows them there too.</summary>
    [Fact]
    public async Task WithoutEndpointSliceV1_LocalServiceFollowsTheV1beta1Slices()
    {
        await using var env = await NewEnvAsync();
        await env.Agents.StartAsync("k8s1", "k8s2");
        await env.StartControllerAsync();
        await env.PoolAsync("default", ["203.0.113.0/28"]);
        var ns = await env.NamespaceAsync($"local-{Guid.NewGuid().ToString("N")[..4]}");
        var svc = LoadBalancer("local");
        svc.Spec.ExternalTrafficPolicy = "Local";
        await env.Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);

        // As v1.20's EndpointSlice controller writes them: the node only in the topology.
        static System.Text.Json.Nodes.JsonNode Slice(string node, bool ready) => System.Text.Json.Nodes.JsonNode.Parse($$$"""
            {"apiVersion":"discovery.k8s.io/v1beta1","kind":"EndpointSlice",
             "metadata":{"name":"local-1","labels":{"kubernetes.io/service-name":"local"}},
             "addressType":"IPv4",
             "endpoints":[{"addresses":["10.1.3.2"],"conditions":{"ready":{{{(ready ? "true" : "false")}}}},"topology":{"kubernetes.io/hostname":"{{{node}}}"}}]}
            """)!;
        await env.Client.CustomObjects.CreateNamespacedCustomObjectAsync(Slice("k8s2", true), "discovery.k8s.io", "v1beta1", ns, "endpointslices");
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s2"]), what: "claim on k8s2, where the endpoint is");

        var current = System.Text.Json.Nodes.JsonNode.Parse(((System.Text.Json.JsonElement)await env.Client.CustomObjects.GetNamespacedCustomObjectAsync("discovery.k8s.io", "v1beta1", ns, "endpointslices", "local-1")).GetRawText())!;
        var moved = Slice("k8s1", true);
        moved["metadata"]!["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
        await env.Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(moved, "discovery.k8s.io", "v1beta1", ns, "endpointslices", "local-1");
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.SequenceEqual(["k8s1"]), what: "claim on k8s1, where the endpoint moved");

        current = System.Text.Json.Nodes.JsonNode.Parse(((System.Text.Json.JsonElement)await env.Client.CustomObjects.GetNamespacedCustomObjectAsync("discovery.k8s.io", "v1beta1", ns, "endpointslices", "local-1")).GetRawText())!;
        var unready = Slice("k8s1", false);
        unready["metadata"]!["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
        await env.Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(unready, "discovery.k8s.io", "v1beta1", ns, "endpointslices", "local-1");
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 1 && c[0].Spec.Nodes.Count == 0, what: "no node holds it: no ready endpoint");
    }
}
