using Extip.Core.Selectors;

namespace Extip.Core.Pools;

/// <summary>How the nodes that hold an address make the network send its traffic to them.</summary>
public enum AnnounceMode
{
    /// <summary>Routes announced over BGP; ECMP when several nodes hold the address.</summary>
    BGP,

    /// <summary>Address answered on a broadcast segment; gratuitous ARP / unsolicited NA on takeover.</summary>
    L2,

    /// <summary>Address only put on the interface (the seed's ECMP-on-lo with external routing).</summary>
    Local,
}

/// <summary>The seed's <c>extip_distribution</c>: every eligible node, or a balanced subset.</summary>
public enum Distribution
{
    /// <summary>Every eligible node holds the address (ECMP).</summary>
    All,

    /// <summary><c>nodesPerAddress</c> nodes per address, spread evenly, moving as little as possible.</summary>
    Balance,
}

/// <summary>Where the addresses of a pool live and how they are announced. Unset fields take the controller defaults.</summary>
public sealed record AnnounceSpec
{
    public AnnounceMode? Mode { get; init; }

    /// <summary>The seed's <c>extip_iface</c>.</summary>
    public string? Interface { get; init; }

    public Distribution? Distribution { get; init; }

    public int? NodesPerAddress { get; init; }

    public LabelSelector? NodeSelector { get; init; }

    /// <summary>BGP communities, <c>65000:100</c> (RFC 1997) or <c>65000:1:2</c> (RFC 8092 large).</summary>
    public IReadOnlyList<string> Communities { get; init; } = [];

    public uint? LocalPreference { get; init; }
}

/// <summary>Which Services may take addresses from a pool, and in what order pools are tried.</summary>
public sealed record ServiceAllocationSpec
{
    /// <summary>Lower numbers are tried first; pools without a priority come after those with one.</summary>
    public int? Priority { get; init; }

    public IReadOnlyList<string> Namespaces { get; init; } = [];

    public LabelSelector? NamespaceSelector { get; init; }

    public LabelSelector? ServiceSelector { get; init; }
}

/// <summary>An IPPool as the user writes it (DESIGN.md, "Resources").</summary>
public sealed record IpPoolSpec
{
    public required string Name { get; init; }

    /// <summary>CIDRs, <c>first-last</c> ranges or single addresses, IPv4 and IPv6.</summary>
    public IReadOnlyList<string> Addresses { get; init; } = [];

    /// <summary>Mask put on the interface for IPv4 addresses (for IPv6 too when the pool has no IPv4); the seed's <c>extip_mask</c>.</summary>
    public int? PrefixLength { get; init; }

    /// <summary>Mask for IPv6 addresses in a pool that has both families.</summary>
    public int? PrefixLengthV6 { get; init; }

    public bool AutoAssign { get; init; } = true;

    public bool AvoidBuggyIPs { get; init; }

    /// <summary>May <c>spec.externalIPs</c> of a Service use addresses of this pool (CVE-2020-8554 guard).</summary>
    public bool AllowExternalIPs { get; init; }

    public ServiceAllocationSpec? ServiceAllocation { get; init; }

    public AnnounceSpec Announce { get; init; } = new();

    /// <summary>
    /// What turning the API object into this spec found wrong (an unknown enum value or selector
    /// operator), each naming the field and the value: the pool is invalid, never defaulted.
    /// </summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>Decides which of two overlapping pools wins: the older one.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
}
