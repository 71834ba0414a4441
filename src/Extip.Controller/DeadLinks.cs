using Extip.Core.Pools;
using Extip.Kubernetes.Models;

namespace Extip.Controller;

/// <summary>
/// A dead link is a dead node, for the claims that need the link, even while the node's agent
/// renews its Lease (over a management network, say): the nodes whose agent reports (IPNode
/// status) the claim's interface down (operationally: administratively down or without carrier),
/// and for BGP-mode claims, the nodes that have BGP peers and no session up while another node
/// has one (its uplink is dead; when every node's sessions are down, it is the router, and
/// nothing moves).
/// </summary>
internal static class DeadLinks
{
    /// <summary>Per node, why it may not hold an address announced on <paramref name="iface"/> in <paramref name="mode"/>; nodes not listed may.</summary>
    public static Dictionary<string, string> Judge(IEnumerable<IpNode> ipNodes, IReadOnlyCollection<string> live, string iface, AnnounceMode mode)
    {
        ArgumentNullException.ThrowIfNull(ipNodes);
        ArgumentNullException.ThrowIfNull(live);
        var dead = new Dictionary<string, string>(StringComparer.Ordinal);
        var statuses = ipNodes.Where(n => n.Status is not null && live.Contains(n.Metadata.Name)).ToList();
        var someSessionUp = statuses.Any(n => n.Status!.Peers.Any(Established));
        foreach (var n in statuses)
        {
            var status = n.Status!;
            if (iface != "lo" && status.Interfaces.FirstOrDefault(i => i.Name == iface) is { Up: false })
            {
                dead[n.Metadata.Name] = $"its interface {iface} is down";
            }
            else if (mode == AnnounceMode.BGP && someSessionUp && status.Peers.Count > 0 && !status.Peers.Any(Established))
            {
                dead[n.Metadata.Name] = $"none of its {status.Peers.Count} BGP sessions is up (other nodes' are)";
            }
        }

        return dead;
    }

    private static bool Established(PeerStatus p) => p.State == "Established";
}
