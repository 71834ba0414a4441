using System.Net;
using System.Net.Sockets;

namespace Extip.Bgp.Wire;

/// <summary>An IP prefix as BGP carries it in NLRI: a length in bits and only the bytes it needs.</summary>
public readonly record struct Prefix
{
    public Prefix(IPAddress address, int length)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (length < 0 || length > bits)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"a prefix of {address} has 0 to {bits} bits");
        }

        Address = Mask(address, length);
        Length = length;
    }

    public IPAddress Address { get; }

    public int Length { get; }

    public AddressFamily Family => Address.AddressFamily;

    public static Prefix Host(IPAddress address) => new(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);

    public static Prefix Parse(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var ip = IPAddress.Parse(slash < 0 ? text : text[..slash]);
        return slash < 0 ? Host(ip) : new Prefix(ip, int.Parse(text.AsSpan(slash + 1), System.Globalization.CultureInfo.InvariantCulture));
    }

    public override string ToString() => $"{Address}/{Length}";

    public int EncodedLength => 1 + ((Length + 7) / 8);

    public int Write(Span<byte> destination)
    {
        destination[0] = (byte)Length;
        var n = (Length + 7) / 8;
        Span<byte> bytes = stackalloc byte[16];
        Address.TryWriteBytes(bytes, out _);
        bytes[..n].CopyTo(destination[1..]);
        return 1 + n;
    }

    /// <summary>Reads one prefix; a length beyond the family's bits or past the data is the peer's error.</summary>
    public static Prefix Read(ReadOnlySpan<byte> data, AddressFamily family, out int consumed)
    {
        var max = family == AddressFamily.InterNetwork ? 32 : 128;
        if (data.Length < 1)
        {
            throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.InvalidNetworkField, "prefix length missing");
        }

        var length = data[0];
        var n = (length + 7) / 8;
        if (length > max || 1 + n > data.Length)
        {
            throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.InvalidNetworkField, $"prefix length {length} (at most {max}, {data.Length - 1} bytes left)");
        }

        Span<byte> bytes = stackalloc byte[max / 8];
        bytes.Clear();
        data.Slice(1, n).CopyTo(bytes);
        consumed = 1 + n;
        return new Prefix(new IPAddress(bytes), length);
    }

    public static List<Prefix> ReadAll(ReadOnlySpan<byte> data, AddressFamily family)
    {
        var list = new List<Prefix>();
        while (data.Length > 0)
        {
            list.Add(Read(data, family, out var used));
            data = data[used..];
        }

        return list;
    }

    private static IPAddress Mask(IPAddress address, int length)
    {
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out var size);
        b = b[..size];
        for (var i = 0; i < size; i++)
        {
            var keep = Math.Clamp(length - (i * 8), 0, 8);
            b[i] &= (byte)(0xff << (8 - keep));
        }

        return new IPAddress(b);
    }
}

/// <summary>Address family and subsequent address family (RFC 4760).</summary>
public readonly record struct AfiSafi(ushort Afi, byte Safi)
{
    public static readonly AfiSafi IPv4Unicast = new(1, 1);
    public static readonly AfiSafi IPv6Unicast = new(2, 1);

    public AddressFamily Family => Afi switch
    {
        1 => AddressFamily.InterNetwork,
        2 => AddressFamily.InterNetworkV6,
        _ => AddressFamily.Unknown,
    };

    public static AfiSafi Of(AddressFamily family) => family == AddressFamily.InterNetwork ? IPv4Unicast : IPv6Unicast;

    public override string ToString() => this == IPv4Unicast ? "ipv4-unicast" : this == IPv6Unicast ? "ipv6-unicast" : $"afi {Afi} safi {Safi}";
}
