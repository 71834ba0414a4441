using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Extip.Bgp.Wire;

/// <summary>
/// RFC 4271 framing: encode any message, and decode one from the front of a buffer. The decoder
/// validates as RFC 4271 §6 and RFC 7606 say and throws only <see cref="BgpProtocolException"/>.
/// </summary>
public static class BgpCodec
{
    public const int HeaderLength = 19;
    public const int MaxMessageLength = 4096;

    public static byte[] Encode(BgpMessage message, CodecContext ctx = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var body = message switch
        {
            OpenMessage o => EncodeOpen(o),
            UpdateMessage u => EncodeUpdate(u, ctx),
            NotificationMessage n => [n.Code, n.Subcode, .. n.Data],
            KeepaliveMessage => [],
            RouteRefreshMessage r => [(byte)(r.Family.Afi >> 8), (byte)r.Family.Afi, 0, r.Family.Safi],
            _ => throw new ArgumentException($"unknown message {message.GetType().Name}", nameof(message)),
        };
        var total = HeaderLength + body.Length;
        if (total > MaxMessageLength)
        {
            throw new ArgumentException($"a {message.Type} message of {total} bytes exceeds {MaxMessageLength}", nameof(message));
        }

        var frame = new byte[total];
        WriteHeader(frame, total, message.Type);
        body.CopyTo(frame, HeaderLength);
        return frame;
    }

    public static void WriteHeader(Span<byte> frame, int length, MessageType type)
    {
        frame[..16].Fill(0xff);
        BinaryPrimitives.WriteUInt16BigEndian(frame[16..], (ushort)length);
        frame[18] = (byte)type;
    }

