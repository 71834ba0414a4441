using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Extip.Netlink.Wire;

/// <summary>Interface flags (IFF_*).</summary>
[Flags]
public enum LinkFlags : uint
{
    None = 0,
    Up = 0x1,
    Broadcast = 0x2,
    Loopback = 0x8,
    PointToPoint = 0x10,
    Running = 0x40,
    NoArp = 0x80,
    Multicast = 0x1000,
    LowerUp = 0x10000,
}

/// <summary>A network interface as the kernel reports it.</summary>
public sealed record Link(int Index, string Name, LinkFlags Flags, PhysicalAddress Mac, int Mtu, ushort HardwareType, string? Kind, int? Master)
{
    public bool IsUp => Flags.HasFlag(LinkFlags.Up);

    /// <summary>Neighbours resolve addresses on it through ARP or NDP (an Ethernet-like interface that is not loopback).</summary>
    public bool HasNeighbours => HardwareType == 1 && !Flags.HasFlag(LinkFlags.NoArp) && !Flags.HasFlag(LinkFlags.Loopback);
}

/// <summary>An address on an interface. <see cref="Protocol"/> is IFA_PROTO: who put it there.</summary>
public sealed record AddressEntry(int InterfaceIndex, IPAddress Address, int PrefixLength, byte Scope, uint Flags, byte Protocol, string? Label)
{
    /// <summary>What is left of the kernel's valid lifetime, in seconds; <see cref="uint.MaxValue"/>: forever.</summary>
    public uint ValidSeconds { get; init; } = uint.MaxValue;

    public const uint FlagNoDad = 0x02;
    public const uint FlagDeprecated = 0x20;
    public const uint FlagTentative = 0x40;
    public const uint FlagPermanent = 0x80;
    public const uint FlagNoPrefixRoute = 0x200;

    public AddressFamily Family => Address.AddressFamily;
}

/// <summary>One next hop of a route (a multipath route has several).</summary>
public sealed record NextHop(IPAddress? Gateway, int InterfaceIndex, int Weight = 1);

/// <summary>A route. <see cref="Protocol"/> is RTPROT_*: who installed it.</summary>
public sealed record Route(
    AddressFamily Family,
    IPAddress Destination,
    int PrefixLength,
    uint Table,
    byte Protocol,
    byte Scope,
    byte Type,
    uint? Priority,
    IPAddress? PreferredSource,
    IReadOnlyList<NextHop> NextHops)
{
    public const byte ScopeUniverse = 0;
    public const byte ScopeLink = 253;
    public const byte ScopeHost = 254;
    public const byte TypeUnicast = 1;
    public const byte TypeLocal = 2;
    public const uint TableMain = 254;
    public const uint TableLocal = 255;
    public const byte ProtoBoot = 3;
    public const byte ProtoStatic = 4;
    public const byte ProtoBird = 12;
    public const byte ProtoBgp = 186;

    public override string ToString() =>
        $"{Destination}/{PrefixLength} " + string.Join(" ", NextHops.Select(h => $"via {h.Gateway?.ToString() ?? "-"} dev#{h.InterfaceIndex}")) + $" proto {Protocol} table {Table}";
}

/// <summary>Encoding and decoding of rtnetlink links, addresses and routes. Pure: bytes in, bytes out.</summary>
public static class Rtnl
{
    public const ushort IflaAddress = 1;
    public const ushort IflaIfname = 3;
    public const ushort IflaMtu = 4;
    public const ushort IflaMaster = 10;
    public const ushort IflaLinkinfo = 18;
    public const ushort IflaAfSpec = 26;
    public const ushort IflaInetConf = 1;

    /// <summary>IPV4_DEVCONF_PROMOTE_SECONDARIES: an interface's <c>promote_secondaries</c> setting.</summary>
    public const ushort Ipv4DevconfPromoteSecondaries = 20;

