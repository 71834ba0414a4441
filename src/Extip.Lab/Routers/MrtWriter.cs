using System.Buffers.Binary;
using System.Net;

namespace Extip.Lab.Routers;

/// <summary>
/// Writes an MRT TABLE_DUMP_V2 file (RFC 6396 §4.3) of IPv4 host routes, the format `gobgp mrt
/// inject` loads: a PEER_INDEX_TABLE, then one RIB_IPV4_UNICAST record per prefix.
/// </summary>
public static class MrtWriter
{
    private const ushort TableDumpV2 = 13;
    private const ushort PeerIndexTable = 1;
    private const ushort RibIpv4Unicast = 2;

    /// <summary>
    /// Host routes <paramref name="first"/>, first+1, … with ORIGIN IGP, an empty AS_PATH and the
    /// next hop; then the first <paramref name="repeat"/> of them again (re-adding a path changes
    /// nothing, so a reader that drops the end of the file loses only repeats).
    /// </summary>
    public static void WriteHostRoutes(string path, IPAddress first, int count, IPAddress nextHop, IPAddress peerId, uint peerAs, int repeat = 0)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(nextHop);
        ArgumentNullException.ThrowIfNull(peerId);
        using var f = new BufferedStream(File.Create(path), 1 << 16);
        var now = (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        // PEER_INDEX_TABLE: collector id, empty view name, one peer (IPv4 address, 4-octet AS).
        var index = new byte[4 + 2 + 2 + 1 + 4 + 4 + 4];
        peerId.TryWriteBytes(index, out _);
        BinaryPrimitives.WriteUInt16BigEndian(index.AsSpan(6), 1);
        index[8] = 0x02;
        peerId.TryWriteBytes(index.AsSpan(9), out _);
        peerId.TryWriteBytes(index.AsSpan(13), out _);
        BinaryPrimitives.WriteUInt32BigEndian(index.AsSpan(17), peerAs);
        Record(f, now, PeerIndexTable, index);

        // Attributes: ORIGIN IGP, AS_PATH empty, NEXT_HOP.
        byte[] attrs = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, .. nextHop.GetAddressBytes()];
        var start = BinaryPrimitives.ReadUInt32BigEndian(first.GetAddressBytes());
        var body = new byte[4 + 1 + 4 + 2 + 2 + 4 + 2 + attrs.Length];
        for (var n = 0; n < count + repeat; n++)
        {
            var i = n < count ? n : (n - count) % count;
            BinaryPrimitives.WriteUInt32BigEndian(body, (uint)n);
            body[4] = 32;
            BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(5), start + (uint)i);
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(9), 1);
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(11), 0);
            BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(13), now);
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(17), (ushort)attrs.Length);
            attrs.CopyTo(body, 19);
            Record(f, now, RibIpv4Unicast, body);
        }
    }

    private static void Record(Stream f, uint time, ushort subtype, byte[] body)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(header, time);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], TableDumpV2);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], subtype);
        BinaryPrimitives.WriteUInt32BigEndian(header[8..], (uint)body.Length);
        f.Write(header);
        f.Write(body);
    }
}
