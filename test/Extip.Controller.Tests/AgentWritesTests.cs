using System.Text.Json.Nodes;
using Extip.Controller.Webhook;
using Extip.Kubernetes.Admission;

namespace Extip.Controller.Tests;

/// <summary>What one node's agent may write (issue 12): the webhook's rule as a pure function of the request.</summary>
public sealed class AgentWritesTests
{
    private static AdmissionRequest Request(string kind, string name, string? holder = null) => new(new JsonObject
    {
        ["kind"] = new JsonObject { ["kind"] = kind },
        ["name"] = name,
        ["operation"] = "UPDATE",
        ["object"] = new JsonObject { ["spec"] = holder is null ? new JsonObject() : new JsonObject { ["holderIdentity"] = holder } },
    });

    [Theory]
    [InlineData("Lease", "extip-agent-k1", null, true)]
    [InlineData("Lease", "extip-agent-k1", "k1", true)]
    [InlineData("Lease", "extip-agent-k1", "k2", false)]
    [InlineData("Lease", "extip-agent-k2", "k1", false)]
    [InlineData("Lease", "extip-agent-k10", "k1", false)]
    [InlineData("Lease", "extip-controller", "k1", false)]
    [InlineData("IPNode", "k1", null, true)]
    [InlineData("IPNode", "k2", null, false)]
    [InlineData("IPNode", "k10", null, false)]
    [InlineData("Secret", "k1", null, false)]
    public void Judge_OnlyTheNodesOwnLeaseAndIpNode(string kind, string name, string? holder, bool allowed)
    {
        var verdict = AgentWrites.Judge(Request(kind, name, holder), "k1");
        Assert.Equal(allowed, verdict.Allowed);
        if (!allowed)
        {
            Assert.Contains("node \"k1\"", verdict.Message, StringComparison.Ordinal);
            Assert.Equal(403, verdict.Code);
        }
    }

    [Fact]
    public async Task Review_OtherUsersPass_AnAgentWithoutAPodOrNodeIsRefused_ANodeNameIsUsedAsIs()
    {
        var writes = new AgentWrites(null!, "system:serviceaccount:extip-system:extip-agent");
        AdmissionRequest As(string user, JsonObject? extra)
        {
            var r = Request("Lease", "extip-agent-k2", "k2");
            r.Raw["userInfo"] = new JsonObject { ["username"] = user, ["extra"] = extra };
            return r;
        }

        Assert.True((await writes.ReviewAsync(As("system:serviceaccount:extip-system:extip-controller", null), default)).Allowed);
        var anonymous = await writes.ReviewAsync(As("system:serviceaccount:extip-system:extip-agent", null), default);
        Assert.False(anonymous.Allowed);
        Assert.Contains("names no pod", anonymous.Message, StringComparison.Ordinal);

        // v1.30+: the API server names the node itself; no pod lookup (the client is null here).
        var onK2 = new JsonObject { [AgentWrites.NodeNameKey] = new JsonArray("k2") };
        Assert.True((await writes.ReviewAsync(As("system:serviceaccount:extip-system:extip-agent", onK2), default)).Allowed);
        var onK1 = new JsonObject { [AgentWrites.NodeNameKey] = new JsonArray("k1") };
        Assert.False((await writes.ReviewAsync(As("system:serviceaccount:extip-system:extip-agent", onK1), default)).Allowed);
    }
}
