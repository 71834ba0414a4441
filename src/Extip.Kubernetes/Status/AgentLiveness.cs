using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Kubernetes.Status;

/// <summary>Live, Gone, or Unknown (the Leases could not be read).</summary>
public enum AgentState
{
    Live,
    Gone,
    Unknown,
}

/// <summary>Whether a node's agent is alive, from its Lease, and why.</summary>
public sealed record AgentLiveness(AgentState State, string Reason, DateTime? Renewed, DateTime? ValidUntil)
{
    /// <summary>
    /// The agent is alive while its Lease names it and renewTime + leaseDurationSeconds is after
    /// <paramref name="now"/>. This is for display only: <paramref name="now"/> is the reader's
    /// clock, not the API server's or the controller's, so near the boundary it can disagree with
    /// the controller by the clocks' skew; the controller decides for itself from its own watch.
    /// </summary>
    /// <param name="leases">The agent Leases; null when they could not be read.</param>
    public static AgentLiveness Of(string node, IReadOnlyDictionary<string, V1Lease>? leases, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (leases is null)
        {
            return new AgentLiveness(AgentState.Unknown, "the agent Leases could not be read", null, null);
        }

        var name = ExtipApi.AgentLeasePrefix + node;
        if (!leases.TryGetValue(name, out var lease))
        {
            return new AgentLiveness(AgentState.Gone, $"no Lease {name}", null, null);
        }

        var spec = lease.Spec ?? new V1LeaseSpec();
        var renewed = spec.RenewTime is { } r ? Utc(r) : (DateTime?)null;
        if (string.IsNullOrEmpty(spec.HolderIdentity))
        {
            // The agent clears the holder when it stops (LeaseKeeper.ReleaseAsync).
            return new AgentLiveness(AgentState.Gone, "Lease released: the agent stopped", renewed, null);
        }

        if (spec.HolderIdentity != node)
        {
            return new AgentLiveness(AgentState.Gone, $"Lease held by {spec.HolderIdentity}, not by the node's agent", renewed, null);
        }

        if (renewed is not { } at || spec.LeaseDurationSeconds is not { } seconds)
        {
            return new AgentLiveness(AgentState.Unknown, "Lease without renewTime or leaseDurationSeconds", renewed, null);
        }

        var until = at.AddSeconds(seconds);
        return until > Utc(now)
            ? new AgentLiveness(AgentState.Live, "Lease renewed", at, until)
            : new AgentLiveness(AgentState.Gone, "Lease expired", at, until);
    }

    /// <summary>
    /// When the reader cannot judge the Lease itself (<see cref="AgentState.Unknown"/>: the Leases
    /// could not be read, say for want of RBAC on the controller's namespace), the leading
    /// controller's judgment on the IPNode (the label extip.io/agent) stands in for it. Otherwise
    /// the reader's own reading of the Lease wins: the label is only as fresh as the last leader.
    /// </summary>
    public AgentLiveness OrLabel(IDictionary<string, string>? labels)
    {
        var said = labels is not null && labels.TryGetValue(ExtipApi.AgentLabel, out var v) ? v : null;
        var state = said switch
        {
            ExtipApi.AgentLive => AgentState.Live,
            ExtipApi.AgentGone => AgentState.Gone,
            _ => (AgentState?)null,
        };
        return State != AgentState.Unknown || state is not { } s
            ? this
            : this with { State = s, Reason = $"{Reason}; the controller's label {ExtipApi.AgentLabel} says {said}" };
    }

    /// <summary>
    /// Times from the API come as UTC; one with no kind is taken as UTC too, rather than as local
    /// time (which would shift it by the local offset and turn live agents gone or the reverse).
    /// </summary>
    internal static DateTime Utc(DateTime t) => t.Kind switch
    {
        DateTimeKind.Local => t.ToUniversalTime(),
        DateTimeKind.Unspecified => DateTime.SpecifyKind(t, DateTimeKind.Utc),
        _ => t,
    };
}