    /// <summary>IPV4_DEVCONF_ARP_ANNOUNCE: which local address an ARP request names as its sender (2: the best one for the target's subnet).</summary>
    public const ushort Ipv4DevconfArpAnnounce = 18;
    public const ushort IflaInfoKind = 1;

    public const ushort IfaAddress = 1;
    public const ushort IfaLocal = 2;
    public const ushort IfaLabel = 3;
    public const ushort IfaCacheinfo = 6;
    public const ushort IfaFlags = 8;
    public const ushort IfaProto = 11;

    public const ushort RtaDst = 1;
    public const ushort RtaOif = 4;
    public const ushort RtaGateway = 5;
    public const ushort RtaPriority = 6;
    public const ushort RtaPrefsrc = 7;
    public const ushort RtaMultipath = 9;
    public const ushort RtaTable = 15;

    public const int IfInfoSize = 16;
    public const int IfAddrSize = 8;
    public const int RtMsgSize = 12;

    public static byte Family(AddressFamily f) => f switch
    {
        AddressFamily.InterNetwork => 2,
        AddressFamily.InterNetworkV6 => 10,
        AddressFamily.Unspecified => 0,
        _ => throw new ArgumentException($"address family {f} is neither IPv4 nor IPv6", nameof(f)),
    };

    public static AddressFamily FromFamily(byte f) => f switch
    {
        2 => AddressFamily.InterNetwork,
        10 => AddressFamily.InterNetworkV6,
        _ => AddressFamily.Unknown,
    };

