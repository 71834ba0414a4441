using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Controller;

/// <summary>
/// Which agents are alive: an agent renews a Lease named extip-agent-NODE; it is live while its
/// renewTime plus leaseDurationSeconds is in the future and it has a holder (an agent that shuts
/// down clears the holder, so its node is dropped at once).
/// </summary>
internal static class AgentLiveness
{
    public static bool IsAgentLease(V1Lease l) => l.Metadata.Name.StartsWith(ExtipApi.AgentLeasePrefix, StringComparison.Ordinal);

    public static string NodeOf(V1Lease l) => string.IsNullOrEmpty(l.Spec?.HolderIdentity) ? l.Metadata.Name[ExtipApi.AgentLeasePrefix.Length..] : l.Spec.HolderIdentity;

    /// <summary>When the lease stops counting, or null when it does not count now.</summary>
    public static DateTimeOffset? LiveUntil(V1Lease l, DateTimeOffset now)
    {
        if (!IsAgentLease(l) || string.IsNullOrEmpty(l.Spec?.HolderIdentity) || l.Spec.RenewTime is not { } renew || l.Spec.LeaseDurationSeconds is not { } seconds)
        {
            return null;
        }

        var until = new DateTimeOffset(DateTime.SpecifyKind(renew, DateTimeKind.Utc)).AddSeconds(seconds);
        return until > now ? until : null;
    }
}
