using Extip.Core.Addresses;

namespace Extip.Core.Pools;

/// <summary>A validated pool: its ranges merged and sorted, its masks resolved.</summary>
public sealed class Pool
{
    internal Pool(IpPoolSpec spec, IReadOnlyList<AddressRange> ranges, int order)
    {
        Spec = spec;
        Ranges = ranges;
        Order = order;
        foreach (var r in ranges)
        {
            if (r.Family == IpFamily.IPv4)
            {
                CapacityV4 += r.Count;
            }
            else
            {
                CapacityV6 = UInt128.MaxValue - CapacityV6 < r.Count ? UInt128.MaxValue : CapacityV6 + r.Count;
            }
        }
    }

    public string Name => Spec.Name;

    public IpPoolSpec Spec { get; }

    /// <summary>Disjoint ranges in address order.</summary>
    public IReadOnlyList<AddressRange> Ranges { get; }

    /// <summary>Position in the order pools are tried for automatic allocation.</summary>
    public int Order { get; }

    public UInt128 CapacityV4 { get; }

    public UInt128 CapacityV6 { get; }

    public UInt128 Capacity(IpFamily family) => family == IpFamily.IPv4 ? CapacityV4 : CapacityV6;

    public bool Has(IpFamily family) => Capacity(family) > 0;

    /// <summary>The mask the address gets on the interface: the pool's, else the default given (the controller's <c>--mask</c>, <c>--mask-v6</c>).</summary>
    public int PrefixLength(IpFamily family, int defaultV4 = 32, int defaultV6 = 128) => family == IpFamily.IPv4
        ? Spec.PrefixLength ?? defaultV4
        : Spec.PrefixLengthV6 ?? (CapacityV4 == 0 ? Spec.PrefixLength : null) ?? defaultV6;

    public bool Contains(Address address)
    {
        // Ranges are few and sorted: binary search on the first address.
        int lo = 0, hi = Ranges.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var r = Ranges[mid];
            if (address < r.First)
            {
                hi = mid - 1;
            }
            else if (address > r.Last)
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// May a Service in <paramref name="ns"/> (with those namespace and Service labels) take an
    /// address from this pool at all, requested or automatic.
    /// </summary>
    public bool Serves(string ns, IReadOnlyDictionary<string, string> namespaceLabels, IReadOnlyDictionary<string, string> serviceLabels)
    {
        var sa = Spec.ServiceAllocation;
        if (sa is null)
        {
            return true;
        }

        if (sa.Namespaces.Count > 0 && !sa.Namespaces.Contains(ns))
        {
            return false;
        }

        if (sa.NamespaceSelector is { } nsSel && !nsSel.Matches(namespaceLabels))
        {
            return false;
        }

        return sa.ServiceSelector is not { } svcSel || svcSel.Matches(serviceLabels);
    }

    public override string ToString() => Name;
}
