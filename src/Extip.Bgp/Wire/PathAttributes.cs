using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Extip.Bgp.Wire;

/// <summary>Attribute flags (RFC 4271 §4.3).</summary>
[Flags]
public enum AttributeFlags : byte
{
    None = 0,
    ExtendedLength = 0x10,
    Partial = 0x20,
    Transitive = 0x40,
    Optional = 0x80,
}

/// <summary>How the session encodes AS numbers (RFC 6793: four octets once both sides say so).</summary>
public readonly record struct CodecContext(bool FourOctetAs)
{
    public static readonly CodecContext Modern = new(true);
}

/// <summary>A path attribute. Each kind knows its type code, flags and value encoding; unknown ones are kept.</summary>
public abstract record PathAttribute(byte TypeCode, AttributeFlags Flags)
{
    public const byte OriginCode = 1;
    public const byte AsPathCode = 2;
    public const byte NextHopCode = 3;
    public const byte MedCode = 4;
    public const byte LocalPrefCode = 5;
    public const byte AtomicAggregateCode = 6;
    public const byte AggregatorCode = 7;
    public const byte CommunitiesCode = 8;
    public const byte MpReachCode = 14;
    public const byte MpUnreachCode = 15;
    public const byte LargeCommunitiesCode = 32;

    public abstract int ValueLength(CodecContext ctx);

    public abstract void WriteValue(Span<byte> destination, CodecContext ctx);

    public int EncodedLength(CodecContext ctx)
    {
        var n = ValueLength(ctx);
        return (n > 255 ? 4 : 3) + n;
    }

    public int Write(Span<byte> destination, CodecContext ctx)
    {
        var n = ValueLength(ctx);
        var extended = n > 255;
        destination[0] = (byte)((Flags & ~AttributeFlags.ExtendedLength) | (extended ? AttributeFlags.ExtendedLength : 0));
        destination[1] = TypeCode;
        int header;
        if (extended)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)n);
            header = 4;
        }
        else
        {
            destination[2] = (byte)n;
            header = 3;
        }

        WriteValue(destination.Slice(header, n), ctx);
        return header + n;
    }
}

public sealed record OriginAttribute(byte Value) : PathAttribute(OriginCode, AttributeFlags.Transitive)
{
    public const byte Igp = 0;
    public const byte Egp = 1;
    public const byte Incomplete = 2;

    public override int ValueLength(CodecContext ctx) => 1;

    public override void WriteValue(Span<byte> destination, CodecContext ctx) => destination[0] = Value;
}

/// <summary>One AS_PATH segment: 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET.</summary>
public sealed record AsPathSegment(byte Type, IReadOnlyList<uint> Asns)
{
    public const byte Set = 1;
    public const byte Sequence = 2;

    public bool Equals(AsPathSegment? other) => other is not null && Type == other.Type && Asns.SequenceEqual(other.Asns);

    public override int GetHashCode() => HashCode.Combine(Type, Asns.Count);
}

public sealed record AsPathAttribute(IReadOnlyList<AsPathSegment> Segments) : PathAttribute(AsPathCode, AttributeFlags.Transitive)
{
    public const ushort AsTrans = 23456;

    public static readonly AsPathAttribute Empty = new([]);

    public static AsPathAttribute Of(params uint[] sequence) => new(sequence.Length == 0 ? [] : [new AsPathSegment(AsPathSegment.Sequence, sequence)]);

    public override int ValueLength(CodecContext ctx) => Segments.Sum(s => 2 + (s.Asns.Count * (ctx.FourOctetAs ? 4 : 2)));

    public override void WriteValue(Span<byte> destination, CodecContext ctx)
    {
        var at = 0;
        foreach (var s in Segments)
        {
            destination[at] = s.Type;
            destination[at + 1] = (byte)s.Asns.Count;
            at += 2;
            foreach (var asn in s.Asns)
            {
                if (ctx.FourOctetAs)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(destination[at..], asn);
                    at += 4;
                }
                else
                {
                    BinaryPrimitives.WriteUInt16BigEndian(destination[at..], asn > ushort.MaxValue ? AsTrans : (ushort)asn);
                    at += 2;
                }
            }
        }
    }

    public bool Equals(AsPathAttribute? other) => other is not null && Segments.SequenceEqual(other.Segments);

    public override int GetHashCode() => Segments.Count;

    internal static AsPathAttribute? TryDecode(ReadOnlySpan<byte> v, CodecContext ctx)
    {
        var size = ctx.FourOctetAs ? 4 : 2;
        var segments = new List<AsPathSegment>();
        while (v.Length > 0)
        {
            if (v.Length < 2 || v[0] is < 1 or > 4 || v[1] == 0 || v.Length < 2 + (v[1] * size))
            {
                return null;
            }

            var asns = new uint[v[1]];
            for (var i = 0; i < asns.Length; i++)
            {
                asns[i] = size == 4 ? BinaryPrimitives.ReadUInt32BigEndian(v[(2 + (4 * i))..]) : BinaryPrimitives.ReadUInt16BigEndian(v[(2 + (2 * i))..]);
            }

            segments.Add(new AsPathSegment(v[0], asns));
            v = v[(2 + (asns.Length * size))..];
        }

        return new AsPathAttribute(segments);
    }
}

public sealed record NextHopAttribute(IPAddress Address) : PathAttribute(NextHopCode, AttributeFlags.Transitive)
{
    public override int ValueLength(CodecContext ctx) => 4;

