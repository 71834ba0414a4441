using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Extip.Agent.Peers;

/// <summary>
/// One agent's heartbeat to its peers: "I am NODE, I last reached the API server AGE ago, and I
/// have been reaching it without a break since STREAK ago" (a break: a silence longer than half
/// its Lease, the controller's own rule for a renewal streak).
/// The age is a duration on the sender's own clock, never a timestamp: the receiver places it
/// on its own clock (arrival minus age), so no two machines' clocks are ever compared. Signed
/// with HMAC-SHA256 under the key of the extip-peer-key Secret; a sequence number per sender
/// life (a random boot id) refuses replays within that life.
/// </summary>
public sealed record Heartbeat(string Node, ulong Boot, ulong Sequence, TimeSpan? ApiAge, TimeSpan? StreakAge = null)
{
    public const int MaxNodeName = 253;
    private const uint Magic = 0x58484232; // "XHB2"
    private const int MacLength = 32;
    private const uint Never = uint.MaxValue;

    /// <summary>The datagram, signed with <paramref name="key"/>.</summary>
    public byte[] Encode(ReadOnlySpan<byte> key)
    {
        var name = Encoding.UTF8.GetBytes(Node);
        if (name.Length is 0 or > MaxNodeName)
        {
            throw new ArgumentException($"node name \"{Node}\" must be 1 to {MaxNodeName} bytes", nameof(Node));
        }

        var body = 4 + 1 + name.Length + 8 + 8 + 4 + 4;
        var buffer = new byte[body + MacLength];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(span, Magic);
        span[4] = (byte)name.Length;
        name.CopyTo(span[5..]);
        var at = 5 + name.Length;
        BinaryPrimitives.WriteUInt64BigEndian(span[at..], Boot);
        BinaryPrimitives.WriteUInt64BigEndian(span[(at + 8)..], Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 16)..], Millis(ApiAge));
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 20)..], Millis(StreakAge));
        HMACSHA256.HashData(key, span[..body], span[body..]);
        return buffer;
    }

    /// <summary>The heartbeat in <paramref name="datagram"/>, or null when it is malformed or not signed with <paramref name="key"/>.</summary>
    public static Heartbeat? Decode(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key)
    {
        if (datagram.Length < 4 + 1 + 1 + Fixed + MacLength || BinaryPrimitives.ReadUInt32BigEndian(datagram) != Magic)
        {
            return null;
        }

        var nameLength = datagram[4];
        var body = 4 + 1 + nameLength + Fixed;
        if (nameLength == 0 || datagram.Length != body + MacLength)
        {
            return null;
        }

        Span<byte> mac = stackalloc byte[MacLength];
        HMACSHA256.HashData(key, datagram[..body], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, datagram[body..]))
        {
            return null;
        }

        string node;
        try
        {
            node = new UTF8Encoding(false, true).GetString(datagram.Slice(5, nameLength));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        var at = 5 + nameLength;
        return new Heartbeat(node, BinaryPrimitives.ReadUInt64BigEndian(datagram[at..]), BinaryPrimitives.ReadUInt64BigEndian(datagram[(at + 8)..]),
            Age(BinaryPrimitives.ReadUInt32BigEndian(datagram[(at + 16)..])), Age(BinaryPrimitives.ReadUInt32BigEndian(datagram[(at + 20)..])));
    }

    /// <summary>Boot, sequence, the two ages.</summary>
    private const int Fixed = 8 + 8 + 4 + 4;

    private static uint Millis(TimeSpan? age) => age is { } a ? (uint)Math.Clamp((long)a.TotalMilliseconds, 0, Never - 1) : Never;

    private static TimeSpan? Age(uint millis) => millis == Never ? null : TimeSpan.FromMilliseconds(millis);
}
