using Extip.Core.Selectors;

namespace Extip.Core.Scheduling;

/// <summary>A node as the scheduler sees it: its labels, and whether its agent's Lease is live.</summary>
public sealed record NodeInfo(string Name, IReadOnlyDictionary<string, string> Labels, bool AgentLive);

public static class Eligibility
{
    /// <summary>The well-known label that keeps a node out of external load-balancer pools.</summary>
    public const string ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers";

    /// <summary>
    /// The nodes that may hold an address: live agent, matching the pool's node selector, not
    /// excluded by label, and for <c>externalTrafficPolicy: Local</c> only those with a ready endpoint
    /// (anything else would blackhole the traffic).
    /// </summary>
    public static IReadOnlyList<string> EligibleNodes(
        IEnumerable<NodeInfo> nodes,
        LabelSelector? nodeSelector,
        IReadOnlySet<string>? nodesWithReadyEndpoints)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        return nodes
            .Where(n => n.AgentLive
                && !n.Labels.ContainsKey(ExcludeLabel)
                && (nodeSelector is null || nodeSelector.Matches(n.Labels))
                && (nodesWithReadyEndpoints is null || nodesWithReadyEndpoints.Contains(n.Name)))
            .Select(n => n.Name)
            .Order(StringComparer.Ordinal)
            .ToList();
    }
}
