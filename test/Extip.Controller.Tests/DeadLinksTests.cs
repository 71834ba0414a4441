using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Controller.Tests;

/// <summary>A dead link is a dead node for the claims that need it, from the agents' IPNode statuses.</summary>
public sealed class DeadLinksTests
{
    private static IpNode Node(string name, (string Name, bool Up)[] interfaces, params string[] peerStates) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Status = new IpNodeStatusModel
        {
            Interfaces = [.. interfaces.Select(i => new NodeInterface { Name = i.Name, Up = i.Up })],
            Peers = [.. peerStates.Select((s, i) => new PeerStatus { Name = $"p{i}", State = s })],
        },
    };

    private static readonly string[] Live = ["a", "b", "c"];

    [Fact]
    public void InterfaceDown_TheNodeMayNotHoldAddressesOnIt_OthersAndLoUnaffected()
    {
        var nodes = new[] { Node("a", [("lo", true), ("eth0", false)]), Node("b", [("lo", true), ("eth0", true)]) };
        var dead = DeadLinks.Judge(nodes, Live, "eth0", AnnounceMode.L2);
        Assert.Equal(["a"], dead.Keys);
        Assert.Contains("eth0 is down", dead["a"], StringComparison.Ordinal);
        Assert.Empty(DeadLinks.Judge(nodes, Live, "lo", AnnounceMode.Local));
        Assert.Empty(DeadLinks.Judge(nodes, Live, "eth1", AnnounceMode.L2)); // not reported: not judged
    }

    [Fact]
    public void NoBgpSessionUp_WhileAnotherNodesIs_DeadForBgpClaims_NotForL2()
    {
        var nodes = new[] { Node("a", [("eth0", true)], "Active", "Connect"), Node("b", [("eth0", true)], "Established"), Node("c", [("eth0", true)]) };
        var dead = DeadLinks.Judge(nodes, Live, "lo", AnnounceMode.BGP);
        Assert.Equal(["a"], dead.Keys); // c has no peers: nothing to judge by
        Assert.Contains("none of its 2 BGP sessions", dead["a"], StringComparison.Ordinal);
        Assert.Empty(DeadLinks.Judge(nodes, Live, "eth0", AnnounceMode.L2));
    }

    [Fact]
    public void EveryNodesSessionsDown_ItIsTheRouter_NothingMoves()
    {
        var nodes = new[] { Node("a", [("eth0", true)], "Active"), Node("b", [("eth0", true)], "Idle") };
        Assert.Empty(DeadLinks.Judge(nodes, Live, "lo", AnnounceMode.BGP));
    }

    [Fact]
    public void OnlyLiveAgentsCount_AGoneNodesSessionDoesNotMakeOthersDead()
    {
        var nodes = new[] { Node("a", [("eth0", true)], "Active"), Node("gone", [("eth0", true)], "Established") };
        Assert.Empty(DeadLinks.Judge(nodes, ["a"], "lo", AnnounceMode.BGP));
        Assert.Empty(DeadLinks.Judge([new IpNode { Metadata = new V1ObjectMeta { Name = "a" } }], Live, "eth0", AnnounceMode.L2));
    }
}