    public override void WriteValue(Span<byte> destination, CodecContext ctx) => Address.TryWriteBytes(destination, out _);
}

public sealed record MedAttribute(uint Value) : PathAttribute(MedCode, AttributeFlags.Optional)
{
    public override int ValueLength(CodecContext ctx) => 4;

    public override void WriteValue(Span<byte> destination, CodecContext ctx) => BinaryPrimitives.WriteUInt32BigEndian(destination, Value);
}

public sealed record LocalPrefAttribute(uint Value) : PathAttribute(LocalPrefCode, AttributeFlags.Transitive)
{
    public override int ValueLength(CodecContext ctx) => 4;

    public override void WriteValue(Span<byte> destination, CodecContext ctx) => BinaryPrimitives.WriteUInt32BigEndian(destination, Value);
}

/// <summary>RFC 1997 communities, each ASN:value in 32 bits.</summary>
public sealed record CommunitiesAttribute(IReadOnlyList<uint> Values) : PathAttribute(CommunitiesCode, AttributeFlags.Optional | AttributeFlags.Transitive)
{
    public override int ValueLength(CodecContext ctx) => 4 * Values.Count;

    public override void WriteValue(Span<byte> destination, CodecContext ctx)
    {
        for (var i = 0; i < Values.Count; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[(4 * i)..], Values[i]);
        }
    }

    public bool Equals(CommunitiesAttribute? other) => other is not null && Values.SequenceEqual(other.Values);

    public override int GetHashCode() => Values.Count;
}

/// <summary>RFC 8092 large communities: global administrator, two local data parts.</summary>
public sealed record LargeCommunitiesAttribute(IReadOnlyList<(uint Global, uint Local1, uint Local2)> Values) : PathAttribute(LargeCommunitiesCode, AttributeFlags.Optional | AttributeFlags.Transitive)
{
    public override int ValueLength(CodecContext ctx) => 12 * Values.Count;

    public override void WriteValue(Span<byte> destination, CodecContext ctx)
    {
        for (var i = 0; i < Values.Count; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[(12 * i)..], Values[i].Global);
            BinaryPrimitives.WriteUInt32BigEndian(destination[((12 * i) + 4)..], Values[i].Local1);
            BinaryPrimitives.WriteUInt32BigEndian(destination[((12 * i) + 8)..], Values[i].Local2);
        }
    }

    public bool Equals(LargeCommunitiesAttribute? other) => other is not null && Values.SequenceEqual(other.Values);

    public override int GetHashCode() => Values.Count;
}

/// <summary>RFC 4760 MP_REACH_NLRI: next hop(s) and prefixes of another family.</summary>
public sealed record MpReachAttribute(AfiSafi Family, IReadOnlyList<IPAddress> NextHops, IReadOnlyList<Prefix> Nlri) : PathAttribute(MpReachCode, AttributeFlags.Optional)
{
    public override int ValueLength(CodecContext ctx) => 5 + NextHopLength + 0 + Nlri.Sum(p => p.EncodedLength);

    private int NextHopLength => NextHops.Sum(h => h.AddressFamily == AddressFamily.InterNetwork ? 4 : 16);

    public override void WriteValue(Span<byte> destination, CodecContext ctx)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Family.Afi);
        destination[2] = Family.Safi;
        destination[3] = (byte)NextHopLength;
        var at = 4;
        foreach (var h in NextHops)
        {
            h.TryWriteBytes(destination[at..], out var n);
            at += n;
        }

        destination[at++] = 0;
        foreach (var p in Nlri)
        {
            at += p.Write(destination[at..]);
        }
    }

    public bool Equals(MpReachAttribute? other) => other is not null && Family == other.Family && NextHops.SequenceEqual(other.NextHops) && Nlri.SequenceEqual(other.Nlri);

    public override int GetHashCode() => HashCode.Combine(Family, Nlri.Count);
}

/// <summary>RFC 4760 MP_UNREACH_NLRI: withdrawn prefixes of another family.</summary>
public sealed record MpUnreachAttribute(AfiSafi Family, IReadOnlyList<Prefix> Withdrawn) : PathAttribute(MpUnreachCode, AttributeFlags.Optional)
{
    public override int ValueLength(CodecContext ctx) => 3 + Withdrawn.Sum(p => p.EncodedLength);

    public override void WriteValue(Span<byte> destination, CodecContext ctx)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Family.Afi);
        destination[2] = Family.Safi;
        var at = 3;
        foreach (var p in Withdrawn)
        {
            at += p.Write(destination[at..]);
        }
    }

    public bool Equals(MpUnreachAttribute? other) => other is not null && Family == other.Family && Withdrawn.SequenceEqual(other.Withdrawn);

    public override int GetHashCode() => HashCode.Combine(Family, Withdrawn.Count);
}

/// <summary>An attribute extip does not interpret (ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, …): kept byte for byte.</summary>
public sealed record RawAttribute(byte Code, AttributeFlags RawFlags, byte[] Bytes) : PathAttribute(Code, RawFlags)
{
    public override int ValueLength(CodecContext ctx) => Bytes.Length;

    public override void WriteValue(Span<byte> destination, CodecContext ctx) => Bytes.CopyTo(destination);

    public bool Equals(RawAttribute? other) => other is not null && Code == other.Code && RawFlags == other.RawFlags && Bytes.AsSpan().SequenceEqual(other.Bytes);

    public override int GetHashCode() => HashCode.Combine(Code, Bytes.Length);
}
