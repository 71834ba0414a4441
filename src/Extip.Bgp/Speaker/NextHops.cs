using System.Net;
using System.Net.Sockets;
using Extip.Netlink;

namespace Extip.Bgp.Speaker;

/// <summary>Which next hops a session announces besides its own address.</summary>
internal static class NextHops
{
    /// <summary>
    /// RFC 2545 §3: when the peer is on the same subnet as our global address, the next hop also
    /// carries our link-local address on that link. Null for IPv4, for multihop peers, or when the
    /// interface has no link-local address.
    /// </summary>
    public static IPAddress? LinkLocalOnLink(string? netns, IPAddress local, IPAddress peer)
    {
        if (local.AddressFamily != AddressFamily.InterNetworkV6 || local.IsIPv6LinkLocal || peer.IsIPv6LinkLocal)
        {
            return null;
        }

        try
        {
            using var nl = RtNetlink.Open(netns);
            var addresses = nl.Addresses(AddressFamily.InterNetworkV6);
            var ours = addresses.FirstOrDefault(a => a.Address.Equals(local));
            if (ours is null || !SameSubnet(local, peer, ours.PrefixLength))
            {
                return null;
            }

            return addresses.FirstOrDefault(a => a.InterfaceIndex == ours.InterfaceIndex && a.Address.IsIPv6LinkLocal)?.Address;
        }
        catch (NetlinkException)
        {
            return null;
        }
    }

    private static bool SameSubnet(IPAddress a, IPAddress b, int bits)
    {
        var x = a.GetAddressBytes();
        var y = b.GetAddressBytes();
        for (var i = 0; i < 16 && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xff : (byte)(0xff << (8 - bits));
            if ((x[i] & mask) != (y[i] & mask))
            {
                return false;
            }
        }

        return true;
    }
}
