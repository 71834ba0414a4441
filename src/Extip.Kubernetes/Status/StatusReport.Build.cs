using System.Net;
using Extip.Core.Text;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Kubernetes.Status;

public sealed partial record StatusReport
{
    /// <summary>The report for these objects at <paramref name="now"/>; every list in a stable order.</summary>
    /// <param name="leases">The agent Leases (others are ignored); null when they could not be read, and liveness is then unknown.</param>
    public static StatusReport Build(
        IEnumerable<IpNode> nodes,
        IEnumerable<IpClaim> claims,
        IEnumerable<V1Service> services,
        IEnumerable<IpPool> pools,
        IEnumerable<BgpPeer> peers,
        IEnumerable<V1Lease>? leases,
        DateTime now)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(pools);
        ArgumentNullException.ThrowIfNull(peers);
        now = AgentLiveness.Utc(now);
        var claimList = claims.OrderBy(c => c.Metadata.Name, StringComparer.Ordinal).ToList();
        var claimByAddress = new Dictionary<string, IpClaim>(StringComparer.Ordinal);
        foreach (var c in claimList)
        {
            claimByAddress.TryAdd(Normal(c.Spec.Address), c);
        }

        var leaseByName = leases?.Where(l => l.Metadata?.Name is not null).GroupBy(l => l.Metadata.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var nodeList = nodes.OrderBy(n => n.Metadata.Name, NaturalOrder.Instance).ToList();
        var nodeReports = nodeList.Select(n => Node(n, AgentLiveness.Of(n.Metadata.Name, leaseByName, now).OrLabel(n.Metadata.Labels), claimByAddress)).ToList();
        var bgpPeers = peers.OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).ToList();
        return new StatusReport(
            now,
            nodeReports,
            ServiceReports(services, claimList, nodeReports),
            PeerReports(nodeList, nodeReports, bgpPeers),
            PoolReports(pools, claimList),
            claimList.Where(c => c.Spec.Nodes.Count == 0).Select(c => c.Spec.Address).Order(StringComparer.Ordinal).ToList());
    }

    private static NodeReport Node(IpNode node, AgentLiveness agent, Dictionary<string, IpClaim> claims)
    {
        var status = node.Status ?? new IpNodeStatusModel();
        var ready = status.Conditions.FirstOrDefault(c => c.Type == "Ready");
        var live = agent.State != AgentState.Gone;

        // The agent's interfaces first, in its order; then the interfaces its extip addresses name
        // and it did not list (missing, or an agent that does not report interfaces).
        var held = status.Addresses.ToLookup(a => (a.Interface, Normal($"{a.Address}/{a.PrefixLength}")));
        var placed = new HashSet<NodeAddressStatus>(ReferenceEqualityComparer.Instance);
        var interfaces = new List<InterfaceReport>();
        foreach (var i in status.Interfaces)
        {
            var addresses = new List<AddressReport>();
            foreach (var a in i.Addresses)
            {
                var mine = held[(i.Name, Normal(a))].FirstOrDefault();
                if (mine is not null)
                {
                    placed.Add(mine);
                }

                addresses.Add(new AddressReport(a, mine is null ? null : Extip(mine, live, claims)));
            }

            // An extip address the agent reports on this interface and the kernel list lacks (Failed, or just removed).
            addresses.AddRange(status.Addresses.Where(h => h.Interface == i.Name && !placed.Contains(h)).Select(h =>
            {
                placed.Add(h);
                return new AddressReport($"{h.Address}/{h.PrefixLength}", Extip(h, live, claims));
            }));
            interfaces.Add(new InterfaceReport(i.Name, i.Up, addresses));
        }

        foreach (var group in status.Addresses.Where(h => !placed.Contains(h)).GroupBy(h => h.Interface, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            interfaces.Add(new InterfaceReport(group.Key, null, group.Select(h => new AddressReport($"{h.Address}/{h.PrefixLength}", Extip(h, live, claims))).ToList()));
        }

        // A gone agent's last Ready is history: not ready, with what it last said kept in the message.
        var (isReady, reason, message) = (ready?.Status == "True", ready?.Reason ?? "Unknown", ready?.Message ?? string.Empty);
        if (!live)
        {
            (isReady, reason, message) = (false, "AgentGone", $"{agent.Reason}; it last reported {reason}" + (message.Length > 0 ? $": {message}" : string.Empty));
        }

        return new NodeReport(node.Metadata.Name, agent, isReady, reason, message, status.LastUpdate, interfaces);
    }

    private static ExtipAddress Extip(NodeAddressStatus a, bool live, Dictionary<string, IpClaim> claims)
    {
        var claim = claims.GetValueOrDefault(Normal(a.Address));
        return new ExtipAddress(
            claim?.Metadata.Name ?? string.Empty,
            a.Mode,
            a.State,
            live && a.State == NodeAddressStatus.HeldState,
            claim?.Spec.Pool,
            claim?.Spec.Owners.Order(StringComparer.Ordinal).ToList() ?? [],
            a.Since,
            a.Message);
    }

    private static List<ServiceReport> ServiceReports(IEnumerable<V1Service> services, List<IpClaim> claims, List<NodeReport> nodes)
    {
        var byNode = nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var reports = new List<ServiceReport>();
        foreach (var svc in services.OrderBy(s => s.Metadata.NamespaceProperty, StringComparer.Ordinal).ThenBy(s => s.Metadata.Name, StringComparer.Ordinal))
        {
            var name = $"{svc.Metadata.NamespaceProperty}/{svc.Metadata.Name}";
            var mine = claims.Where(c => c.Spec.Owners.Contains(name, StringComparer.Ordinal)).OrderBy(c => c.Spec.Address, AddressOrder.Instance).ToList();
            if (mine.Count == 0 && !WantsAddress(svc))
            {
                continue;
            }

            var addresses = mine.Select(c => new ServiceAddress(
                c.Spec.Address,
                c.Spec.Pool,
                c.Spec.Mode,
                c.Spec.Nodes.Order(StringComparer.Ordinal).Select(n => new NodeHold(n, Hold(byNode.GetValueOrDefault(n), c))).ToList())).ToList();
            var problem = mine.Count == 0 ? "no address allocated"
                : addresses.All(a => a.Nodes.Count == 0) ? "no live, eligible node holds its address"
                : null;
            reports.Add(new ServiceReport(name, svc.Spec?.Type ?? "ClusterIP", addresses, problem));
        }

        return reports;
    }

    /// <summary>The Services the controller gives addresses to (Extip.Controller ServiceMapping), whatever the controller's class option.</summary>
    private static bool WantsAddress(V1Service svc) =>
        (svc.Spec?.Type == "LoadBalancer" && (svc.Spec.LoadBalancerClass is null || svc.Spec.LoadBalancerClass == ExtipApi.DefaultLoadBalancerClass))
        || svc.Metadata.Annotations.Value(ExtipApi.ExternalIpAnnotation) == "auto";

    private static string Hold(NodeReport? node, IpClaim claim)
    {
        if (node is null)
        {
            return NodeHold.NotReported;
        }

        if (node.Agent.State == AgentState.Gone)
        {
            return NodeHold.Gone;
        }

        var address = Normal(claim.Spec.Address);
        var found = node.Interfaces.SelectMany(i => i.Addresses).FirstOrDefault(a => a.Extip is not null && Normal(a.Address.Split('/')[0]) == address);
        return found?.Extip?.State ?? NodeHold.NotReported;
    }

    private static List<PeerReport> PeerReports(List<IpNode> nodes, List<NodeReport> reports, List<BgpPeer> peers)
    {
        var byName = peers.ToDictionary(p => p.Metadata.Name, StringComparer.Ordinal);
        var rows = new List<PeerReport>();
        for (var i = 0; i < nodes.Count; i++)
        {
            var stale = reports[i].Agent.State == AgentState.Gone;
            rows.AddRange((nodes[i].Status?.Peers ?? []).OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new PeerReport(
                nodes[i].Metadata.Name, p.Name, p.Address, byName.GetValueOrDefault(p.Name)?.Spec.PeerAsn, p.State, p.Bfd, p.PrefixesAdvertised, p.Since, p.Message, stale)));
        }

        var reported = rows.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        rows.AddRange(peers.Where(p => !reported.Contains(p.Metadata.Name)).Select(p => new PeerReport(
            null, p.Metadata.Name, p.Spec.PeerAddress, p.Spec.PeerAsn, PeerReport.NoSession, null, 0, null, "no agent reports a session with this peer (does its nodeSelector match a node with a live agent?)", false)));
        return rows;
    }

    private static List<PoolReport> PoolReports(IEnumerable<IpPool> pools, List<IpClaim> claims) =>
        pools.OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).Select(p =>
        {
            var status = p.Status ?? new IpPoolStatusModel();
            var ready = status.Conditions.FirstOrDefault(c => c.Type == "Ready");
            var exhausted = status.Conditions.FirstOrDefault(c => c.Type == "Exhausted");
            var problem = p.Status is null ? "no status yet: is the controller running?"
                : ready is { Status: "False" } ? ready.Message
                : exhausted is { Status: "True" } ? exhausted.Message
                : null;
            return new PoolReport(
                p.Metadata.Name,
                p.Spec.Addresses,
                p.Spec.Announce?.Mode ?? "Local",
                status.InUseIPv4,
                status.CapacityIPv4,
                status.InUseIPv6,
                status.CapacityIPv6,
                claims.Count(c => c.Spec.Pool == p.Metadata.Name),
                problem);
        }).ToList();

    /// <summary>An address (or address/prefix) as IPAddress writes it, so that 2001:DB8::1 and 2001:db8::1 match.</summary>
    private static string Normal(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? text : text[..slash];
        var normal = IPAddress.TryParse(address, out var ip) ? ip.ToString() : address;
        return slash < 0 ? normal : normal + text[slash..];
    }

    /// <summary>Addresses in numeric order (IPv4 first), text order for anything unparsable.</summary>
    private sealed class AddressOrder : IComparer<string>
    {
        public static readonly AddressOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            if (IPAddress.TryParse(x, out var a) && IPAddress.TryParse(y, out var b))
            {
                var ba = a.GetAddressBytes();
                var bb = b.GetAddressBytes();
                return ba.Length != bb.Length ? ba.Length.CompareTo(bb.Length) : ba.AsSpan().SequenceCompareTo(bb);
            }

            return string.CompareOrdinal(x, y);
        }
    }
}
