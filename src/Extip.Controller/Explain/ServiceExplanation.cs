using Extip.Controller.Mapping;
using Extip.Core.Addresses;
using Extip.Core.Pools;
using Extip.Core.Scheduling;
using Extip.Core.Text;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Controller.Explain;

/// <summary>One pool as seen from one Service: does it serve it, was it chosen, and why.</summary>
public sealed record PoolVerdict(string Pool, bool Serves, bool Chosen, string Why);

/// <summary>One node as seen from one claim: may it hold the address, does it, and why.</summary>
public sealed record NodeVerdict(string Node, bool Eligible, bool Holds, string Why, string? AddressState, IReadOnlyList<string> Peers);

/// <summary>One address of the Service: its claim, how it is announced, and each node's part.</summary>
public sealed record AddressExplanation(string Address, string? Claim, string? Pool, string? Mode, string? Distribution, string? Interface, IReadOnlyList<NodeVerdict> Nodes);

/// <summary>
/// <c>extip explain</c>: the whole decision chain for one Service, from the API objects alone (a
/// pure function of them, so it is tested without a cluster): whether extip handles it, which
/// pools serve it and which was chosen, each address's claim, which nodes may hold it and why
/// not the others, what the holding agents report (address state, BGP sessions), and the one
/// <see cref="Cause"/> a user should look at first.
/// </summary>
public sealed record ServiceExplanation(
    string Service,
    string Type,
    string TrafficPolicy,
    bool Handled,
    IReadOnlyList<PoolVerdict> Pools,
    IReadOnlyList<AddressExplanation> Addresses,
    IReadOnlyList<string> Warnings,
    string Cause,
    bool Ok)
{
    /// <summary>
    /// What the network does with the Service's addresses, where the explainer can look (in the
    /// lab: the router's route or neighbour entry); empty elsewhere.
    /// </summary>
    public IReadOnlyList<string> Network { get; init; } = [];

    /// <summary>What the explanation reads.</summary>
    public sealed record Inputs
    {
        public required V1Service Service { get; init; }

        public IReadOnlyDictionary<string, string> NamespaceLabels { get; init; } = new Dictionary<string, string>();

        public IReadOnlyList<IpPool> Pools { get; init; } = [];

        public IReadOnlyList<IpClaim> Claims { get; init; } = [];

        public IReadOnlyList<IpNode> IpNodes { get; init; } = [];

        public IReadOnlyList<V1Node> Nodes { get; init; } = [];

        public IReadOnlyList<V1EndpointSlice> EndpointSlices { get; init; } = [];

        public IReadOnlyList<Corev1Event> Events { get; init; } = [];

        /// <summary>The controller's defaults for what a pool leaves unset, and its loadBalancerClass.</summary>
        public ControllerOptions Controller { get; init; } = new();

        /// <summary>What could not be read (RBAC said no, or the server does not serve it): the explanation says so rather than taking it for empty.</summary>
        public IReadOnlyList<string> Unreadable { get; init; } = [];
    }

    public static ServiceExplanation Build(Inputs input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var svc = input.Service;
        var o = input.Controller;
        var key = $"{svc.Metadata.NamespaceProperty}/{svc.Metadata.Name}";
        var type = svc.Spec?.Type ?? "ClusterIP";
        var policy = svc.Spec?.ExternalTrafficPolicy ?? "Cluster";
        var warnings = input.Events
            .Where(e => e.Type == "Warning")
            .OrderByDescending(e => e.LastTimestamp ?? e.EventTime ?? e.Metadata.CreationTimestamp)
            .Select(e => $"{e.Reason}: {e.Message}")
            .Distinct(StringComparer.Ordinal)
            .Take(5)
            .ToList() as IReadOnlyList<string>;

        if (!ServiceMapping.IsOurs(svc, o))
        {
            var why = type != "LoadBalancer"
                ? $"it is of type {type}, has no spec.externalIPs and no {ExtipApi.ExternalIpAnnotation}: auto annotation"
                : $"its loadBalancerClass is {svc.Spec?.LoadBalancerClass}, not {o.LoadBalancerClass}";
            return new ServiceExplanation(key, type, policy, false, [], [], warnings, $"extip does not handle Service {key}: {why}", false);
        }

        var specs = input.Pools.Select(PoolMapping.ToSpec).ToList();
        var set = PoolSet.Build(specs);
        var request = ServiceMapping.ToRequest(svc, input.NamespaceLabels, [], o);
        var assigned = (svc.Metadata.Annotations.Value(ExtipApi.AssignedPoolAnnotation) ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var families = request.Families.Count > 0 ? request.Families : [IpFamily.IPv4];
        var pools = input.Pools.Select(p => Judge(p, set, request, families, assigned)).ToList();

        var addresses = (svc.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip)
            .Concat(ServiceMapping.Allocated(svc))
            .Concat(svc.Spec?.ExternalIPs ?? [])
            .Where(a => !string.IsNullOrEmpty(a)).Distinct(StringComparer.Ordinal).ToList();
        var explained = addresses.Select(a => ExplainAddress(a, input, set)).ToList();

        var cause = FirstCause(key, pools, explained, warnings, out var ok);
        if (input.Unreadable.Count > 0)
        {
            var missing = $"could not read {string.Join(", ", input.Unreadable)}";
            warnings = [$"{missing}: this explanation leaves them out", .. warnings];
            if (!ok)
            {
                cause = $"{missing}, so this may be wrong: {cause}";
            }
        }

        return new ServiceExplanation(key, type, policy, true, pools, explained, warnings, cause, ok);
    }

    private static PoolVerdict Judge(IpPool p, PoolSet set, Core.Allocation.ServiceRequest request, IReadOnlyList<IpFamily> families, HashSet<string> assigned)
    {
        var name = p.Metadata.Name;
        if (!set.ByName.TryGetValue(name, out var pool))
        {
            var problem = set.Problems.FirstOrDefault(x => x.Pool == name)?.Message ?? "not usable";
            return new PoolVerdict(name, false, false, $"not in service: {problem}");
        }

        if (assigned.Contains(name))
        {
            return new PoolVerdict(name, true, true, "chosen: the Service's address comes from it");
        }

        if (!pool.Serves(request.Key.Namespace, request.NamespaceLabels, request.Labels))
        {
            var sa = pool.Spec.ServiceAllocation!;
            var why = sa.Namespaces.Count > 0 && !sa.Namespaces.Contains(request.Key.Namespace)
                ? $"serves namespaces {string.Join(", ", sa.Namespaces)}, not {request.Key.Namespace}"
                : sa.NamespaceSelector is { } ns && !ns.Matches(request.NamespaceLabels)
                    ? $"its namespaceSelector does not match namespace {request.Key.Namespace}'s labels"
                    : "its serviceSelector does not match the Service's labels";
            return new PoolVerdict(name, false, false, why);
        }

        if (request.RequestedPool is { } wanted && wanted != name)
        {
            return new PoolVerdict(name, false, false, $"the Service asks for pool {wanted} ({ExtipApi.PoolAnnotation})");
        }

        if (!families.Any(pool.Has))
        {
            return new PoolVerdict(name, false, false, $"has no {string.Join(" or ", families)} addresses");
        }

        if (!pool.Spec.AutoAssign && request.RequestedPool != name && request.RequestedAddresses.Count == 0)
        {
            return new PoolVerdict(name, false, false, $"autoAssign is false and the Service names neither it ({ExtipApi.PoolAnnotation}) nor an address");
        }

        var status = p.Status;
        if (status is not null && families.All(f => Exhausted(status, f)))
        {
            return new PoolVerdict(name, true, false, $"serves the Service but is exhausted ({status.InUseIPv4 + status.InUseIPv6} addresses in use)");
        }

        var priority = pool.Spec.ServiceAllocation?.Priority is { } pr ? $"priority {pr}" : "no priority";
        return new PoolVerdict(name, true, false, $"serves the Service ({priority}; pools are tried by priority, then age)");
    }

    private static bool Exhausted(IpPoolStatusModel s, IpFamily f)
    {
        var (capacity, inUse, reserved) = f == IpFamily.IPv4 ? (s.CapacityIPv4, s.InUseIPv4, s.ReservedIPv4) : (s.CapacityIPv6, s.InUseIPv6, s.ReservedIPv6);
        return UInt128.TryParse(capacity, out var c) && (UInt128)(ulong)(inUse + reserved) >= c;
    }

    private static AddressExplanation ExplainAddress(string address, Inputs input, PoolSet set)
    {
        var claim = Address.TryParse(address, out var parsed) ? input.Claims.FirstOrDefault(c => c.Metadata.Name == parsed.ToName()) : null;
        if (claim is null)
        {
            return new AddressExplanation(address, null, null, null, null, null, []);
        }

        var spec = claim.Spec;
        var pool = spec.Pool is { } pn ? set.ByName.GetValueOrDefault(pn) : null;
        var selector = pool?.Spec.Announce?.NodeSelector;
        var local = input.Service.Spec?.ExternalTrafficPolicy == "Local";
        var withEndpoints = input.EndpointSlices
            .SelectMany(s => s.Endpoints ?? [])
            .Where(e => e.Conditions?.Ready != false && e.NodeName is not null)
            .Select(e => e.NodeName!)
            .ToHashSet(StringComparer.Ordinal);
        var names = input.IpNodes.Select(n => n.Metadata.Name).Concat(input.Nodes.Select(n => n.Metadata.Name)).Concat(spec.Nodes)
            .Distinct(StringComparer.Ordinal).Order(NaturalOrder.Instance);
        var verdicts = new List<NodeVerdict>();
        foreach (var node in names)
        {
            var ipNode = input.IpNodes.FirstOrDefault(n => n.Metadata.Name == node);
            var k8sNode = input.Nodes.FirstOrDefault(n => n.Metadata.Name == node);
            IReadOnlyDictionary<string, string> labels = k8sNode?.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>();
            var holds = spec.Nodes.Contains(node);
            var why = ipNode is null ? "no extip agent runs there (no IPNode)"
                : ipNode.Metadata.Labels.Value(ExtipApi.AgentLabel) is { } live && live != ExtipApi.AgentLive ? $"its agent is not live (the controller says {live}: its Lease ran out)"
                : labels.ContainsKey(Eligibility.ExcludeLabel) ? $"excluded by the label {Eligibility.ExcludeLabel}"
                : k8sNode?.Spec?.Taints?.Any(t => t.Key == NodeSignals.OutOfServiceTaint) == true ? $"tainted {NodeSignals.OutOfServiceTaint}"
                : k8sNode?.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status is { } ready && ready != "True" ? $"its Ready condition is {ready} (it holds nothing once that lasts --not-ready-grace)"
                : selector is not null && !selector.Matches(labels) ? $"does not match pool {spec.Pool}'s node selector"
                : local && !withEndpoints.Contains(node) ? "no ready endpoint of the Service there (externalTrafficPolicy: Local)"
                : null;
            var eligible = why is null || why.StartsWith("its Ready", StringComparison.Ordinal);
            var held = ipNode?.Status?.Addresses?.FirstOrDefault(a => a.Address == spec.Address);
            var state = held is null ? null : held.Message is { Length: > 0 } m ? $"{held.State}: {m}" : held.State;
            var peers = (ipNode?.Status?.Peers ?? []).Select(p => $"{p.Name} ({p.Address}): {p.State}").ToList();
            why ??= holds
                ? state is null ? "chosen; its agent has not reported the address yet" : $"holds it ({state})"
                : $"eligible, not chosen ({spec.Distribution}: {(spec.Distribution == "All" ? "every eligible node" : "one node per address")})";
            if (holds && !eligible)
            {
                why = $"named by the claim, but {why}";
            }

            verdicts.Add(new NodeVerdict(node, eligible, holds, why, state, holds ? peers : []));
        }

        return new AddressExplanation(address, claim.Metadata.Name, spec.Pool, spec.Mode, spec.Distribution, spec.Interface, verdicts);
    }

    private static string FirstCause(string key, IReadOnlyList<PoolVerdict> pools, IReadOnlyList<AddressExplanation> addresses, IReadOnlyList<string> warnings, out bool ok)
    {
        ok = false;
        if (addresses.Count == 0)
        {
            if (pools.Count == 0)
            {
                return $"no IPPool exists: Service {key} can get no address";
            }

            if (!pools.Any(p => p.Serves))
            {
                return $"no pool serves Service {key}: " + string.Join("; ", pools.Select(p => $"{p.Pool} {p.Why}"));
            }

            if (pools.Where(p => p.Serves).All(p => p.Why.Contains("exhausted", StringComparison.Ordinal)))
            {
                return $"every pool that serves Service {key} is exhausted: " + string.Join("; ", pools.Where(p => p.Serves).Select(p => $"{p.Pool} {p.Why}"));
            }

            return warnings.Count > 0 ? $"no address yet; the controller said {warnings[0]}" : "no address yet: the controller has not decided (is it running and leading?)";
        }

        foreach (var a in addresses)
        {
            if (a.Claim is null)
            {
                return $"{a.Address} has no IPClaim yet: the controller has not placed it (is it running and leading?)";
            }

            var holders = a.Nodes.Where(n => n.Holds).ToList();
            if (holders.Count == 0)
            {
                // Nodes with the same reason together: eleven nodes, two reasons, two clauses.
                return $"{a.Address} is on no node: no node may hold it: " + string.Join("; ", a.Nodes.GroupBy(n => n.Why, StringComparer.Ordinal).Select(g => $"{string.Join(", ", g.Select(n => n.Node))}: {g.Key}"));
            }

            if (holders.FirstOrDefault(n => !n.Eligible) is { } stale)
            {
                return $"{a.Address}: {stale.Node} {stale.Why} (is the controller running and leading? it moves such claims)";
            }

            if (holders.FirstOrDefault(n => n.AddressState?.StartsWith(NodeAddressStatus.HeldState, StringComparison.Ordinal) != true) is { } waiting)
            {
                return $"{a.Address} is not held by {waiting.Node} yet: {waiting.Why}";
            }

            if (a.Mode == "BGP" && holders.All(n => !n.Peers.Any(p => p.EndsWith(": Established", StringComparison.Ordinal))))
            {
                var peers = holders.SelectMany(n => n.Peers.Select(p => $"{n.Node} → {p}")).ToList();
                return $"{a.Address} is held but announced to no router: " + (peers.Count == 0 ? "no BGP session on its nodes (no BGPPeer selects them?)" : string.Join("; ", peers));
            }
        }

        ok = true;
        return string.Join("; ", addresses.Select(a => $"{a.Address} held by {string.Join(", ", a.Nodes.Where(n => n.Holds).Select(n => n.Node))}" + (a.Mode == "BGP" ? " and announced" : string.Empty)));
    }
}
