using Extip.Core.Pools;
using Extip.Core.Selectors;
using Extip.Kubernetes.Models;

namespace Extip.Controller.Mapping;

/// <summary>IPPool objects to the core's pool model, and the controller defaults for what a pool leaves unset.</summary>
internal static class PoolMapping
{
    public static IpPoolSpec ToSpec(IpPool pool)
    {
        var s = pool.Spec;
        return new IpPoolSpec
        {
            Name = pool.Metadata.Name,
            Addresses = s.Addresses ?? [],
            PrefixLength = s.PrefixLength,
            PrefixLengthV6 = s.PrefixLengthV6,
            AutoAssign = s.AutoAssign ?? true,
            AvoidBuggyIPs = s.AvoidBuggyIPs ?? false,
            AllowExternalIPs = s.AllowExternalIPs ?? false,
            CreatedAt = pool.Metadata.CreationTimestamp is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null,
            ServiceAllocation = s.ServiceAllocation is { } sa
                ? new ServiceAllocationSpec
                {
                    Priority = sa.Priority,
                    Namespaces = sa.Namespaces ?? [],
                    NamespaceSelector = Selector(sa.NamespaceSelector),
                    ServiceSelector = Selector(sa.ServiceSelector),
                }
                : null,
            Announce = new AnnounceSpec
            {
                Mode = Enum.TryParse<AnnounceMode>(s.Announce?.Mode, out var m) ? m : null,
                Interface = s.Announce?.Interface,
                Distribution = Enum.TryParse<Distribution>(s.Announce?.Distribution, out var d) ? d : null,
                NodesPerAddress = s.Announce?.NodesPerAddress,
                NodeSelector = Selector(s.Announce?.NodeSelector),
                Communities = s.Announce?.Communities ?? [],
                LocalPreference = s.Announce?.LocalPreference,
            },
        };
    }

    public static LabelSelector? Selector(LabelSelectorModel? m) => m is null ? null : new LabelSelector
    {
        MatchLabels = m.MatchLabels ?? [],
        MatchExpressions = (m.MatchExpressions ?? []).Select(e => new SelectorRequirement(
            e.Key,
            Enum.TryParse<SelectorOperator>(e.Operator, out var op) ? op : SelectorOperator.In,
            e.Values ?? [])).ToList(),
    };
}

/// <summary>How one pool's addresses are announced, with the controller defaults filled in.</summary>
internal sealed record Announcement(AnnounceMode Mode, string Interface, Distribution Distribution, int NodesPerAddress, LabelSelector? NodeSelector, IReadOnlyList<string> Communities, uint? LocalPreference)
{
    public static Announcement Of(Pool? pool, ControllerOptions o)
    {
        var a = pool?.Spec.Announce ?? new AnnounceSpec();
        var mode = a.Mode ?? o.Mode;

        // On a shared segment one node answers for an address: two would make neighbours flap
        // between their MACs. So an L2 address lives on exactly one node, whatever the distribution.
        var l2 = mode == AnnounceMode.L2;
        return new Announcement(
            mode,
            a.Interface ?? o.Interface,
            l2 ? Distribution.Balance : a.Distribution ?? o.Distribution,
            l2 ? 1 : a.NodesPerAddress ?? o.NodesPerAddress,
            a.NodeSelector,
            a.Communities,
            a.LocalPreference);
    }
}
