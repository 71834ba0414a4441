using Extip.Controller.Metrics;
using Extip.Kubernetes.Events;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Controller;

/// <summary>
/// Which nodes may hold addresses now, and when to look again. The one owner of liveness: the
/// agents' Leases as this controller observed them (<see cref="AgentObservations"/>, on its own
/// clock), what the Nodes say (<see cref="NodeSignals"/>), route-flap damping
/// (<see cref="NodeDamping"/>). It decides which Lease and Node events need a claim pass, when the
/// claim loop must wake (the next expiry), and whether a wake-up changed anything; it reports a
/// control-plane disruption, unconfirmed expiries and nodes taken out, through metrics, logs and
/// Events.
/// </summary>
internal sealed partial class LivenessTracker
{
    /// <summary>How often liveness is judged again while some agent is quiet.</summary>
    internal static readonly TimeSpan QuietRecheck = TimeSpan.FromMilliseconds(500);

    private readonly ControllerOptions _options;
    private readonly Func<string, V1Node?> _node;
    private readonly ControllerMetrics _metrics;
    private readonly IEventSink _events;
    private readonly ILogger _logger;
    private readonly AgentObservations _agents;
    private readonly NodeDamping _damping;
    private readonly NodeSignals _signals;
    private Liveness? _last;
    private Dictionary<string, string> _lastOut = new(StringComparer.Ordinal);
    private volatile int _unconfirmed;

    public LivenessTracker(ControllerOptions options, Func<string, V1Node?> node, ControllerMetrics metrics, IEventSink events, ILogger logger)
    {
        _options = options;
        _node = node;
        _metrics = metrics;
        _events = events;
        _logger = logger;
        _agents = new AgentObservations(options.Time, options.Disruption, options.FenceMargin);
        _damping = new NodeDamping(options.Time, options.HoldDown);
        _signals = new NodeSignals(options.Time, options.NotReadyGrace);
    }

    /// <summary>
    /// A session's start: every agent counts as just seen, so a new leader (or one that has just got
    /// the API server back) gives the agents a Lease duration to renew before anything moves.
    /// </summary>
    public void Start(IEnumerable<V1Lease> leases)
    {
        foreach (var lease in leases)
        {
            _agents.Observe(lease);
        }
    }

    /// <summary>
    /// Records a Lease event; true when claims may move now (an agent came, went, was released,
    /// drains, or shortened its Lease). A renewal of a live agent's Lease needs no pass: the claim
    /// loop already wakes when the earliest Lease would run out and sees the renewal then. (With a
    /// pass per renewal, ten agents renewing every second kept the loop busy with passes that
    /// changed nothing, and a failover waited behind them.)
    /// </summary>
    public bool OnLease(WatchEventType type, V1Lease lease, V1Lease? old)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (type == WatchEventType.Deleted)
        {
            _agents.Forget(lease.Metadata.Name);
            return true;
        }

        _agents.Observe(lease);

