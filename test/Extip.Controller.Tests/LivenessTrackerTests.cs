using Extip.Controller.Metrics;
using Extip.Kubernetes.Events;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Controller.Tests;

/// <summary>
/// The liveness tracker, the one owner of "when do claims move", in virtual time: which Lease and
/// Node events need a claim pass, when the claim loop wakes, whether a wake-up changed anything,
/// and what it reports.
/// </summary>
public sealed class LivenessTrackerTests
{
    private static readonly DateTime Epoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, V1Node> _nodes = new(StringComparer.Ordinal);
    private readonly ControllerMetrics _metrics = new();
    private readonly RecordingSink _events = new();
    private readonly LivenessTracker _tracker;

    public LivenessTrackerTests() => _tracker = new LivenessTracker(
        new ControllerOptions { Time = _time, FenceMargin = TimeSpan.FromMilliseconds(750), HoldDown = new HoldDownOptions { Base = TimeSpan.Zero } },
        n => _nodes.GetValueOrDefault(n), _metrics, _events, NullLogger.Instance);

    private V1Lease Lease(string node, int seconds = 2, string? holder = "", bool draining = false) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = ExtipApi.AgentLeasePrefix + node,
            Annotations = draining ? new Dictionary<string, string> { [ExtipApi.DrainingAnnotation] = "true" } : null,
        },

        // renewTime is the agent's clock: only its change counts, so it follows ours here.
        Spec = new V1LeaseSpec { HolderIdentity = holder == "" ? node : holder, RenewTime = Epoch.AddTicks(_time.GetTimestamp()), LeaseDurationSeconds = seconds },
    };

    private readonly Dictionary<string, V1Lease> _leases = new(StringComparer.Ordinal);

    /// <summary>The agent writes its Lease; the watch delivers it (with the one it replaced); true when a claim pass is asked for.</summary>
    private bool Write(V1Lease lease)
    {
        var old = _leases.GetValueOrDefault(lease.Metadata.Name);
        _leases[lease.Metadata.Name] = lease;
        return _tracker.OnLease(old is null ? WatchEventType.Added : WatchEventType.Modified, lease, old);
    }

    [Fact]
    public void LeaseEvents_ARenewalNeedsNoPass_ArrivalReleaseDrainShorterLeaseAndDeletionDo()
    {
        Assert.True(Write(Lease("a")));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(Write(Lease("a")));
        Assert.True(Write(Lease("a", draining: true)));
        Assert.False(Write(Lease("a", draining: true)));
        Assert.True(Write(Lease("a", seconds: 1, draining: true)));
        Assert.True(Write(Lease("a", holder: null)));
        Assert.True(_tracker.OnLease(WatchEventType.Deleted, _leases[ExtipApi.AgentLeasePrefix + "a"], null));
    }

    [Fact]
    public void StartCountsEveryAgentAsJustSeen_TheFirstCheckIsALeasePlusTheFenceMarginAway()
    {
        _tracker.Start([Lease("a"), Lease("b", seconds: 5)]);
        var l = _tracker.Judge();
        Assert.Equal(["a", "b"], l.Live.Order());
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMilliseconds(2750), l.NextCheck);
    }

    [Fact]
    public void ADeadAgent_MovesOnlyAfterItsLeaseAndTheFenceMargin_WhileAnotherKeepsRenewing()
    {
        Write(Lease("a"));
        Write(Lease("b"));
        _tracker.Accept(_tracker.Judge());

        // b renews every 500 ms; a stays silent (quiet after half its Lease: a pass keeps what it holds).
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(500));
            Assert.False(Write(Lease("b")));
        }

        var quiet = _tracker.Judge();
        Assert.Equal(["a", "b"], quiet.Live.Order());
        Assert.Equal(["a"], quiet.Quiet);
        _tracker.Accept(quiet);

        // 2.25 s: half a second of a's Lease and margin left; the loop wakes then (or for the quiet recheck, as soon).
        _time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.False(_tracker.Changed(out var next));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMilliseconds(500), next);

        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(_tracker.Changed(out _));
        var l = _tracker.Judge();
        Assert.Equal(["b"], l.Live);
        _tracker.Accept(l);
        Assert.False(_tracker.Changed(out _));
        Assert.Equal(1, _metrics.LiveAgents.Value);
    }

    [Fact]
    public void EveryAgentSilent_NoExpiryIsConfirmed_NothingMoves_AndTheFirstRenewalThenAsksForAPass()
    {
        Write(Lease("a"));
        Write(Lease("b"));
        _tracker.Accept(_tracker.Judge());
        _time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(["a", "b"], _tracker.Judge().Live.Order());
        Assert.Equal(2, _metrics.UnconfirmedExpiries.Value);

        // With expiries waiting for confirmation, a plain renewal is news: it may confirm the other's death.
        Assert.True(Write(Lease("b")));
    }

    [Fact]
    public void ANodeTakenOutByItsTaint_LeavesServing_AndOneWarningEventSaysWhy()
    {
        _nodes["a"] = new V1Node { Metadata = new V1ObjectMeta { Name = "a" }, Spec = new V1NodeSpec { Taints = [new V1Taint { Key = NodeSignals.OutOfServiceTaint, Effect = "NoExecute" }] } };
        Write(Lease("a"));
        Write(Lease("b"));
        var l = _tracker.Judge();
        Assert.Equal(["a", "b"], l.Live.Order());
        Assert.Equal(["b"], l.Serving);
        _tracker.Accept(l);
        _tracker.Accept(_tracker.Judge());
        var warning = Assert.Single(_events.Warnings);
        Assert.Equal(("a", "NodeOutOfService"), (warning.Target.Name, warning.Reason));
        Assert.Contains(NodeSignals.OutOfServiceTaint, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeEvents_HeartbeatsNeedNoPass_LabelsTaintsReadinessAndDeletionDo()
    {
        static V1Node Node(string? ready = "True", string zone = "z1", bool taint = false) => new()
        {
            Metadata = new V1ObjectMeta { Name = "a", Labels = new Dictionary<string, string> { ["zone"] = zone } },
            Spec = new V1NodeSpec { Taints = taint ? [new V1Taint { Key = NodeSignals.OutOfServiceTaint, Effect = "NoExecute" }] : null },
            Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = ready, LastHeartbeatTime = DateTime.UtcNow }] },
        };

        Assert.True(LivenessTracker.OnNode(WatchEventType.Added, Node(), null));
        Assert.False(LivenessTracker.OnNode(WatchEventType.Modified, Node(), Node()));
        Assert.True(LivenessTracker.OnNode(WatchEventType.Modified, Node(zone: "z2"), Node()));
        Assert.True(LivenessTracker.OnNode(WatchEventType.Modified, Node(taint: true), Node()));
        Assert.True(LivenessTracker.OnNode(WatchEventType.Modified, Node(ready: "Unknown"), Node()));
        Assert.True(LivenessTracker.OnNode(WatchEventType.Deleted, Node(), Node()));
    }

    [Fact]
    public void AMajorityExpiringTogether_IsADisruption_ReportedOnce()
    {
        foreach (var n in new[] { "a", "b", "c" })
        {
            Write(Lease(n));
        }

        _tracker.Accept(_tracker.Judge());
        _time.Advance(TimeSpan.FromSeconds(3));
        _tracker.Judge();
        Assert.Equal(["a", "b", "c"], _tracker.Judge().Live.Order());
        Assert.Equal(1, _metrics.Disruption.Value);
        Assert.Single(_events.Warnings, w => w.Reason == "ControlPlaneDisruption");
    }

    private sealed class RecordingSink : IEventSink
    {
        public List<(V1ObjectReference Target, string Reason, string Message)> Warnings { get; } = [];

        public void Normal(V1ObjectReference target, string reason, string message)
        {
        }

        public void Warning(V1ObjectReference target, string reason, string message) => Warnings.Add((target, reason, message));
    }
}
