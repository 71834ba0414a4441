using k8s.Models;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Controller.Tests;

/// <summary>What the Nodes say beside the agents' Leases, in virtual time.</summary>
public sealed class NodeSignalsTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, V1Node> _nodes = new(StringComparer.Ordinal);

    private static V1Node Node(string name, string? ready = "True", bool outOfService = false, bool cordoned = false) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1NodeSpec
        {
            Unschedulable = cordoned,
            Taints = outOfService ? [new V1Taint { Key = NodeSignals.OutOfServiceTaint, Value = "nodeshutdown", Effect = "NoExecute" }] : null,
        },
        Status = ready is null ? null : new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = ready }] },
    };

    private (Dictionary<string, string> Out, TimeSpan? Next) Judge(NodeSignals s) => s.Judge(_nodes.Keys, n => _nodes.GetValueOrDefault(n));

    [Fact]
    public void OutOfServiceTaint_TakesTheNodeOutAtOnce_ACordonDoesNot()
    {
        var signals = new NodeSignals(_time, TimeSpan.FromSeconds(30));
        _nodes["a"] = Node("a", outOfService: true);
        _nodes["b"] = Node("b", cordoned: true);
        _nodes["c"] = Node("c");
        var (outNow, next) = Judge(signals);
        Assert.Equal(["a"], outNow.Keys);
        Assert.Contains(NodeSignals.OutOfServiceTaint, outNow["a"], StringComparison.Ordinal);
        Assert.Null(next);
    }

    [Theory]
    [InlineData("False")]
    [InlineData("Unknown")]
    public void NotReady_TakesTheNodeOut_OnlyAfterTheGrace_TimedFromWhenItWasFirstSeen(string status)
    {
        var signals = new NodeSignals(_time, TimeSpan.FromSeconds(30));
        _nodes["a"] = Node("a", ready: status);
        var (outNow, next) = Judge(signals);
        Assert.Empty(outNow);
        Assert.Equal(TimeSpan.FromSeconds(30), next);

        _time.Advance(TimeSpan.FromSeconds(29));
        (outNow, next) = Judge(signals);
        Assert.Empty(outNow);
        Assert.Equal(TimeSpan.FromSeconds(1), next);

        _time.Advance(TimeSpan.FromSeconds(1));
        (outNow, _) = Judge(signals);
        Assert.Equal(["a"], outNow.Keys);
        Assert.Contains($"Ready has been {status}", outNow["a"], StringComparison.Ordinal);

        // Ready again: back at once; not ready again: a whole new grace.
        _nodes["a"] = Node("a");
        Assert.Empty(Judge(signals).Out);
        _nodes["a"] = Node("a", ready: status);
        _time.Advance(TimeSpan.FromSeconds(10));
        (outNow, next) = Judge(signals);
        Assert.Empty(outNow);
        Assert.Equal(TimeSpan.FromSeconds(30), next);
    }

    [Fact]
    public void AnAgentThatFlaps_DoesNotBuyItsNotReadyNodeANewGrace()
    {
        var signals = new NodeSignals(_time, TimeSpan.FromSeconds(30));
        _nodes["a"] = Node("a", ready: "False");
        Assert.Empty(Judge(signals).Out);
        _time.Advance(TimeSpan.FromSeconds(20));

        // Its agent is not live for a while: the node is not judged, but its timer is kept.
        Assert.Empty(signals.Judge([], n => _nodes.GetValueOrDefault(n)).Out);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["a"], Judge(signals).Out.Keys);

        // A Node that is gone is forgotten.
        _nodes.Clear();
        Assert.Empty(signals.Judge([], n => _nodes.GetValueOrDefault(n)).Out);
        _nodes["a"] = Node("a", ready: "False");
        Assert.Equal(TimeSpan.FromSeconds(30), Judge(signals).Next);
    }

    [Fact]
    public void TheNodesOwnTimestamps_AreNeverRead()
    {
        // A transition time far in the past (another machine's clock) does not shorten the grace.
        var signals = new NodeSignals(_time, TimeSpan.FromSeconds(30));
        var node = Node("a", ready: "False");
        node.Status.Conditions[0].LastTransitionTime = DateTime.UnixEpoch;
        _nodes["a"] = node;
        Assert.Empty(Judge(signals).Out);
    }

    [Fact]
    public void ZeroGrace_LooksAtReadyNever_AndANodeWithoutAnObjectIsNotJudged()
    {
        var signals = new NodeSignals(_time, TimeSpan.Zero);
        _nodes["a"] = Node("a", ready: "False");
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Empty(Judge(signals).Out);
        Assert.Empty(signals.Judge(["ghost"], _ => null).Out);
    }
}
