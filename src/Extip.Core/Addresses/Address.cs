using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace Extip.Core.Addresses;

/// <summary>
/// An IPv4 or IPv6 address as a number. Ordering is by family (IPv4 first), then by value, so
/// ranges and free lists are plain integer arithmetic.
/// </summary>
public readonly record struct Address(IpFamily Family, UInt128 Value) : IComparable<Address>
{
    public int Bits => Family.Bits();

    public static UInt128 MaxValue(IpFamily family) => family == IpFamily.IPv4 ? uint.MaxValue : UInt128.MaxValue;

    public static Address V4(uint value) => new(IpFamily.IPv4, value);

    public static Address V6(UInt128 value) => new(IpFamily.IPv6, value);

    /// <summary>
    /// True for IPv4 addresses ending in .0 or .255: old clients and middleboxes that treat
    /// them as network or broadcast addresses drop traffic to them (MetalLB's avoidBuggyIPs).
    /// </summary>
    public bool IsBuggyV4 => Family == IpFamily.IPv4 && (byte)Value is 0 or 255;

    public static Address Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var address, out var reason)
            ? address
            : throw new AddressFormatException(text, reason);
    }

    public static bool TryParse(ReadOnlySpan<char> text, out Address address) =>
        TryParse(text, out address, out _);

    /// <summary>Strict parser: dotted-quad IPv4 without leading zeros, or IPv6 without zone or brackets.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Address address, out string reason)
    {
        address = default;
        if (text.IsEmpty)
        {
            reason = "empty";
            return false;
        }

        if (text.Contains(':'))
        {
            return TryParseV6(text, out address, out reason);
        }

        return TryParseV4(text, out address, out reason);
    }

    private static bool TryParseV4(ReadOnlySpan<char> text, out Address address, out string reason)
    {
        address = default;
        uint value = 0;
        var parts = 0;
        var i = 0;
        while (i <= text.Length)
        {
            var end = text[i..].IndexOf('.');
            var part = end < 0 ? text[i..] : text.Slice(i, end);
            if (part.IsEmpty || part.Length > 3)
            {
                reason = "expected four decimal numbers 0-255 separated by dots";
                return false;
            }

            if (part.Length > 1 && part[0] == '0')
            {
                reason = $"leading zero in \"{part}\" (ambiguous: octal or decimal)";
                return false;
            }

            if (!uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var octet) || octet > 255)
            {
                reason = $"\"{part}\" is not a number 0-255";
                return false;
            }

            value = (value << 8) | octet;
            parts++;
            if (end < 0)
            {
                break;
            }

            i += end + 1;
            if (parts == 4)
            {
                reason = "more than four parts";
                return false;
            }
        }

        if (parts != 4)
        {
            reason = "expected four decimal numbers 0-255 separated by dots";
            return false;
        }

        address = V4(value);
        reason = string.Empty;
        return true;
    }

    private static bool TryParseV6(ReadOnlySpan<char> text, out Address address, out string reason)
    {
        address = default;
        if (text.Contains('%') || text.Contains('[') || text.Contains('/'))
        {
            reason = "zone indexes, brackets and prefix lengths are not allowed in an address";
            return false;
        }

        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            reason = "not an IPv6 address";
            return false;
        }

        address = FromIPAddress(ip);
        reason = string.Empty;
        return true;
    }

    public static Address FromIPAddress(IPAddress ip)
    {
        ArgumentNullException.ThrowIfNull(ip);
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            Span<byte> b4 = stackalloc byte[4];
            ip.TryWriteBytes(b4, out _);
            return V4(BinaryPrimitives.ReadUInt32BigEndian(b4));
        }

        Span<byte> b = stackalloc byte[16];
        ip.TryWriteBytes(b, out _);
        return V6(BinaryPrimitives.ReadUInt128BigEndian(b));
    }

    public IPAddress ToIPAddress()
    {
        if (Family == IpFamily.IPv4)
        {
            Span<byte> b4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b4, (uint)Value);
            return new IPAddress(b4);
        }

        Span<byte> b = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, Value);
        return new IPAddress(b);
    }

    /// <summary>Writes the address in network byte order; returns the number of bytes (4 or 16).</summary>
    public int WriteBytes(Span<byte> destination)
    {
        if (Family == IpFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)Value);
            return 4;
        }

        BinaryPrimitives.WriteUInt128BigEndian(destination, Value);
        return 16;
    }

    public int CompareTo(Address other)
    {
        var f = Family.CompareTo(other.Family);
        return f != 0 ? f : Value.CompareTo(other.Value);
    }

    public static bool operator <(Address left, Address right) => left.CompareTo(right) < 0;

    public static bool operator >(Address left, Address right) => left.CompareTo(right) > 0;

    public static bool operator <=(Address left, Address right) => left.CompareTo(right) <= 0;

    public static bool operator >=(Address left, Address right) => left.CompareTo(right) >= 0;

    /// <summary>The address <paramref name="offset"/> further on, or null past the end of the family.</summary>
    public Address? Plus(UInt128 offset)
    {
        var max = MaxValue(Family);
        return offset > max - Value ? null : new Address(Family, Value + offset);
    }

    /// <summary>Canonical text: dotted quad, or RFC 5952 for IPv6. Also the Kubernetes object name form via <see cref="ToName"/>.</summary>
    public override string ToString()
    {
        if (Family == IpFamily.IPv4)
        {
            var v = (uint)Value;
            return string.Create(CultureInfo.InvariantCulture, $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}");
        }

        return ToIPAddress().ToString();
    }

    /// <summary>
    /// A name for objects named after the address, valid as a DNS subdomain: 203-0-113-1, and
    /// IPv6 uncompressed (2001-db8-0-0-0-0-0-1) so that it never starts or ends with a dash.
    /// </summary>
    public string ToName()
    {
        if (Family == IpFamily.IPv4)
        {
            return ToString().Replace('.', '-');
        }

        var groups = new string[8];
        for (var i = 0; i < 8; i++)
        {
            groups[i] = ((ushort)(Value >> (112 - (16 * i)))).ToString("x", CultureInfo.InvariantCulture);
        }

        return string.Join('-', groups);
    }
}
