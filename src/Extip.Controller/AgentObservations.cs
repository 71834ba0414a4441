using k8s.Models;

namespace Extip.Controller;

/// <summary>
/// Agent liveness judged from what this controller observed, on its own monotonic clock, never
/// by comparing an agent's <c>renewTime</c> (its clock) with ours (as client-go's leader election
/// and the node lifecycle controller do). An agent is live for its Lease's duration after we last
/// saw its <c>renewTime</c> change.
/// <para>
/// An expiry counts only when it is confirmed: another agent was seen renewing without a break for
/// at least half the expired agent's Lease while that one stayed silent, so the API server and our
/// watch were working and it had the chance to renew. When every agent falls silent together (an API server outage,
/// or this controller cut off from it), nobody's expiry is confirmed and no claim moves: the
/// nodes are most likely fine and nobody could take their addresses over anyway. A new session
/// starts with every agent just seen, so a controller that has just regained the API server gives
/// the agents a Lease duration to renew before it moves anything.
/// </para>
/// </summary>
internal sealed class AgentObservations(TimeProvider time, DisruptionRule? rule = null, TimeSpan fenceMargin = default)
{
    private readonly Dictionary<string, Seen> _agents = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly DisruptionRule _rule = rule ?? new DisruptionRule();
    private long? _disruptedUntil;
    private bool _disruptionHolds;
    private long _disruptions;

    /// <summary>Control-plane disruptions declared so far.</summary>
    public long Disruptions => Interlocked.Read(ref _disruptions);

