namespace Extip.Core.Addresses;

/// <summary>One block of addresses that must never be routed to a Service, and what it is.</summary>
public sealed record ReservedBlock(AddressRange Range, string Kind)
{
    public override string ToString() => $"{Range} ({Kind})";
}

/// <summary>
/// Addresses that are never handed out or accepted as a Service's address, whatever a pool says:
/// a node that put one of them on an interface or announced it would break itself or its segment
/// (issue 11). Network and broadcast addresses of a pool's CIDR are another matter, left to
/// <c>avoidBuggyIPs</c>.
/// </summary>
public static class ReservedAddresses
{
    /// <summary>In address order, IPv4 first.</summary>
    public static IReadOnlyList<ReservedBlock> Blocks { get; } =
    [
        // RFC 1122 §3.2.1.3: 0.0.0.0/8 is "this host on this network", never a destination.
        Block("0.0.0.0/8", "unspecified"),

        // RFC 1122 §3.2.1.3: loopback; a router must not forward it.
        Block("127.0.0.0/8", "loopback"),

        // RFC 3927: link-local, never forwarded.
        Block("169.254.0.0/16", "link-local"),

        // RFC 5771: multicast.
        Block("224.0.0.0/4", "multicast"),

        // RFC 919 §7, RFC 8190: limited broadcast.
        Block("255.255.255.255", "limited broadcast"),

        // RFC 4291 §2.5.2, §2.5.3, §2.5.6, §2.7.
        Block("::", "unspecified"),
        Block("::1", "loopback"),
        Block("fe80::/10", "link-local"),
        Block("ff00::/8", "multicast"),
    ];

    /// <summary>The reserved block that holds the address, or null when it may be used.</summary>
    public static ReservedBlock? Of(Address address)
    {
        foreach (var b in Blocks)
        {
            if (b.Range.Contains(address))
            {
                return b;
            }
        }

        return null;
    }

    /// <summary>
    /// The parts of <paramref name="range"/> outside every reserved block, in address order; the
    /// blocks it touched are added to <paramref name="touched"/>.
    /// </summary>
    public static List<AddressRange> Subtract(AddressRange range, ICollection<ReservedBlock> touched)
    {
        ArgumentNullException.ThrowIfNull(touched);
        var rest = new List<AddressRange>();
        var next = range.First.Value;
        var done = false;
        foreach (var b in Blocks)
        {
            if (done || !b.Range.Overlaps(range) || b.Range.Last.Value < next)
            {
                continue;
            }

            if (!touched.Contains(b))
            {
                touched.Add(b);
            }

            if (b.Range.First.Value > next)
            {
                rest.Add(new AddressRange(new Address(range.Family, next), new Address(range.Family, b.Range.First.Value - 1)));
            }

            if (b.Range.Last.Value >= range.Last.Value)
            {
                done = true;
                continue;
            }

            next = b.Range.Last.Value + 1;
        }

        if (!done)
        {
            rest.Add(new AddressRange(new Address(range.Family, next), range.Last));
        }

        return rest;
    }

    private static ReservedBlock Block(string text, string kind) => new(AddressRange.Parse(text), kind);
}
