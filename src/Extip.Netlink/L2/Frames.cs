using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Extip.Netlink.L2;

/// <summary>
/// The frames that tell a segment an address now lives at a MAC: a gratuitous ARP (IPv4,
/// RFC 5227 §3 "ARP announcement") and an unsolicited Neighbor Advertisement with the Override
/// flag (IPv6, RFC 4861 §7.2.6). Pure: they return bytes, starting at the Ethernet header.
/// </summary>
public static class Frames
{
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeIPv6 = 0x86DD;
    public const ushort ArpRequest = 1;
    public const ushort ArpReply = 2;
    public const byte IcmpNeighborAdvertisement = 136;

    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    private static readonly byte[] AllNodesMac = [0x33, 0x33, 0, 0, 0, 1];

    public static readonly IPAddress AllNodes = IPAddress.Parse("ff02::1");

    /// <summary>A gratuitous ARP for <paramref name="address"/> at <paramref name="mac"/>: sender and target are both the address.</summary>
    public static byte[] GratuitousArp(PhysicalAddress mac, IPAddress address, ushort operation = ArpRequest)
    {
        var hw = Mac(mac);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"ARP announces IPv4 addresses, not {address}", nameof(address));
        }

        var f = new byte[42];
        Broadcast.CopyTo(f, 0);
        hw.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypeArp);
        var a = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], 0x0800);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], operation);
        hw.CopyTo(a[8..]);
        address.GetAddressBytes().CopyTo(a[14..]);
        if (operation == ArpReply)
        {
            Broadcast.CopyTo(a[18..]);
        }

        address.GetAddressBytes().CopyTo(a[24..]);
        return f;
    }

    /// <summary>An unsolicited Neighbor Advertisement to all nodes, Override set, with the target link-layer address option.</summary>
    public static byte[] UnsolicitedNeighborAdvertisement(PhysicalAddress mac, IPAddress target, IPAddress? source = null)
    {
        var hw = Mac(mac);
        if (target.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"Neighbor Advertisements announce IPv6 addresses, not {target}", nameof(target));
        }

        source ??= target;
        const int IcmpLength = 32;
        var f = new byte[14 + 40 + IcmpLength];
        AllNodesMac.CopyTo(f, 0);
        hw.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypeIPv6);
        var ip = f.AsSpan(14, 40);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], IcmpLength);
        ip[6] = 58;
        ip[7] = 255;
        source.GetAddressBytes().CopyTo(ip[8..]);
        AllNodes.GetAddressBytes().CopyTo(ip[24..]);
        var icmp = f.AsSpan(54, IcmpLength);
        icmp[0] = IcmpNeighborAdvertisement;
        icmp[4] = 0x20; // Override
        target.GetAddressBytes().CopyTo(icmp[8..]);
        icmp[24] = 2; // target link-layer address
        icmp[25] = 1; // in units of 8 bytes
        hw.CopyTo(icmp[26..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Icmpv6Checksum(ip[8..24], ip[24..40], icmp));
        return f;
    }

    /// <summary>The ICMPv6 checksum over the pseudo-header (RFC 8200 §8.1) and the message (its checksum field zero).</summary>
    public static ushort Icmpv6Checksum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        ulong sum = 0;
        sum += Sum(source);
        sum += Sum(destination);
        sum += (uint)message.Length;
        sum += 58;
        sum += Sum(message);
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        var result = (ushort)~sum;
        return result == 0 ? (ushort)0xffff : result;
    }

    private static ulong Sum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += (uint)((data[i] << 8) | data[i + 1]);
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
        }

        return sum;
    }

    private static byte[] Mac(PhysicalAddress mac)
    {
        var b = mac.GetAddressBytes();
        return b.Length == 6 ? b : throw new ArgumentException($"an Ethernet MAC has 6 bytes, not {b.Length}", nameof(mac));
    }
}
