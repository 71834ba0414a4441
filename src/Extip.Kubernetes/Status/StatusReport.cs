using Extip.Kubernetes.Models;

namespace Extip.Kubernetes.Status;

/// <summary>One address on one node, as the node's agent reports it.</summary>
public sealed record AddressRow(string Node, string Address, string Interface, string Mode, string State, string Owners, DateTime? Since, string? Message);

/// <summary>One BGP session of one node.</summary>
public sealed record PeerRow(string Node, string Name, string Address, string State, string Bfd, int Prefixes, string? Message);

/// <summary>A node: whether its agent says it is ready, and why not.</summary>
public sealed record NodeRow(string Node, bool Ready, string Reason, string Message, int Addresses, int Peers, DateTime? LastUpdate);

/// <summary>
/// What `extip status` shows (the seed's <c>netshow l3</c> across the cluster): per node, the
/// addresses its agent holds and the sessions it keeps, with the claims' owners beside them.
/// Pure: built from the IPNode and IPClaim objects, in a stable order.
/// </summary>
public sealed record StatusReport(IReadOnlyList<NodeRow> Nodes, IReadOnlyList<AddressRow> Addresses, IReadOnlyList<PeerRow> Peers, IReadOnlyList<string> Unplaced)
{
    public static StatusReport Build(IEnumerable<IpNode> nodes, IEnumerable<IpClaim> claims)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(claims);
        var claimList = claims.ToList();
        var owners = claimList.ToDictionary(c => c.Spec.Address, c => string.Join(",", c.Spec.Owners), StringComparer.Ordinal);
        var nodeRows = new List<NodeRow>();
        var addresses = new List<AddressRow>();
        var peers = new List<PeerRow>();
        foreach (var n in nodes.OrderBy(n => n.Metadata.Name, StringComparer.Ordinal))
        {
            var name = n.Metadata.Name;
            var status = n.Status ?? new IpNodeStatusModel();
            var ready = status.Conditions.FirstOrDefault(c => c.Type == "Ready");
            nodeRows.Add(new NodeRow(name, ready?.Status == "True", ready?.Reason ?? "Unknown", ready?.Message ?? string.Empty, status.Addresses.Count, status.Peers.Count, status.LastUpdate));
            addresses.AddRange(status.Addresses.Select(a => new AddressRow(name, $"{a.Address}/{a.PrefixLength}", a.Interface, a.Mode, a.State, owners.GetValueOrDefault(a.Address, string.Empty), a.Since, a.Message)));
            peers.AddRange(status.Peers.Select(p => new PeerRow(name, p.Name, p.Address, p.State, p.Bfd ?? "-", p.PrefixesAdvertised, p.Message)));
        }

        // Claims that name no node (no live agent is eligible): the address is allocated but nowhere.
        var unplaced = claimList.Where(c => c.Spec.Nodes.Count == 0).Select(c => c.Spec.Address).Order(StringComparer.Ordinal).ToList();
        return new StatusReport(nodeRows, addresses, peers, unplaced);
    }
}
