using Extip.Controller.Explain;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Controller.Tests;

/// <summary><c>extip explain</c>: a table of broken setups, each explained with the right cause, from the API objects alone.</summary>
public sealed class ExplainTests
{
    private static V1Service Service(string? ingress = null, string policy = "Cluster", string type = "LoadBalancer") => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop", Annotations = new Dictionary<string, string>() },
        Spec = new V1ServiceSpec { Type = type, ExternalTrafficPolicy = policy, IpFamilies = ["IPv4"], Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }] },
        Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = ingress is null ? [] : [new V1LoadBalancerIngress { Ip = ingress }] } },
    };

    private static IpPool Pool(string name, string cidr, string[]? namespaces = null, IpPoolStatusModel? status = null, string mode = "BGP", Dictionary<string, string>? nodeSelector = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, CreationTimestamp = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc) },
        Spec = new IpPoolSpecModel
        {
            Addresses = [cidr],
            ServiceAllocation = namespaces is null ? null : new ServiceAllocationModel { Namespaces = [.. namespaces] },
            Announce = new AnnounceModel { Mode = mode, Distribution = "Balance", NodeSelector = nodeSelector is null ? null : new LabelSelectorModel { MatchLabels = nodeSelector } },
        },
        Status = status,
    };

    private static IpClaim Claim(string address, string pool, string mode, params string[] nodes) => new()
    {
        Metadata = new V1ObjectMeta { Name = address.Replace('.', '-') },
        Spec = new IpClaimSpecModel { Address = address, PrefixLength = 32, Interface = "lo", Mode = mode, Distribution = "Balance", Pool = pool, Owners = ["shop/web"], Nodes = [.. nodes] },
    };

    private static IpNode Agent(string node, string live = "Live", string? holds = null, params (string Name, string State)[] peers) => new()
    {
        Metadata = new V1ObjectMeta { Name = node, Labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = live } },
        Status = new IpNodeStatusModel
        {
            Addresses = holds is null ? [] : [new NodeAddressStatus { Address = holds, PrefixLength = 32, Interface = "lo", Mode = "BGP", State = NodeAddressStatus.HeldState }],
            Peers = [.. peers.Select(p => new PeerStatus { Name = p.Name, Address = "192.0.2.1", State = p.State })],
        },
    };

    private static V1Node Node(string name, Dictionary<string, string>? labels = null) => new() { Metadata = new V1ObjectMeta { Name = name, Labels = labels } };

    [Fact]
    public void NoPoolForTheNamespace_NamesEachPoolsRule()
    {
        var e = ServiceExplanation.Build(new() { Service = Service(), Pools = [Pool("team", "203.0.113.0/28", ["billing"])] });
        Assert.False(e.Ok);
        Assert.Contains("no pool serves Service shop/web", e.Cause, StringComparison.Ordinal);
        Assert.Contains("team serves namespaces billing, not shop", e.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void PoolExhausted_SaysSo()
    {
        var full = new IpPoolStatusModel { CapacityIPv4 = "16", InUseIPv4 = 16 };
        var e = ServiceExplanation.Build(new() { Service = Service(), Pools = [Pool("small", "203.0.113.0/28", status: full)] });
        Assert.Contains("every pool that serves Service shop/web is exhausted", e.Cause, StringComparison.Ordinal);
        Assert.Contains("16 addresses in use", e.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void NoAgentSelected_SaysWhyForEachNode()
    {
        var e = RackA(
            [Agent("k8s1", live: ExtipApi.AgentGone), Agent("k8s2")],
            [Node("k8s1", new() { ["rack"] = "a" }), Node("k8s2", new() { ["rack"] = "b" }), Node("k8s3", new() { ["rack"] = "a" })]);
        Assert.False(e.Ok);
        Assert.Contains("203.0.113.1 is on no node", e.Cause, StringComparison.Ordinal);
        Assert.Contains("k8s1: its agent is not live", e.Cause, StringComparison.Ordinal);
        Assert.Contains("k8s2: does not match pool rack-a's node selector", e.Cause, StringComparison.Ordinal);
        Assert.Contains("k8s3: no extip agent runs there", e.Cause, StringComparison.Ordinal);
        Assert.True(e.Pools.Single().Chosen);
    }

    [Fact]
    public void PeerDown_TheAddressIsHeldButAnnouncedToNoRouter()
    {
        var e = ServiceExplanation.Build(new()
        {
            Service = Service("203.0.113.1"),
            Pools = [Pool("default", "203.0.113.0/28")],
            Claims = [Claim("203.0.113.1", "default", "BGP", "k8s1")],
            IpNodes = [Agent("k8s1", holds: "203.0.113.1", peers: ("tor", "Active"))],
        });
        Assert.False(e.Ok);
        Assert.Contains("held but announced to no router", e.Cause, StringComparison.Ordinal);
        Assert.Contains("k8s1 → tor (192.0.2.1): Active", e.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void LocalPolicyWithoutEndpoints_NoNodeMayHoldIt()
    {
        var e = ServiceExplanation.Build(new()
        {
            Service = Service("203.0.113.1", policy: "Local"),
            Pools = [Pool("default", "203.0.113.0/28")],
            Claims = [Claim("203.0.113.1", "default", "BGP")],
            IpNodes = [Agent("k8s1")],
            EndpointSlices = [new V1EndpointSlice { AddressType = "IPv4", Endpoints = [new V1Endpoint { Addresses = ["10.0.0.9"], NodeName = "k8s9", Conditions = new V1EndpointConditions { Ready = true } }] }],
        });
        Assert.Contains("k8s1: no ready endpoint of the Service there (externalTrafficPolicy: Local)", e.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void AllWell_SaysWhereItLives()
    {
        var svc = Service("203.0.113.1");
        svc.Metadata.Annotations[ExtipApi.AssignedPoolAnnotation] = "default";
        var e = ServiceExplanation.Build(new()
        {
            Service = svc,
            Pools = [Pool("default", "203.0.113.0/28"), Pool("other", "198.51.100.0/28", ["billing"])],
            Claims = [Claim("203.0.113.1", "default", "BGP", "k8s1")],
            IpNodes = [Agent("k8s1", holds: "203.0.113.1", peers: ("tor", "Established")), Agent("k8s2")],
        });
        Assert.True(e.Ok, e.Cause);
        Assert.Equal("203.0.113.1 held by k8s1 and announced", e.Cause);
        var text = ExplainText.Render(e);
        Assert.Contains("* default: chosen", text, StringComparison.Ordinal);
        Assert.Contains("- other: serves namespaces billing, not shop", text, StringComparison.Ordinal);
        Assert.Contains("+ k8s2: eligible, not chosen (Balance: one node per address)", text, StringComparison.Ordinal);
        Assert.Contains("\"cause\": \"203.0.113.1 held by k8s1 and announced\"", ExplainText.ToJson(e), StringComparison.Ordinal);
    }

    [Fact]
    public void AHolderThatMayNotHoldIt_IsTheCause_ThoughItsStatusStillSaysHeld()
    {
        var e = ServiceExplanation.Build(new()
        {
            Service = Service("203.0.113.1"),
            Pools = [Pool("default", "203.0.113.0/28")],
            Claims = [Claim("203.0.113.1", "default", "BGP", "k8s1")],
            IpNodes = [Agent("k8s1", live: ExtipApi.AgentGone, holds: "203.0.113.1", peers: ("tor", "Established"))],
        });
        Assert.False(e.Ok);
        Assert.Contains("203.0.113.1: k8s1 named by the claim, but its agent is not live", e.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void WhatCouldNotBeRead_IsSaid_NotTakenForEmpty()
    {
        var e = ServiceExplanation.Build(new() { Service = Service(), Unreadable = ["IPPools (403)"] });
        Assert.StartsWith("could not read IPPools (403), so this may be wrong: no IPPool exists", e.Cause, StringComparison.Ordinal);
        Assert.Contains(e.Warnings, w => w.StartsWith("could not read IPPools (403)", StringComparison.Ordinal));
    }

    [Fact]
    public void AServiceExtipDoesNotHandle_SaysWhy()
    {
        var e = ServiceExplanation.Build(new() { Service = Service(type: "ClusterIP") });
        Assert.False(e.Handled);
        Assert.Contains("extip does not handle Service shop/web: it is of type ClusterIP", e.Cause, StringComparison.Ordinal);
    }

    /// <summary>Nodes in the order a person reads them, those with the same reason in one clause.</summary>
    [Fact]
    public void OnNoNode_NodesWithTheSameReasonTogether_InNaturalOrder()
    {
        var e = RackA(
            [Agent("k8s10"), Agent("k8s2")],
            [Node("k8s10", new() { ["rack"] = "b" }), Node("k8s2", new() { ["rack"] = "b" }), Node("k8s11", []), Node("k8s1", [])]);
        Assert.Contains("no node may hold it: k8s1, k8s11: no extip agent runs there (no IPNode); k8s2, k8s10: does not match pool rack-a's node selector", e.Cause, StringComparison.Ordinal);
        Assert.Equal(["k8s1", "k8s2", "k8s10", "k8s11"], e.Addresses.Single().Nodes.Select(n => n.Node));
    }

    /// <summary>Service shop/web with 203.0.113.1 from pool rack-a (nodes labelled rack=a, BGP), over the given agents and nodes.</summary>
    private static ServiceExplanation RackA(IpNode[] agents, V1Node[] nodes)
    {
        var svc = Service("203.0.113.1");
        svc.Metadata.Annotations[ExtipApi.AssignedPoolAnnotation] = "rack-a";
        return ServiceExplanation.Build(new()
        {
            Service = svc,
            Pools = [Pool("rack-a", "203.0.113.0/28", nodeSelector: new() { ["rack"] = "a" })],
            Claims = [Claim("203.0.113.1", "rack-a", "BGP")],
            IpNodes = agents,
            Nodes = nodes,
        });
    }
}
