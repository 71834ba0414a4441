using Extip.Core.Addresses;

namespace Extip.Core.Allocation;

public enum RefusalReason
{
    MalformedAddress,
    NoSuchPool,
    PoolNotAllowed,
    AddressNotInPool,
    AddressInUse,
    SharingConflict,
    PoolExhausted,
    NoPoolAvailable,
    FamilyUnavailable,
    InvalidRequest,
    ExternalIPNotAllowed,

    /// <summary>The address is unspecified, loopback, link-local, multicast or broadcast (<see cref="ReservedAddresses"/>).</summary>
    ReservedAddress,
}

/// <summary>Why an address was not given: the reason, the value concerned, and a message naming both.</summary>
public sealed record Refusal(RefusalReason Reason, string Value, string Message)
{
    /// <summary>The field of the Service the refused value comes from, when it is <c>spec.externalIPs</c>.</summary>
    public string? Field { get; init; }

    public override string ToString() => $"{Reason}: {Message}";
}

/// <summary>An address a Service holds, the pool it comes from (none for an external IP outside every pool) and the interface mask.</summary>
public readonly record struct Assignment(Address Address, string? Pool, int PrefixLength)
{
    public override string ToString() => Pool is null ? Address.ToString() : $"{Address} ({Pool})";
}

public sealed record AllocationResult(
    IReadOnlyList<Assignment> LoadBalancer,
    IReadOnlyList<Assignment> ExternalIPs,
    IReadOnlyList<Refusal> Refusals,
    bool Changed)
{
    public bool Ok => Refusals.Count == 0;

    /// <summary>Services that lost an address to this one's explicit request: they are to be assigned again.</summary>
    public IReadOnlyList<ServiceKey> Displaced { get; init; } = [];
}

/// <summary>What <c>spec.externalIPs</c> may use (the guard against CVE-2020-8554).</summary>
public enum ExternalIpPolicy
{
    /// <summary>Only addresses inside pools that set <c>allowExternalIPs</c> and serve the Service.</summary>
    Pools,

    /// <summary>Any address; still never one another Service holds without a compatible sharing key.</summary>
    Any,

    /// <summary>None.</summary>
    Deny,
}

public sealed record AllocatorOptions
{
    public ExternalIpPolicy ExternalIPs { get; init; } = ExternalIpPolicy.Pools;

    /// <summary>How long a deleted Service's addresses are kept for a Service recreated under the same namespace/name.</summary>
    public TimeSpan StickyGrace { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The mask of IPv4 addresses whose pool sets no prefixLength, and of addresses in no pool (the seed's extip_mask).</summary>
    public int Mask { get; init; } = 32;

    /// <summary>The same for IPv6.</summary>
    public int MaskV6 { get; init; } = 128;
}

/// <summary>Use of one pool by family: addresses held by Services, and addresses kept for recently deleted ones (sticky).</summary>
public sealed record PoolUsage(string Pool, UInt128 CapacityV4, long InUseV4, UInt128 CapacityV6, long InUseV6)
{
    public long ReservedV4 { get; init; }

    public long ReservedV6 { get; init; }

    public bool ExhaustedV4 => CapacityV4 > 0 && (UInt128)(InUseV4 + ReservedV4) >= CapacityV4;

    public bool ExhaustedV6 => CapacityV6 > 0 && (UInt128)(InUseV6 + ReservedV6) >= CapacityV6;
}

/// <summary>One held address: its pool (none for an external IP outside every pool), mask and holders.</summary>
public sealed record HeldAddress(Address Address, string? Pool, int PrefixLength, IReadOnlyList<ServiceKey> Holders);
