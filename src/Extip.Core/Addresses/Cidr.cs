using System.Globalization;

namespace Extip.Core.Addresses;

/// <summary>A network prefix such as 192.0.2.0/24. Host bits must be zero.</summary>
public readonly record struct Cidr
{
    public Cidr(Address network, int prefixLength)
    {
        if (prefixLength < 0 || prefixLength > network.Bits)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, $"prefix length must be 0-{network.Bits} for {network.Family}");
        }

        if ((network.Value & ~Mask(network.Family, prefixLength)) != 0)
        {
            throw new ArgumentException($"{network}/{prefixLength} has host bits set");
        }

        Network = network;
        PrefixLength = prefixLength;
    }

    public Address Network { get; }

    public int PrefixLength { get; }

    public IpFamily Family => Network.Family;

    public Address Broadcast => new(Family, Network.Value | (~Mask(Family, PrefixLength) & Address.MaxValue(Family)));

    /// <summary>The network mask as a number in the family's width.</summary>
    public static UInt128 Mask(IpFamily family, int prefixLength)
    {
        var bits = family.Bits();
        if (prefixLength == 0)
        {
            return UInt128.Zero;
        }

        var all = Address.MaxValue(family);
        return (all << (bits - prefixLength)) & all;
    }

    public bool Contains(Address address) =>
        address.Family == Family && (address.Value & Mask(Family, PrefixLength)) == Network.Value;

    public static Cidr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var cidr, out var reason) ? cidr : throw new AddressFormatException(text, reason);
    }

    public static bool TryParse(ReadOnlySpan<char> text, out Cidr cidr, out string reason)
    {
        cidr = default;
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            reason = "missing /prefix-length";
            return false;
        }

        if (!Address.TryParse(text[..slash], out var network, out reason))
        {
            return false;
        }

        var lenText = text[(slash + 1)..];
        if (lenText.IsEmpty || lenText.Length > 3 || (lenText.Length > 1 && lenText[0] == '0')
            || !int.TryParse(lenText, NumberStyles.None, CultureInfo.InvariantCulture, out var len))
        {
            reason = $"prefix length \"{lenText}\" is not a number";
            return false;
        }

        if (len > network.Bits)
        {
            reason = $"prefix length {len} is out of range 0-{network.Bits} for {network.Family}";
            return false;
        }

        var mask = Mask(network.Family, len);
        if ((network.Value & ~mask & Address.MaxValue(network.Family)) != 0)
        {
            var fixedNet = new Address(network.Family, network.Value & mask);
            reason = $"host bits are set (the network is {fixedNet}/{len})";
            return false;
        }

        cidr = new Cidr(network, len);
        reason = string.Empty;
        return true;
    }

    /// <summary>True when the range is exactly one prefix.</summary>
    public static bool TryFromRange(AddressRange range, out Cidr cidr)
    {
        cidr = default;
        var size = range.Last.Value - range.First.Value;
        if (size == UInt128.MaxValue)
        {
            cidr = new Cidr(range.First, 0);
            return true;
        }

        size += 1;
        if (!UInt128.IsPow2(size))
        {
            return false;
        }

        var hostBits = (int)UInt128.Log2(size);
        var len = range.Family.Bits() - hostBits;
        if ((range.First.Value & ~Mask(range.Family, len) & Address.MaxValue(range.Family)) != 0)
        {
            return false;
        }

        cidr = new Cidr(range.First, len);
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Network}/{PrefixLength}");
}
