using System.Text.Json;
using Extip.Kubernetes.Models;
using Extip.Kubernetes.Status;

namespace Extip.Kubernetes.Tests.Status;

public sealed class StatusReportTests
{
    private static JsonElement Json(StatusReport report) => JsonDocument.Parse(StatusJson.Serialize(report)).RootElement;

    private static JsonElement Node(JsonElement root, string name) => root.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("name").GetString() == name);

    private static JsonElement Interface(JsonElement node, string name) => node.GetProperty("interfaces").EnumerateArray().Single(i => i.GetProperty("name").GetString() == name);

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    [Fact]
    public void Build_KnownSite_JsonFieldByField()
    {
        var root = Json(StatusSite.Report());

        Assert.Equal("2026-03-01T12:00:00Z", root.GetProperty("now").GetString());
        Assert.Equal(["node-a", "node-b", "node-c"], root.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()));

        var a = Node(root, "node-a");
        var agent = a.GetProperty("agent");
        Assert.Equal("Live", agent.GetProperty("state").GetString());
        Assert.Equal("2026-03-01T11:59:59Z", agent.GetProperty("renewed").GetString());
        Assert.Equal("2026-03-01T12:00:03Z", agent.GetProperty("validUntil").GetString());
        Assert.False(a.GetProperty("ready").GetBoolean());
        Assert.Equal("InterfaceMissing", a.GetProperty("readyReason").GetString());
        Assert.Equal("2026-03-01T11:59:55Z", a.GetProperty("lastUpdate").GetString());

        // The agent's interfaces in its order, then the one an extip address waits for.
        Assert.Equal(["lo", "eth0", "eth1", "vip0"], a.GetProperty("interfaces").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        var lo = Interface(a, "lo");
        Assert.True(lo.GetProperty("up").GetBoolean());
        Assert.Equal(["127.0.0.1/8", "10.1.3.9/32", "200.1.1.1/32"], lo.GetProperty("addresses").EnumerateArray().Select(x => x.GetProperty("address").GetString()));
        Assert.False(lo.GetProperty("addresses")[0].TryGetProperty("extip", out _));
        Assert.False(lo.GetProperty("addresses")[1].TryGetProperty("extip", out _));
        var held = lo.GetProperty("addresses")[2].GetProperty("extip");
        Assert.Equal("200-1-1-1", held.GetProperty("claim").GetString());
        Assert.Equal("BGP", held.GetProperty("mode").GetString());
        Assert.Equal("Held", held.GetProperty("state").GetString());
        Assert.True(held.GetProperty("held").GetBoolean());
        Assert.Equal("seed", held.GetProperty("pool").GetString());
        Assert.Equal(["web/front"], Strings(held.GetProperty("services")));
        Assert.Equal("2026-03-01T11:50:00Z", held.GetProperty("since").GetString());
        Assert.False(held.TryGetProperty("message", out _));
        Assert.False(Interface(a, "eth1").GetProperty("up").GetBoolean());
        Assert.Equal(0, Interface(a, "eth1").GetProperty("addresses").GetArrayLength());

        var vip = Interface(a, "vip0");
        Assert.False(vip.TryGetProperty("up", out _));
        var pending = vip.GetProperty("addresses").EnumerateArray().Single();
        Assert.Equal("10.9.9.9/32", pending.GetProperty("address").GetString());
        Assert.Equal("Pending", pending.GetProperty("extip").GetProperty("state").GetString());
        Assert.False(pending.GetProperty("extip").GetProperty("held").GetBoolean());
        Assert.Equal("spare", pending.GetProperty("extip").GetProperty("pool").GetString());
        Assert.Contains("vip0 does not exist", pending.GetProperty("extip").GetProperty("message").GetString(), StringComparison.Ordinal);

        // Services: ours only (not ClusterIP, not another class), in order, addresses numerically.
        var services = root.GetProperty("services").EnumerateArray().ToList();
        Assert.Equal(["web/api", "web/db", "web/front", "web/pending"], services.Select(s => s.GetProperty("name").GetString()));
        var front = services[2];
        Assert.Equal("LoadBalancer", front.GetProperty("type").GetString());
        Assert.False(front.TryGetProperty("problem", out _));
        Assert.Equal(["10.9.9.9", "200.1.1.1"], front.GetProperty("addresses").EnumerateArray().Select(x => x.GetProperty("address").GetString()));
        var frontHolds = front.GetProperty("addresses")[1].GetProperty("nodes").EnumerateArray().Single();
        Assert.Equal("node-a", frontHolds.GetProperty("node").GetString());
        Assert.Equal("Held", frontHolds.GetProperty("state").GetString());
        Assert.Equal("Pending", front.GetProperty("addresses")[0].GetProperty("nodes")[0].GetProperty("state").GetString());
        Assert.Equal("Local", front.GetProperty("addresses")[0].GetProperty("mode").GetString());
        Assert.Equal("Gone", services[0].GetProperty("addresses")[0].GetProperty("nodes")[0].GetProperty("state").GetString());
        Assert.Equal(0, services[1].GetProperty("addresses")[0].GetProperty("nodes").GetArrayLength());
        Assert.Equal("no live, eligible node holds its address", services[1].GetProperty("problem").GetString());
        Assert.Equal(0, services[3].GetProperty("addresses").GetArrayLength());
        Assert.Equal("no address allocated", services[3].GetProperty("problem").GetString());
        Assert.Equal(["200.1.1.3"], Strings(root.GetProperty("unplaced")));

        // Peers: per node, then the BGPPeer no agent reports.
        var peers = root.GetProperty("peers").EnumerateArray().ToList();
        Assert.Equal(["node-a/tor-v4", "node-a/tor-v6", "node-b/tor-v4", "-/tor-x"], peers.Select(p => $"{(p.TryGetProperty("node", out var n) ? n.GetString() : "-")}/{p.GetProperty("name").GetString()}"));
        Assert.Equal("Established", peers[0].GetProperty("state").GetString());
        Assert.Equal("Up", peers[0].GetProperty("bfd").GetString());
        Assert.Equal(65000, peers[0].GetProperty("asn").GetInt64());
        Assert.Equal(1, peers[0].GetProperty("prefixes").GetInt32());
        Assert.False(peers[0].GetProperty("stale").GetBoolean());
        Assert.Equal("Active", peers[1].GetProperty("state").GetString());
        Assert.Equal("Down", peers[1].GetProperty("bfd").GetString());
        Assert.Equal("connection refused", peers[1].GetProperty("message").GetString());
        Assert.True(peers[2].GetProperty("stale").GetBoolean());
        Assert.Equal("NoSession", peers[3].GetProperty("state").GetString());
        Assert.Equal(65009, peers[3].GetProperty("asn").GetInt64());

        var pools = root.GetProperty("pools").EnumerateArray().ToList();
        Assert.Equal(["seed", "spare"], pools.Select(p => p.GetProperty("name").GetString()));
        Assert.Equal(["200.1.1.0/28", "2001:db8:1000::/120"], Strings(pools[0].GetProperty("addresses")));
        Assert.Equal("BGP", pools[0].GetProperty("mode").GetString());
        Assert.Equal(3, pools[0].GetProperty("inUseIPv4").GetInt64());
        Assert.Equal("16", pools[0].GetProperty("capacityIPv4").GetString());
        Assert.Equal("256", pools[0].GetProperty("capacityIPv6").GetString());
        Assert.Equal(3, pools[0].GetProperty("claims").GetInt32());
        Assert.False(pools[0].TryGetProperty("problem", out _));
        Assert.Equal("Local", pools[1].GetProperty("mode").GetString());
        Assert.Equal("no free IPv4 address (1 in use)", pools[1].GetProperty("problem").GetString());
    }

    [Fact]
    public void Build_AgentLeaseExpired_NodeGoneNotReadyAndNothingHeld()
    {
        var report = StatusSite.Report();
        var b = report.Nodes.Single(n => n.Name == "node-b");

        Assert.Equal(AgentState.Gone, b.Agent.State);
        Assert.Equal("Lease expired", b.Agent.Reason);
        Assert.False(b.Ready);
        Assert.Equal("AgentGone", b.ReadyReason);
        Assert.Equal("Lease expired; it last reported AllHeld: 1 addresses held", b.ReadyMessage);

        // Shown as last reported, but not as held.
        var address = b.Interfaces.Single().Addresses.Single(a => a.Extip is not null);
        Assert.Equal("200.1.1.2/32", address.Address);
        Assert.Equal("Held", address.Extip!.State);
        Assert.False(address.Extip.Held);
        Assert.Equal(NodeHold.Gone, report.Services.Single(s => s.Name == "web/api").Addresses.Single().Nodes.Single().State);
        Assert.True(report.Peers.Single(p => p.Node == "node-b").Stale);
    }

    [Fact]
    public void Build_AgentLeaseReleased_NodeGoneAsStopped()
    {
        var c = StatusSite.Report().Nodes.Single(n => n.Name == "node-c");

        Assert.Equal(AgentState.Gone, c.Agent.State);
        Assert.Equal("Lease released: the agent stopped", c.Agent.Reason);
        Assert.Null(c.Agent.ValidUntil);
        Assert.False(c.Ready);
    }

    [Fact]
    public void Build_LeasesUnreadable_LivenessUnknownAndReportedStateTrusted()
    {
        var report = StatusSite.Report(noLeases: true);

        Assert.All(report.Nodes, n => Assert.Equal(AgentState.Unknown, n.Agent.State));
        var b = report.Nodes.Single(n => n.Name == "node-b");
        Assert.True(b.Ready);
        Assert.True(b.Interfaces.Single().Addresses.Single(a => a.Extip is not null).Extip!.Held);
        Assert.Equal("Held", report.Services.Single(s => s.Name == "web/api").Addresses.Single().Nodes.Single().State);
    }

    [Fact]
    public void Build_LeasesUnreadable_ControllerLabelStandsIn_UnlabelledStayUnknown()
    {
        var nodes = StatusSite.Nodes();
        nodes.Single(n => n.Metadata.Name == "node-a").Metadata.Labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = ExtipApi.AgentGone };
        nodes.Single(n => n.Metadata.Name == "node-b").Metadata.Labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = ExtipApi.AgentLive };
        var report = StatusReport.Build(nodes, StatusSite.Claims(), StatusSite.Services(), StatusSite.Pools(), StatusSite.Peers(), null, StatusSite.Now);

        var a = report.Nodes.Single(n => n.Name == "node-a");
        Assert.Equal(AgentState.Gone, a.Agent.State);
        Assert.Equal("the agent Leases could not be read; the controller's label extip.io/agent says Gone", a.Agent.Reason);
        Assert.False(a.Interfaces.SelectMany(i => i.Addresses).Single(x => x.Address == "200.1.1.1/32").Extip!.Held);
        Assert.Equal(AgentState.Live, report.Nodes.Single(n => n.Name == "node-b").Agent.State);
        Assert.Equal(AgentState.Unknown, report.Nodes.Single(n => n.Name == "node-c").Agent.State);
    }

    [Fact]
    public void Build_LeasesRead_TheirJudgmentWinsOverTheLabel()
    {
        var nodes = StatusSite.Nodes();
        nodes.Single(n => n.Metadata.Name == "node-a").Metadata.Labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = ExtipApi.AgentGone };
        nodes.Single(n => n.Metadata.Name == "node-b").Metadata.Labels = new Dictionary<string, string> { [ExtipApi.AgentLabel] = ExtipApi.AgentLive };
        var report = StatusReport.Build(nodes, StatusSite.Claims(), StatusSite.Services(), StatusSite.Pools(), StatusSite.Peers(), StatusSite.Leases(), StatusSite.Now);

        Assert.Equal((AgentState.Live, "Lease renewed"), (report.Nodes.Single(n => n.Name == "node-a").Agent.State, report.Nodes.Single(n => n.Name == "node-a").Agent.Reason));
        Assert.Equal((AgentState.Gone, "Lease expired"), (report.Nodes.Single(n => n.Name == "node-b").Agent.State, report.Nodes.Single(n => n.Name == "node-b").Agent.Reason));
    }

    [Fact]
    public void Build_NoLeaseForNode_Gone()
    {
        var report = StatusSite.Report(leases: StatusSite.Leases().Where(l => l.Metadata.Name != "extip-agent-node-a"));
        var a = report.Nodes.Single(n => n.Name == "node-a");

        Assert.Equal(AgentState.Gone, a.Agent.State);
        Assert.Equal("no Lease extip-agent-node-a", a.Agent.Reason);
    }

    [Fact]
    public void Build_ClaimNamesNodeWithoutIpNode_NotReported()
    {
        var claims = StatusSite.Claims();
        claims[0].Spec.Nodes.Add("node-z");
        var report = StatusReport.Build(StatusSite.Nodes(), claims, StatusSite.Services(), StatusSite.Pools(), StatusSite.Peers(), StatusSite.Leases(), StatusSite.Now);

        var holds = report.Services.Single(s => s.Name == "web/front").Addresses.Single(a => a.Address == "200.1.1.1").Nodes;
        Assert.Equal([("node-a", "Held"), ("node-z", NodeHold.NotReported)], holds.Select(h => (h.Node, h.State)));
    }

    [Fact]
    public void Build_AgentWithoutInterfaceList_ExtipAddressesGroupedByInterface()
    {
        var node = StatusSite.Nodes().Single(n => n.Metadata.Name == "node-a");
        node.Status!.Interfaces = [];
        var report = StatusReport.Build([node], StatusSite.Claims(), [], [], [], StatusSite.Leases(), StatusSite.Now);

        var interfaces = report.Nodes.Single().Interfaces;
        Assert.Equal([("lo", (bool?)null, "200.1.1.1/32"), ("vip0", null, "10.9.9.9/32")], interfaces.Select(i => (i.Name, i.Up, i.Addresses.Single().Address)));
    }

    [Fact]
    public void Build_IPv6AddressWrittenDifferently_StillMatchesItsClaim()
    {
        var node = StatusSite.Nodes().Single(n => n.Metadata.Name == "node-a");
        node.Status!.Interfaces = [new NodeInterface { Name = "lo", Up = true, Addresses = ["2001:db8:1000::5/128"] }];
        node.Status.Addresses = [new NodeAddressStatus { Address = "2001:DB8:1000:0::5", PrefixLength = 128, Interface = "lo", Mode = "BGP", State = "Held" }];
        var claim = new IpClaim { Metadata = new() { Name = "2001-db8-1000--5" }, Spec = new IpClaimSpecModel { Address = "2001:db8:1000::5", PrefixLength = 128, Mode = "BGP", Owners = ["web/v6"], Nodes = ["node-a"] } };
        var report = StatusReport.Build([node], [claim], [], [], [], StatusSite.Leases(), StatusSite.Now);

        var extip = report.Nodes.Single().Interfaces.Single().Addresses.Single().Extip;
        Assert.NotNull(extip);
        Assert.Equal("2001-db8-1000--5", extip.Claim);
        Assert.Equal(["web/v6"], extip.Services);
    }

    [Fact]
    public void Build_PoolWithoutStatus_SaysTheControllerHasNotCounted()
    {
        var pool = new IpPool { Metadata = new() { Name = "new" }, Spec = new IpPoolSpecModel { Addresses = ["10.0.0.0/30"] } };

        var report = StatusReport.Build([], [], [], [pool], [], [], StatusSite.Now).Pools.Single();

        Assert.Equal("no status yet: is the controller running?", report.Problem);
        Assert.Equal((0, "0"), (report.InUseIPv4, report.CapacityIPv4));
    }

    [Fact]
    public void Build_Twice_SameJson()
    {
        Assert.Equal(StatusJson.Serialize(StatusSite.Report()), StatusJson.Serialize(StatusSite.Report()));
    }
}