    /// <summary>
    /// Reads the message at the front of <paramref name="data"/>: null when more bytes are needed,
    /// else the message and how many bytes it took.
    /// </summary>
    public static BgpMessage? TryDecode(ReadOnlySpan<byte> data, CodecContext ctx, out int consumed)
    {
        consumed = 0;
        if (data.Length < HeaderLength)
        {
            return null;
        }

        for (var i = 0; i < 16; i++)
        {
            if (data[i] != 0xff)
            {
                throw new BgpProtocolException(BgpError.MessageHeader, BgpError.ConnectionNotSynchronized, "the marker is not all ones");
            }
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(data[16..]);
        var type = data[18];
        if (length < HeaderLength || length > MaxMessageLength)
        {
            throw new BgpProtocolException(BgpError.MessageHeader, BgpError.BadMessageLength, $"length {length}", [(byte)(length >> 8), (byte)length]);
        }

        if (type is < 1 or > 5)
        {
            throw new BgpProtocolException(BgpError.MessageHeader, BgpError.BadMessageType, $"type {type}", [type]);
        }

        var min = type switch { 1 => 29, 2 => 23, 3 => 21, 4 => 19, _ => 23 };
        if (length < min || (type == 4 && length != 19))
        {
            throw new BgpProtocolException(BgpError.MessageHeader, BgpError.BadMessageLength, $"a type {type} message of {length} bytes", [(byte)(length >> 8), (byte)length]);
        }

        if (data.Length < length)
        {
            return null;
        }

        consumed = length;
        var body = data[HeaderLength..length];
        return (MessageType)type switch
        {
            MessageType.Open => DecodeOpen(body),
            MessageType.Update => DecodeUpdate(body, ctx),
            MessageType.Notification => new NotificationMessage(body[0], body[1], body[2..].ToArray()),
            MessageType.Keepalive => KeepaliveMessage.Instance,
            _ => new RouteRefreshMessage(new AfiSafi(BinaryPrimitives.ReadUInt16BigEndian(body), body[3])),
        };
    }

    private static byte[] EncodeOpen(OpenMessage o)
    {
        var caps = o.Capabilities.Select(c => (c.Code, Value: c.Value())).ToList();
        var capLength = caps.Sum(c => 2 + c.Value.Length);
        var b = new byte[10 + (capLength > 0 ? 2 + capLength : 0)];
        b[0] = o.Version;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(1), o.MyAs);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(3), o.HoldTime);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(5), o.BgpId);
        if (capLength > 0)
        {
            if (capLength + 2 > 255)
            {
                throw new ArgumentException("capabilities do not fit in the optional parameters", nameof(o));
            }

            b[9] = (byte)(capLength + 2);
            b[10] = 2;
            b[11] = (byte)capLength;
            var at = 12;
            foreach (var (code, value) in caps)
            {
                b[at] = code;
                b[at + 1] = (byte)value.Length;
                value.CopyTo(b, at + 2);
                at += 2 + value.Length;
            }
        }

        return b;
    }

    private static OpenMessage DecodeOpen(ReadOnlySpan<byte> body)
    {
        var version = body[0];
        if (version != 4)
        {
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.UnsupportedVersion, $"version {version}", [0, 4]);
        }

        var myAs = BinaryPrimitives.ReadUInt16BigEndian(body[1..]);
        var hold = BinaryPrimitives.ReadUInt16BigEndian(body[3..]);
        var id = BinaryPrimitives.ReadUInt32BigEndian(body[5..]);
        int optLength = body[9];
        if (10 + optLength != body.Length)
        {
            throw new BgpProtocolException(BgpError.OpenMessage, 0, $"optional parameters of {optLength} bytes in an OPEN body of {body.Length}");
        }

        var caps = new List<Capability>();
        var opt = body.Slice(10, optLength);
        while (opt.Length > 0)
        {
            if (opt.Length < 2 || opt.Length < 2 + opt[1])
            {
                throw new BgpProtocolException(BgpError.OpenMessage, 0, "optional parameter runs past the OPEN");
            }

            var paramType = opt[0];
            var value = opt.Slice(2, opt[1]);
            if (paramType != 2)
            {
                throw new BgpProtocolException(BgpError.OpenMessage, BgpError.UnsupportedOptionalParameter, $"optional parameter type {paramType}");
            }

            while (value.Length > 0)
            {
                if (value.Length < 2 || value.Length < 2 + value[1])
                {
                    throw new BgpProtocolException(BgpError.OpenMessage, 0, "capability runs past its parameter");
                }

                caps.Add(Capability.Decode(value[0], value.Slice(2, value[1])));
                value = value[(2 + value[1])..];
            }

            opt = opt[(2 + opt[1])..];
        }

        return new OpenMessage(version, myAs, hold, id, caps);
    }

    private static byte[] EncodeUpdate(UpdateMessage u, CodecContext ctx)
    {
        var withdrawnLength = u.Withdrawn.Sum(p => p.EncodedLength);
        var attrLength = u.Attributes.Sum(a => a.EncodedLength(ctx));
        var nlriLength = u.Nlri.Sum(p => p.EncodedLength);
        var b = new byte[4 + withdrawnLength + attrLength + nlriLength];
        BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)withdrawnLength);
        var at = 2;
        foreach (var p in u.Withdrawn)
        {
            at += p.Write(b.AsSpan(at));
        }

        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), (ushort)attrLength);
        at += 2;
        foreach (var a in u.Attributes)
        {
            at += a.Write(b.AsSpan(at), ctx);
        }

        foreach (var p in u.Nlri)
        {
            at += p.Write(b.AsSpan(at));
        }

        return b;
    }

    private static UpdateMessage DecodeUpdate(ReadOnlySpan<byte> body, CodecContext ctx)
    {
        var withdrawnLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        if (2 + withdrawnLength + 2 > body.Length)
        {
            throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.MalformedAttributeList, $"withdrawn routes length {withdrawnLength} in a body of {body.Length}");
        }

        var withdrawn = Prefix.ReadAll(body.Slice(2, withdrawnLength), AddressFamily.InterNetwork);
        var attrLength = BinaryPrimitives.ReadUInt16BigEndian(body[(2 + withdrawnLength)..]);
        var attrStart = 4 + withdrawnLength;
        if (attrStart + attrLength > body.Length)
        {
            throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.MalformedAttributeList, $"path attribute length {attrLength} with {body.Length - attrStart} bytes left");
        }

        var nlri = Prefix.ReadAll(body[(attrStart + attrLength)..], AddressFamily.InterNetwork);
        var attributes = new List<PathAttribute>();
        var errors = new List<string>();
        var withdraw = false;
        var seen = new HashSet<byte>();
        var attrs = body.Slice(attrStart, attrLength);
        while (attrs.Length > 0)
        {
            if (attrs.Length < 3)
            {
                throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.MalformedAttributeList, "attribute header cut short");
            }

            var flags = (AttributeFlags)attrs[0];
            var code = attrs[1];
            var extended = flags.HasFlag(AttributeFlags.ExtendedLength);
            var header = extended ? 4 : 3;
            if (attrs.Length < header)
            {
                throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.MalformedAttributeList, "attribute header cut short");
            }

            var length = extended ? BinaryPrimitives.ReadUInt16BigEndian(attrs[2..]) : attrs[2];
            if (header + length > attrs.Length)
            {
                throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.AttributeLengthError, $"attribute {code} of {length} bytes with {attrs.Length - header} left");
            }

            var value = attrs.Slice(header, length);
            attrs = attrs[(header + length)..];
            if (!seen.Add(code))
            {
                if (code is PathAttribute.MpReachCode or PathAttribute.MpUnreachCode)
                {
                    throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.MalformedAttributeList, $"attribute {code} appears twice");
                }

                errors.Add($"attribute {code} appears twice; the repeat is discarded");
                continue;
            }

            var wellKnown = code is >= 1 and <= 7 && code != PathAttribute.MedCode && code != PathAttribute.AggregatorCode;
            if (wellKnown && flags.HasFlag(AttributeFlags.Optional))
            {
                errors.Add($"well-known attribute {code} flagged optional");
                withdraw = true;
                continue;
            }

            switch (code)
            {
                case PathAttribute.OriginCode:
                    if (length != 1 || value[0] > 2)
                    {
                        errors.Add($"ORIGIN of {length} bytes" + (length == 1 ? $", value {value[0]}" : string.Empty));
                        withdraw = true;
                    }
                    else
                    {
                        attributes.Add(new OriginAttribute(value[0]));
                    }

                    break;
                case PathAttribute.AsPathCode:
                    if (AsPathAttribute.TryDecode(value, ctx) is { } path)
                    {
                        attributes.Add(path);
                    }
                    else
                    {
                        errors.Add("malformed AS_PATH");
                        withdraw = true;
                    }

                    break;
                case PathAttribute.NextHopCode:
                    if (length != 4)
                    {
                        errors.Add($"NEXT_HOP of {length} bytes");
                        withdraw = true;
                    }
                    else
                    {
                        attributes.Add(new NextHopAttribute(new IPAddress(value)));
                    }

                    break;
                case PathAttribute.MedCode:
                case PathAttribute.LocalPrefCode:
                    if (length != 4)
                    {
                        errors.Add($"attribute {code} of {length} bytes");
                        withdraw = true;
                    }
                    else
                    {
                        var v = BinaryPrimitives.ReadUInt32BigEndian(value);
                        attributes.Add(code == PathAttribute.MedCode ? new MedAttribute(v) : new LocalPrefAttribute(v));
                    }

                    break;
                case PathAttribute.AtomicAggregateCode:
                case PathAttribute.AggregatorCode:
                    var expected = code == PathAttribute.AtomicAggregateCode ? 0 : ctx.FourOctetAs ? 8 : 6;
                    if (length != expected)
                    {
                        errors.Add($"attribute {code} of {length} bytes is discarded");
                    }
                    else
                    {
                        attributes.Add(new RawAttribute(code, flags & ~AttributeFlags.ExtendedLength, value.ToArray()));
                    }

                    break;
                case PathAttribute.CommunitiesCode:
                    if (length % 4 != 0 || length == 0)
                    {
                        errors.Add($"COMMUNITIES of {length} bytes");
                        withdraw = true;
                    }
                    else
                    {
                        var list = new uint[length / 4];
                        for (var i = 0; i < list.Length; i++)
                        {
                            list[i] = BinaryPrimitives.ReadUInt32BigEndian(value[(4 * i)..]);
                        }

                        attributes.Add(new CommunitiesAttribute(list));
                    }

                    break;
                case PathAttribute.LargeCommunitiesCode:
                    if (length % 12 != 0 || length == 0)
                    {
                        errors.Add($"LARGE_COMMUNITY of {length} bytes");
                        withdraw = true;
                    }
                    else
                    {
                        var list = new (uint, uint, uint)[length / 12];
                        for (var i = 0; i < list.Length; i++)
                        {
                            list[i] = (BinaryPrimitives.ReadUInt32BigEndian(value[(12 * i)..]), BinaryPrimitives.ReadUInt32BigEndian(value[((12 * i) + 4)..]), BinaryPrimitives.ReadUInt32BigEndian(value[((12 * i) + 8)..]));
                        }

                        attributes.Add(new LargeCommunitiesAttribute(list));
                    }

                    break;
                case PathAttribute.MpReachCode:
                    attributes.Add(DecodeMpReach(value));
                    break;
                case PathAttribute.MpUnreachCode:
                    if (length < 3)
                    {
                        throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.OptionalAttributeError, $"MP_UNREACH_NLRI of {length} bytes");
                    }

                    var family = new AfiSafi(BinaryPrimitives.ReadUInt16BigEndian(value), value[2]);
                    attributes.Add(new MpUnreachAttribute(family, family.Family == AddressFamily.Unknown ? [] : Prefix.ReadAll(value[3..], family.Family)));
                    break;
                default:
                    if (!flags.HasFlag(AttributeFlags.Optional))
                    {
                        throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.UnrecognizedWellKnownAttribute, $"attribute {code}", attrsBytes(flags, code, value));
                    }

                    attributes.Add(new RawAttribute(code, flags & ~AttributeFlags.ExtendedLength, value.ToArray()));
                    break;
            }
        }

        // Reachable IPv4 NLRI need the three well-known attributes (RFC 4271 §6.3); RFC 7606: withdraw.
        var reach = nlri.Count > 0 || attributes.Any(a => a is MpReachAttribute);
        if (reach && !withdraw)
        {
            foreach (var (code, name) in new[] { (PathAttribute.OriginCode, "ORIGIN"), (PathAttribute.AsPathCode, "AS_PATH") })
            {
                if (!seen.Contains(code))
                {
                    errors.Add($"{name} missing");
                    withdraw = true;
                }
            }

            if (nlri.Count > 0 && !seen.Contains(PathAttribute.NextHopCode))
            {
                errors.Add("NEXT_HOP missing");
                withdraw = true;
            }
        }

        return new UpdateMessage(withdrawn, attributes, nlri) { TreatAsWithdraw = withdraw, Errors = errors };

        static byte[] attrsBytes(AttributeFlags flags, byte code, ReadOnlySpan<byte> value) => [(byte)flags, code, (byte)value.Length, .. value];
    }

    private static MpReachAttribute DecodeMpReach(ReadOnlySpan<byte> value)
    {
        if (value.Length < 5 || value.Length < 5 + value[3])
        {
            throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.OptionalAttributeError, $"MP_REACH_NLRI of {value.Length} bytes");
        }

        var family = new AfiSafi(BinaryPrimitives.ReadUInt16BigEndian(value), value[2]);
        var nhLength = value[3];
        var nh = value.Slice(4, nhLength);
        var hops = new List<IPAddress>();
        if (family.Family == AddressFamily.InterNetwork && nhLength == 4)
        {
            hops.Add(new IPAddress(nh));
        }
        else if (family.Family == AddressFamily.InterNetworkV6 && nhLength is 16 or 32)
        {
            hops.Add(new IPAddress(nh[..16]));
            if (nhLength == 32)
            {
                hops.Add(new IPAddress(nh[16..]));
            }
        }
        else if (family.Family == AddressFamily.InterNetwork && nhLength is 16 or 32)
        {
            // RFC 8950: IPv4 NLRI with an IPv6 next hop.
            hops.Add(new IPAddress(nh[..16]));
        }
        else if (family.Family != AddressFamily.Unknown)
        {
            throw new BgpProtocolException(BgpError.UpdateMessage, BgpError.OptionalAttributeError, $"MP_REACH_NLRI next hop of {nhLength} bytes for {family}");
        }

        var nlri = family.Family == AddressFamily.Unknown ? [] : Prefix.ReadAll(value[(5 + nhLength)..], family.Family);
        return new MpReachAttribute(family, hops, nlri);
    }
}
