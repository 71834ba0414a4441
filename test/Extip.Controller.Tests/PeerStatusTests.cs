using Extip.Core.Allocation;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

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
