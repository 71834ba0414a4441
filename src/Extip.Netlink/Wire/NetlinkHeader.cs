using System.Buffers.Binary;

namespace Extip.Netlink.Wire;

/// <summary>The netlink message header and the constants of NETLINK_ROUTE that extip uses.</summary>
public readonly record struct NetlinkHeader(int Length, ushort Type, ushort Flags, uint Seq, uint Pid)
{
    public const int Size = 16;
    public const ushort NlaFNested = 0x8000;
    public const ushort NlaTypeMask = 0x3fff;

    public const ushort Noop = 1;
    public const ushort Error = 2;
    public const ushort Done = 3;

    public const ushort FRequest = 0x1;
    public const ushort FMulti = 0x2;
    public const ushort FAck = 0x4;
    public const ushort FDumpIntr = 0x10;
    public const ushort FDump = 0x300;
    public const ushort FReplace = 0x100;
    public const ushort FExcl = 0x200;
    public const ushort FCreate = 0x400;
    public const ushort FAckTlvs = 0x200;
    public const ushort FCapped = 0x100;

    public static bool TryRead(ReadOnlySpan<byte> data, out NetlinkHeader header)
    {
        if (data.Length < Size)
        {
            header = default;
            return false;
        }

        header = new NetlinkHeader(
            (int)BinaryPrimitives.ReadUInt32LittleEndian(data),
            BinaryPrimitives.ReadUInt16LittleEndian(data[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(data[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[12..]));
        return header.Length >= Size && header.Length <= data.Length;
    }
}

/// <summary>rtnetlink message types.</summary>
public static class Rtm
{
    public const ushort NewLink = 16;
    public const ushort DelLink = 17;
    public const ushort GetLink = 18;
    public const ushort NewAddr = 20;
    public const ushort DelAddr = 21;
    public const ushort GetAddr = 22;
    public const ushort NewRoute = 24;
    public const ushort DelRoute = 25;
    public const ushort GetRoute = 26;
    public const ushort NewNeigh = 28;
    public const ushort DelNeigh = 29;
    public const ushort GetNeigh = 30;
}

/// <summary>rtnetlink multicast groups (bit numbers for NETLINK_ADD_MEMBERSHIP).</summary>
public static class RtnlGroup
{
    public const int Link = 1;
    public const int Neigh = 3;
    public const int IPv4Addr = 5;
    public const int IPv4Route = 7;
    public const int IPv6Addr = 9;
    public const int IPv6Route = 11;
}
