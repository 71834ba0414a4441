using System.Buffers.Binary;

namespace Extip.Bgp.Bfd;

/// <summary>RFC 5880 §4.1 session states, as carried in the State field.</summary>
public enum BfdState : byte
{
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

/// <summary>RFC 5880 §4.1 diagnostic codes: why the session last left Up.</summary>
public enum BfdDiag : byte
{
    None = 0,
    DetectionTimeExpired = 1,
    EchoFailed = 2,
    NeighborSignaledDown = 3,
    ForwardingPlaneReset = 4,
    PathDown = 5,
    ConcatenatedPathDown = 6,
    AdministrativelyDown = 7,
    ReverseConcatenatedPathDown = 8,
}

/// <summary>The flag bits after the State field (RFC 5880 §4.1).</summary>
[Flags]
public enum BfdFlags : byte
{
    None = 0,
    Multipoint = 0x01,
    Demand = 0x02,
    Authentication = 0x04,
    ControlPlaneIndependent = 0x08,
    Final = 0x10,
    Poll = 0x20,
}

/// <summary>
/// A BFD Control packet (RFC 5880 §4.1), mandatory section only: extip does not authenticate
/// BFD, so a packet with the A bit is decoded (its section skipped) and then discarded by the
/// session (§6.8.6). Intervals are in microseconds, as on the wire.
/// </summary>
public readonly record struct BfdPacket(
    BfdDiag Diag,
    BfdState State,
    BfdFlags Flags,
    byte DetectMult,
    uint MyDiscriminator,
    uint YourDiscriminator,
    uint DesiredMinTxUs,
    uint RequiredMinRxUs,
    uint RequiredMinEchoRxUs)
{
    public const byte Version = 1;
    public const int Length = 24;

    public bool Poll => (Flags & BfdFlags.Poll) != 0;

    public bool Final => (Flags & BfdFlags.Final) != 0;

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)((Version << 5) | ((byte)Diag & 0x1f));
        destination[1] = (byte)(((byte)State << 6) | ((byte)Flags & 0x3f));
        destination[2] = DetectMult;
        destination[3] = Length;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], MyDiscriminator);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], YourDiscriminator);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], DesiredMinTxUs);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], RequiredMinRxUs);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], RequiredMinEchoRxUs);
    }

    public byte[] ToArray()
    {
        var b = new byte[Length];
        Write(b);
        return b;
    }

    /// <summary>
    /// Decodes a datagram, applying the checks of RFC 5880 §6.8.6 that need no session state.
    /// BFD has no error message: a bad packet is discarded, and <paramref name="reason"/> says why.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out BfdPacket packet, out string? reason)
    {
        packet = default;
        if (data.Length < Length)
        {
            reason = $"{data.Length} bytes, less than the {Length} of a control packet";
            return false;
        }

        var version = data[0] >> 5;
        var flags = (BfdFlags)(data[1] & 0x3f);
        int length = data[3];
        var min = (flags & BfdFlags.Authentication) != 0 ? Length + 2 : Length;
        reason = version != Version ? $"version {version}"
            : length < min ? $"length field {length}, less than {min}"
            : length > data.Length ? $"length field {length}, more than the {data.Length} bytes received"
            : data[2] == 0 ? "detect multiplier 0"
            : (flags & BfdFlags.Multipoint) != 0 ? "the multipoint bit is set"
            : BinaryPrimitives.ReadUInt32BigEndian(data[4..]) == 0 ? "my discriminator 0"
            : null;
        if (reason is not null)
        {
            return false;
        }

        packet = new BfdPacket(
            (BfdDiag)(data[0] & 0x1f),
            (BfdState)(data[1] >> 6),
            flags,
            data[2],
            BinaryPrimitives.ReadUInt32BigEndian(data[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[20..]));
        return true;
    }

    public override string ToString() =>
        $"BFD {State} diag {Diag} flags [{Flags}] mult {DetectMult} my {MyDiscriminator} your {YourDiscriminator} tx {DesiredMinTxUs / 1000.0} ms rx {RequiredMinRxUs / 1000.0} ms";
}
