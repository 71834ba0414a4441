namespace Extip.Core.Addresses;

/// <summary>
/// An inclusive range of addresses of one family, written in pools as a CIDR
/// (<c>192.0.2.0/24</c>), a range (<c>192.0.2.10-192.0.2.20</c>) or one address.
/// </summary>
public readonly record struct AddressRange
{
    public AddressRange(Address first, Address last)
    {
        if (first.Family != last.Family)
        {
            throw new ArgumentException($"range {first}-{last} mixes address families");
        }

        if (last < first)
        {
            throw new ArgumentException($"range {first}-{last} is reversed");
        }

        First = first;
        Last = last;
    }

    public Address First { get; }

    public Address Last { get; }

    public IpFamily Family => First.Family;

    /// <summary>Number of addresses in the range; a full IPv6 space does not fit and saturates at UInt128.MaxValue.</summary>
    public UInt128 Count => Last.Value - First.Value == UInt128.MaxValue ? UInt128.MaxValue : Last.Value - First.Value + 1;

    public bool Contains(Address address) =>
        address.Family == Family && address.Value >= First.Value && address.Value <= Last.Value;

    public bool Contains(AddressRange other) =>
        other.Family == Family && other.First.Value >= First.Value && other.Last.Value <= Last.Value;

    public bool Overlaps(AddressRange other) =>
        other.Family == Family && other.First.Value <= Last.Value && First.Value <= other.Last.Value;

    public static AddressRange Single(Address address) => new(address, address);

    public static AddressRange FromCidr(Cidr cidr) => new(cidr.Network, cidr.Broadcast);

    public static AddressRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var range, out var reason) ? range : throw new AddressFormatException(text, reason);
    }

    /// <summary>Parses a CIDR, a <c>first-last</c> range or a single address, the forms a pool accepts.</summary>
    public static bool TryParse(string text, out AddressRange range, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        range = default;
        var t = text.AsSpan().Trim();
        if (t.Contains('/'))
        {
            if (!Cidr.TryParse(t, out var cidr, out reason))
            {
                return false;
            }

            range = FromCidr(cidr);
            return true;
        }

        var dash = t.IndexOf('-');
        if (dash >= 0)
        {
            if (!Address.TryParse(t[..dash].Trim(), out var first, out reason))
            {
                reason = $"range start: {reason}";
                return false;
            }

            if (!Address.TryParse(t[(dash + 1)..].Trim(), out var last, out reason))
            {
                reason = $"range end: {reason}";
                return false;
            }

            if (first.Family != last.Family)
            {
                reason = "range mixes IPv4 and IPv6";
                return false;
            }

            if (last < first)
            {
                reason = $"range is reversed ({last} comes before {first})";
                return false;
            }

            range = new AddressRange(first, last);
            return true;
        }

        if (!Address.TryParse(t, out var single, out reason))
        {
            return false;
        }

        range = Single(single);
        return true;
    }

    public override string ToString() =>
        First == Last ? First.ToString() : Cidr.TryFromRange(this, out var cidr) ? cidr.ToString() : $"{First}-{Last}";
}