    /// <summary>Records a Lease as listed or watched: a changed renewTime (or a new Lease) is a renewal seen now.</summary>
    public void Observe(V1Lease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (!AgentLiveness.IsAgentLease(lease))
        {
            return;
        }

        var node = lease.Metadata.Name[Kubernetes.Models.ExtipApi.AgentLeasePrefix.Length..];
        var renew = lease.Spec?.RenewTime;
        var duration = TimeSpan.FromSeconds(Math.Max(1, lease.Spec?.LeaseDurationSeconds ?? 1));
        var released = string.IsNullOrEmpty(lease.Spec?.HolderIdentity) || renew is null;
        var draining = lease.Metadata.Annotations?.ContainsKey(Kubernetes.Models.ExtipApi.DrainingAnnotation) == true;
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (!_agents.TryGetValue(node, out var seen))
            {
                _agents[node] = new Seen(renew, now, now, duration, released) { Draining = draining };
            }
            else if (seen.Renew != renew)
            {
                // A renewal after a silence longer than half its Lease starts a new streak: until
                // it has lasted, this agent proves nothing about the others (they may simply not
                // have got through yet after the same outage).
                var streak = time.GetElapsedTime(seen.At, now) > seen.Duration / 2 ? now : seen.Since;
                _agents[node] = new Seen(renew, now, streak, duration, released) { Draining = draining };
            }
            else
            {
                _agents[node] = seen with { Duration = duration, Released = released, Draining = draining };
            }
        }
    }

    /// <summary>A Lease deleted: its agent is gone.</summary>
    public void Forget(string leaseName)
    {
        if (!leaseName.StartsWith(Kubernetes.Models.ExtipApi.AgentLeasePrefix, StringComparison.Ordinal))
        {
            return;
        }

        lock (_gate)
        {
            _agents.Remove(leaseName[Kubernetes.Models.ExtipApi.AgentLeasePrefix.Length..]);
        }
    }

    /// <summary>
    /// The live agents; when the next one's Lease runs out on our clock; and the agents whose
    /// Lease ran out unconfirmed (kept live: a control-plane disruption, not dead nodes).
    /// </summary>
    public Judgement Judge()
    {
        var now = time.GetTimestamp();
        var live = new HashSet<string>(StringComparer.Ordinal);
        var quiet = new HashSet<string>(StringComparer.Ordinal);
        var draining = new HashSet<string>(StringComparer.Ordinal);
        var held = new List<string>();
        TimeSpan? next = null;
        Disruption? disruption = null;
        lock (_gate)
        {
            // Most agents' Leases running out within one window is a control-plane disruption,
            // not dead nodes (as the node lifecycle controller's unhealthy-zone rule): no expiry is
            // confirmed until the disruption is over and the agents have had the grace to renew.
            var counted = _agents.Values.Where(a => !a.Released).ToList();
            var expiries = counted.Select(a => a.At + Ticks(a.Duration + fenceMargin)).Where(at => at <= now).Order().ToList();
            var window = Ticks(_rule.Window);
            var bunched = 0;
            for (int i = 0, j = 0; j < expiries.Count; j++)
            {
                while (expiries[j] - expiries[i] > window)
                {
                    i++;
                }

                bunched = Math.Max(bunched, j - i + 1);
            }

            var grace = Ticks(_rule.Grace ?? (counted.Count > 0 ? counted.Max(a => a.Duration) : TimeSpan.Zero));
            var holds = bunched >= Math.Max(2, _rule.MinimumAgents) && bunched >= _rule.Share * counted.Count;
            if (holds && !_disruptionHolds)
            {
                // Declared once per episode, with a grace from now: a rack that lost power does
                // not hold its claims for ever, only until its agents could have renewed.
                Interlocked.Increment(ref _disruptions);
                disruption = new Disruption(bunched, counted.Count, true);
                _disruptedUntil = now + grace;
            }
            else if (!holds && _disruptionHolds)
            {
                // Seen over (the agents renew again): those still on their way get the grace too.
                _disruptedUntil = now + grace;
            }

            _disruptionHolds = holds;
            var disrupted = _disruptedUntil > now;
            if (disrupted && disruption is null)
            {
                disruption = new Disruption(bunched, counted.Count, false);
            }

            foreach (var (node, seen) in _agents)
            {
                if (seen.Released)
                {
                    continue;
                }

                // Live for the Lease plus the fence margin: the kernel removes a hung agent's
                // addresses by then (their lifetimes are whole seconds, and expire within ~0.2 s).
                var since = time.GetElapsedTime(seen.At, now);
                var left = seen.Duration + fenceMargin - since;
                if (since > seen.Duration / 2)
                {
                    quiet.Add(node);
                }

                if (seen.Draining)
                {
                    draining.Add(node);
                }

                if (left > TimeSpan.Zero)
                {
                    live.Add(node);
                    next = next is null || left < next ? left : next;
                    continue;
                }

                // Expired on our clock: dead only if another agent was seen renewing without a
                // break for at least half this one's Lease while this one stayed silent.
                var half = (long)(seen.Duration.TotalSeconds / 2 * time.TimestampFrequency);
                if (!disrupted && _agents.Any(o => o.Key != node && !o.Value.Released && o.Value.At - Math.Max(seen.At, o.Value.Since) >= half))
                {
                    continue;
                }

                live.Add(node);
                held.Add(node);
            }
        }

        held.Sort(StringComparer.Ordinal);
        if (disruption is not null && _disruptedUntil is { } until)
        {
            // Judge again when the grace is over.
            var left = time.GetElapsedTime(now, until);
            next = next is null || left < next ? left : next;
        }

        quiet.IntersectWith(live);
        draining.IntersectWith(live);
        return new Judgement(live, next, held, disruption) { Quiet = quiet, Draining = draining };
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    /// <summary>What <see cref="Judge"/> found.</summary>
    public sealed record Judgement(HashSet<string> Live, TimeSpan? NextExpiry, IReadOnlyList<string> Unconfirmed, Disruption? Disruption = null)
    {
        /// <summary>Live agents not seen renewing for more than half their Lease (hung, or cut off): nothing is moved off them just to rebalance.</summary>
        public IReadOnlySet<string> Quiet { get; init; } = new HashSet<string>(StringComparer.Ordinal);

        /// <summary>Live agents that are stopping and asked for their claims to be moved while they still hold them.</summary>
        public IReadOnlySet<string> Draining { get; init; } = new HashSet<string>(StringComparer.Ordinal);
    }

    /// <summary>A control-plane disruption in force: how many agents' Leases ran out together, of how many; Started on the judgement that declared it.</summary>
    public sealed record Disruption(int Expired, int Agents, bool Started);

    /// <summary>The last renewTime seen, when it was seen, since when its renewals come without a long break, the Lease's duration, released.</summary>
    private sealed record Seen(DateTime? Renew, long At, long Since, TimeSpan Duration, bool Released)
    {
        public bool Draining { get; init; }
    }
}

/// <summary>
/// When most agents' Leases run out together, it is the control plane, not the nodes: at least
/// <see cref="Share"/> of the agents (and <see cref="MinimumAgents"/>) expiring within
/// <see cref="Window"/> of each other declares a disruption, and no claim moves until
/// <see cref="Grace"/> (default: one Lease duration) after the last such judgement.
/// </summary>
public sealed record DisruptionRule
{
    public double Share { get; init; } = 0.55;

    public int MinimumAgents { get; init; } = 2;

    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan? Grace { get; init; }
}
