using System.Buffers.Binary;

namespace Extip.Bgp.Wire;

/// <summary>A capability advertised in OPEN (RFC 5492). Unknown ones are kept as they came.</summary>
public abstract record Capability(byte Code)
{
    public const byte MultiprotocolCode = 1;
    public const byte RouteRefreshCode = 2;
    public const byte GracefulRestartCode = 64;
    public const byte FourOctetAsCode = 65;

    public abstract byte[] Value();

    public static Capability Decode(byte code, ReadOnlySpan<byte> v) => code switch
    {
        MultiprotocolCode when v.Length == 4 => new MultiprotocolCapability(new AfiSafi(BinaryPrimitives.ReadUInt16BigEndian(v), v[3])),
        RouteRefreshCode when v.Length == 0 => new RouteRefreshCapability(),
        FourOctetAsCode when v.Length == 4 => new FourOctetAsCapability(BinaryPrimitives.ReadUInt32BigEndian(v)),
        GracefulRestartCode when v.Length >= 2 && (v.Length - 2) % 4 == 0 => GracefulRestartCapability.DecodeValue(v),
        _ => new UnknownCapability(code, v.ToArray()),
    };
}

/// <summary>RFC 4760: this AFI/SAFI may be exchanged.</summary>
public sealed record MultiprotocolCapability(AfiSafi Family) : Capability(MultiprotocolCode)
{
    public override byte[] Value() => [(byte)(Family.Afi >> 8), (byte)Family.Afi, 0, Family.Safi];
}

/// <summary>RFC 2918.</summary>
public sealed record RouteRefreshCapability() : Capability(RouteRefreshCode)
{
    public override byte[] Value() => [];
}

/// <summary>RFC 6793: the speaker's real AS number, when it may not fit in two octets.</summary>
public sealed record FourOctetAsCapability(uint Asn) : Capability(FourOctetAsCode)
{
    public override byte[] Value()
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, Asn);
        return b;
    }
}

/// <summary>RFC 4724: restart flags and time, and the families whose forwarding state survives a restart.</summary>
public sealed record GracefulRestartCapability(bool Restarting, ushort RestartTime, IReadOnlyList<(AfiSafi Family, bool ForwardingPreserved)> Families) : Capability(GracefulRestartCode)
{
    public override byte[] Value()
    {
        var b = new byte[2 + (4 * Families.Count)];
        var word = (ushort)((Restarting ? 0x8000 : 0) | (RestartTime & 0x0fff));
        BinaryPrimitives.WriteUInt16BigEndian(b, word);
        for (var i = 0; i < Families.Count; i++)
        {
            var (f, fwd) = Families[i];
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2 + (4 * i)), f.Afi);
            b[4 + (4 * i)] = f.Safi;
            b[5 + (4 * i)] = fwd ? (byte)0x80 : (byte)0;
        }

        return b;
    }

    internal static GracefulRestartCapability DecodeValue(ReadOnlySpan<byte> v)
    {
        var word = BinaryPrimitives.ReadUInt16BigEndian(v);
        var families = new List<(AfiSafi, bool)>();
        for (var at = 2; at + 4 <= v.Length; at += 4)
        {
            families.Add((new AfiSafi(BinaryPrimitives.ReadUInt16BigEndian(v[at..]), v[at + 2]), (v[at + 3] & 0x80) != 0));
        }

        return new GracefulRestartCapability((word & 0x8000) != 0, (ushort)(word & 0x0fff), families);
    }

    public bool Equals(GracefulRestartCapability? other) =>
        other is not null && Restarting == other.Restarting && RestartTime == other.RestartTime && Families.SequenceEqual(other.Families);

    public override int GetHashCode() => HashCode.Combine(Restarting, RestartTime, Families.Count);
}

/// <summary>A capability extip does not know: kept, so it can be reported.</summary>
public sealed record UnknownCapability(byte UnknownCode, byte[] Bytes) : Capability(UnknownCode)
{
    public override byte[] Value() => Bytes;

    public bool Equals(UnknownCapability? other) => other is not null && UnknownCode == other.UnknownCode && Bytes.AsSpan().SequenceEqual(other.Bytes);

    public override int GetHashCode() => HashCode.Combine(UnknownCode, Bytes.Length);
}
