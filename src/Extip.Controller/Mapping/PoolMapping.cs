using Extip.Core.Pools;
using Extip.Core.Selectors;
using Extip.Kubernetes.Models;

namespace Extip.Controller.Mapping;

/// <summary>IPPool objects to the core's pool model, and the controller defaults for what a pool leaves unset.</summary>
internal static class PoolMapping
{
    public static IpPoolSpec ToSpec(IpPool pool) => ToSpec(pool.Metadata, pool.Spec);

    /// <summary>
    /// The core's spec of a pool. What the mapping cannot take (an unknown mode, distribution,
    /// selector field or operator) lands in <see cref="IpPoolSpec.Errors"/>: the pool is invalid,
    /// never widened or defaulted.
    /// </summary>
    public static IpPoolSpec ToSpec(k8s.Models.V1ObjectMeta metadata, IpPoolSpecModel s)
    {
        var errors = new List<string>();
        return new IpPoolSpec
        {
            Name = metadata.Name,
            Addresses = s.Addresses ?? [],
            PrefixLength = s.PrefixLength,
            PrefixLengthV6 = s.PrefixLengthV6,
            AutoAssign = s.AutoAssign ?? true,
            AvoidBuggyIPs = s.AvoidBuggyIPs ?? false,
            AllowExternalIPs = s.AllowExternalIPs ?? false,
            CreatedAt = metadata.CreationTimestamp is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null,
            ServiceAllocation = s.ServiceAllocation is { } sa
                ? new ServiceAllocationSpec
                {
                    Priority = sa.Priority,
                    Namespaces = sa.Namespaces ?? [],
                    NamespaceSelector = sa.NamespaceSelector?.ToSelector("spec.serviceAllocation.namespaceSelector", errors),
                    ServiceSelector = sa.ServiceSelector?.ToSelector("spec.serviceAllocation.serviceSelector", errors),
                }
                : null,
            Announce = new AnnounceSpec
            {
                Mode = Named<AnnounceMode>(s.Announce?.Mode, "spec.announce.mode", errors),
                Interface = s.Announce?.Interface,
                Distribution = Named<Distribution>(s.Announce?.Distribution, "spec.announce.distribution", errors),
                NodesPerAddress = s.Announce?.NodesPerAddress,
                NodeSelector = s.Announce?.NodeSelector?.ToSelector("spec.announce.nodeSelector", errors),
                Communities = s.Announce?.Communities ?? [],
                LocalPreference = s.Announce?.LocalPreference,
            },
            Errors = errors,
        };
    }

    /// <summary>An enum value spelled exactly as its name; anything else is an error (Enum.TryParse also takes "1").</summary>
    private static T? Named<T>(string? text, string field, List<string> errors)
        where T : struct, Enum
    {
        if (text is null)
        {
            return null;
        }

        foreach (var v in Enum.GetValues<T>())
        {
            if (v.ToString() == text)
            {
                return v;
            }
        }

        errors.Add($"{field}: \"{text}\" is not one of {string.Join(", ", Enum.GetNames<T>())}");
        return null;
    }
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