    public static byte[] IfInfo(int index = 0, LinkFlags flags = 0, LinkFlags change = 0)
    {
        var b = new byte[IfInfoSize];
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), index);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), (uint)flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), (uint)change);
        return b;
    }

    public static byte[] IfAddr(AddressFamily family, int prefixLength, byte flags, byte scope, int index) =>
    [
        Family(family), (byte)prefixLength, flags, scope,
        (byte)index, (byte)(index >> 8), (byte)(index >> 16), (byte)(index >> 24),
    ];

    public static byte[] RtMsg(AddressFamily family, int dstLen, byte table, byte protocol, byte scope, byte type) =>
        [Family(family), (byte)dstLen, 0, 0, table, protocol, scope, type, 0, 0, 0, 0];

    public static Link DecodeLink(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < IfInfoSize)
        {
            throw new NetlinkFormatException($"link message of {payload.Length} bytes");
        }

        var type = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        var flags = (LinkFlags)BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        string name = string.Empty;
        var mac = PhysicalAddress.None;
        var mtu = 0;
        string? kind = null;
        int? master = null;
        var r = new AttributeReader(payload[IfInfoSize..]);
        while (r.Next())
        {
            switch (r.Type)
            {
                case IflaIfname: name = r.String(); break;
                case IflaAddress: mac = new PhysicalAddress(r.Value.ToArray()); break;
                case IflaMtu: mtu = (int)r.U32(); break;
                case IflaMaster: master = (int)r.U32(); break;
                case IflaLinkinfo:
                    var info = new AttributeReader(r.Value);
                    while (info.Next())
                    {
                        if (info.Type == IflaInfoKind)
                        {
                            kind = info.String();
                        }
                    }

                    break;
            }
        }

        return new Link(index, name, flags, mac, mtu, type, kind, master);
    }

    public static AddressEntry DecodeAddress(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < IfAddrSize)
        {
            throw new NetlinkFormatException($"address message of {payload.Length} bytes");
        }

        var prefix = payload[1];
        uint flags = payload[2];
        var scope = payload[3];
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        IPAddress? address = null, local = null;
        byte proto = 0;
        var valid = uint.MaxValue;
        string? label = null;
        var r = new AttributeReader(payload[IfAddrSize..]);
        while (r.Next())
        {
            switch (r.Type)
            {
                case IfaAddress: address = r.Ip(); break;
                case IfaLocal: local = r.Ip(); break;
                case IfaLabel: label = r.String(); break;
                case IfaFlags: flags = r.U32(); break;
                case IfaProto: proto = r.U8(); break;
                case IfaCacheinfo when r.Value.Length >= 8: valid = BinaryPrimitives.ReadUInt32LittleEndian(r.Value[4..]); break;
            }
        }

        var ip = local ?? address ?? throw new NetlinkFormatException("address message without IFA_LOCAL or IFA_ADDRESS");
        return new AddressEntry(index, ip, prefix, scope, flags, proto, label) { ValidSeconds = valid };
    }

    public static Route DecodeRoute(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < RtMsgSize)
        {
            throw new NetlinkFormatException($"route message of {payload.Length} bytes");
        }

        var family = FromFamily(payload[0]);
        var dstLen = payload[1];
        uint table = payload[4];
        var proto = payload[5];
        var scope = payload[6];
        var type = payload[7];
        IPAddress? dst = null, gateway = null, prefsrc = null;
        var oif = 0;
        uint? priority = null;
        var hops = new List<NextHop>();
        var r = new AttributeReader(payload[RtMsgSize..]);
        while (r.Next())
        {
            switch (r.Type)
            {
                case RtaDst: dst = r.Ip(); break;
                case RtaGateway: gateway = r.Ip(); break;
                case RtaOif: oif = (int)r.U32(); break;
                case RtaPriority: priority = r.U32(); break;
                case RtaPrefsrc: prefsrc = r.Ip(); break;
                case RtaTable: table = r.U32(); break;
                case RtaMultipath: DecodeMultipath(r.Value, hops); break;
            }
        }

        if (hops.Count == 0 && (gateway is not null || oif != 0))
        {
            hops.Add(new NextHop(gateway, oif));
        }

        dst ??= family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        return new Route(family, dst, dstLen, table, proto, scope, type, priority, prefsrc, hops);
    }

    private static void DecodeMultipath(ReadOnlySpan<byte> data, List<NextHop> hops)
    {
        while (data.Length >= 8)
        {
            var len = BinaryPrimitives.ReadUInt16LittleEndian(data);
            if (len < 8 || len > data.Length)
            {
                throw new NetlinkFormatException($"next hop length {len} with {data.Length} bytes left");
            }

            var weight = data[3] + 1;
            var index = BinaryPrimitives.ReadInt32LittleEndian(data[4..]);
            IPAddress? gw = null;
            var r = new AttributeReader(data[8..len]);
            while (r.Next())
            {
                if (r.Type == RtaGateway)
                {
                    gw = r.Ip();
                }
            }

            hops.Add(new NextHop(gw, index, weight));
            data = data[Math.Min(data.Length, MessageWriter.Align(len))..];
        }
    }

    /// <summary>The errno and the kernel's extended-ack message of an NLMSG_ERROR payload (errno 0 is an ACK).</summary>
    public static (int Errno, string? Message) DecodeError(ReadOnlySpan<byte> payload, ushort flags)
    {
        if (payload.Length < 4)
        {
            throw new NetlinkFormatException($"error message of {payload.Length} bytes");
        }

        var errno = -BinaryPrimitives.ReadInt32LittleEndian(payload);
        string? message = null;
        if ((flags & NetlinkHeader.FAckTlvs) != 0 && payload.Length >= 4 + NetlinkHeader.Size)
        {
            // The original request follows: its header only when capped, else all of it.
            long origLen = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
            var skip = 4 + ((flags & NetlinkHeader.FCapped) != 0 ? NetlinkHeader.Size : ((origLen + 3) & ~3L));
            if (skip <= payload.Length)
            {
                var r = new AttributeReader(payload[(int)skip..]);
                while (r.Next())
                {
                    if (r.Type == 1)
                    {
                        message = r.String();
                    }
                }
            }
        }

        return (errno, message);
    }
}