        // Renewed, no shorter than before, and no expiry waits for a renewal to confirm it: the
        // loop's timer is early, never late.
        var renewal = old is not null
            && !string.IsNullOrEmpty(old.Spec?.HolderIdentity) && old.Spec.HolderIdentity == lease.Spec?.HolderIdentity
            && (lease.Spec.LeaseDurationSeconds ?? 0) >= (old.Spec.LeaseDurationSeconds ?? 0)
            && Draining(old) == Draining(lease)
            && _unconfirmed == 0;
        return !renewal;
    }

    /// <summary>Node labels pick the eligible nodes, the out-of-service taint and Ready take nodes out; a Node's heartbeats change nothing.</summary>
    public static bool OnNode(WatchEventType type, V1Node node, V1Node? old)
    {
        ArgumentNullException.ThrowIfNull(node);
        return type == WatchEventType.Deleted || old is null || !LabelsEqual(old.Metadata.Labels, node.Metadata.Labels)
            || OutOfService(old) != OutOfService(node) || Ready(old) != Ready(node);
    }

    /// <summary>
    /// Judges liveness now: the live agents (a draining one is not: its claims move while it hands
    /// them over), those in their hold-down, those gone quiet, the nodes Kubernetes says are out,
    /// and when to look again.
    /// </summary>
    public Liveness Judge()
    {
        var now = _options.Time.GetUtcNow();
        var judged = _agents.Judge();
        var live = new HashSet<string>(judged.Live, StringComparer.Ordinal);
        live.ExceptWith(judged.Draining);
        _damping.Observe(live);
        var (settling, settles) = _damping.Settling();
        var quiet = new HashSet<string>(judged.Quiet, StringComparer.Ordinal);
        quiet.IntersectWith(live);
        var (outOfService, signalNext) = _signals.Judge(live, _node);
        var next = judged.NextExpiry;
        foreach (var t in new[] { settles, quiet.Count > 0 ? QuietRecheck : (TimeSpan?)null, signalNext })
        {
            next = t is { } x && (next is null || x < next) ? x : next;
        }

        ReportDisruption(judged);
        return new Liveness(live, settling, quiet, outOfService, next is { } left ? now + left : null);
    }

    /// <summary>Whether liveness now differs from what the last pass used; and when to look again.</summary>
    public bool Changed(out DateTimeOffset? next)
    {
        var now = Judge();
        next = now.NextCheck;
        return _last is not { } last || !now.Live.SetEquals(last.Live) || !now.Settling.SetEquals(last.Settling) || !now.Quiet.SetEquals(last.Quiet)
            || !now.OutOfService.Keys.ToHashSet(StringComparer.Ordinal).SetEquals(last.OutOfService.Keys);
    }

    /// <summary>A claim pass placed addresses by this judgement: later wake-ups compare with it, and nodes newly taken out get a Warning Event.</summary>
    public void Accept(Liveness liveness)
    {
        ArgumentNullException.ThrowIfNull(liveness);
        _last = liveness;
        _metrics.LiveAgents.Set(liveness.Live.Count);
        foreach (var (node, why) in liveness.OutOfService.Where(kv => _lastOut.GetValueOrDefault(kv.Key) != kv.Value))
        {
            LogNodeOut(_logger, node, why);
            _events.Warning(new V1ObjectReference { Kind = "Node", ApiVersion = "v1", Name = node }, "NodeOutOfService", $"Node {node} holds no external address: {why}");
        }

        _lastOut = liveness.OutOfService;
    }

    private void ReportDisruption(AgentObservations.Judgement judged)
    {
        _metrics.Disruption.Set(judged.Disruption is null ? 0 : 1);
        if (judged.Disruption is { Started: true } d)
        {
            _metrics.Disruptions.Inc();
            var grace = _options.Disruption.Grace is { } g ? $"{g.TotalSeconds:0.###} s" : "one Lease duration";
            var message = $"{d.Expired} of {d.Agents} agents' Leases ran out within {_options.Disruption.Window.TotalSeconds:0.###} s: a control-plane disruption, not dead nodes; no claim moves until it is over and the agents have had {grace} to renew";
            LogControlPlaneDisruption(_logger, message);
            _events.Warning(new V1ObjectReference
            {
                Kind = "Lease",
                ApiVersion = "coordination.k8s.io/v1",
                Name = "extip-controller",
                NamespaceProperty = _options.Namespace,
            }, "ControlPlaneDisruption", message);
        }

        var unconfirmed = judged.Unconfirmed.Count;
        if (unconfirmed != _unconfirmed)
        {
            _unconfirmed = unconfirmed;
            _metrics.UnconfirmedExpiries.Set(unconfirmed);
            if (unconfirmed > 0)
            {
                LogDisruption(_logger, string.Join(", ", judged.Unconfirmed));
            }
        }
    }

    private static bool Draining(V1Lease lease) => lease.Metadata.Annotations?.ContainsKey(ExtipApi.DrainingAnnotation) == true;

    private static bool OutOfService(V1Node n) => n.Spec?.Taints?.Any(t => t.Key == NodeSignals.OutOfServiceTaint) == true;

    private static string? Ready(V1Node n) => n.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status;

    internal static bool LabelsEqual(IDictionary<string, string>? a, IDictionary<string, string>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a ?? new Dictionary<string, string>()).All(kv => b!.TryGetValue(kv.Key, out var v) && v == kv.Value);

    [LoggerMessage(EventId = 333, Level = LogLevel.Warning, Message = "node {Node} holds no external address: {Why}")]
    private static partial void LogNodeOut(ILogger logger, string node, string why);

    [LoggerMessage(EventId = 332, Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogControlPlaneDisruption(ILogger logger, string message);

    [LoggerMessage(EventId = 330, Level = LogLevel.Warning, Message = "agents {Nodes}: their Leases ran out while no other agent was seen renewing (a control-plane disruption, not dead nodes): their claims stay until a renewal confirms it")]
    private static partial void LogDisruption(ILogger logger, string nodes);
}

/// <summary>
/// One judgement of liveness: the live agents, those of them in their hold-down (no new claims),
/// those gone quiet (nothing moved off them just to rebalance), the live ones Kubernetes says are
/// out and why, and when to judge again (the next Lease expiry, node settling or grace running out).
/// </summary>
internal sealed record Liveness(HashSet<string> Live, HashSet<string> Settling, HashSet<string> Quiet, Dictionary<string, string> OutOfService, DateTimeOffset? NextCheck)
{
    /// <summary>The live nodes that may hold addresses.</summary>
    public IEnumerable<string> Serving => Live.Where(n => !OutOfService.ContainsKey(n));
}
