using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Extip.Netlink;

namespace Extip.Bgp.Speaker;

/// <summary>TCP sockets for BGP: created inside a namespace, with TTL, source address and MD5 signatures.</summary>
internal static class TcpOptions
{
    private const int IpProtoTcp = 6;
    private const int TcpMd5Sig = 14;
    private const int IpProtoIpv6 = 41;
    private const int Ipv6UnicastHops = 16;

    public static Socket Create(string? netns, AddressFamily family) =>
        NetNs.Run(netns, () => new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });

    public static void SetTtl(Socket s, int ttl)
    {
        if (s.AddressFamily == AddressFamily.InterNetworkV6)
        {
            // IPV6_UNICAST_HOPS; SocketOptionName.HopLimit is IPV6_HOPLIMIT, a receive option.
            s.SetRawSocketOption(IpProtoIpv6, Ipv6UnicastHops, BitConverter.GetBytes(ttl));
        }
        else
        {
            s.Ttl = (short)ttl;
        }
    }

    /// <summary>RFC 2385: every segment to and from <paramref name="peer"/> carries an MD5 digest keyed with the password.</summary>
    public static void SetMd5(Socket s, IPAddress peer, string password)
    {
        var key = System.Text.Encoding.UTF8.GetBytes(password);
        if (key.Length > 80)
        {
            throw new ArgumentException($"a TCP MD5 key has at most 80 bytes, this one {key.Length}", nameof(password));
        }

        // struct tcp_md5sig: sockaddr_storage (128), flags, prefixlen, keylen (u16), ifindex (u32), key[80].
        var opt = new byte[128 + 1 + 1 + 2 + 4 + 80];
        if (peer.AddressFamily == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(opt, 2);
            peer.TryWriteBytes(opt.AsSpan(4), out _);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(opt, 10);
            peer.TryWriteBytes(opt.AsSpan(8), out _);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(opt.AsSpan(130), (ushort)key.Length);
        key.CopyTo(opt, 136);
        s.SetRawSocketOption(IpProtoTcp, TcpMd5Sig, opt);
    }
}
