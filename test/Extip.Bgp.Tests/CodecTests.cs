using System.Net;
using CsCheck;
using Extip.Bgp.Wire;

namespace Extip.Bgp.Tests;

public sealed class CodecTests
{
    private static readonly CodecContext As4 = CodecContext.Modern;

    private static BgpMessage Decode(string hex, CodecContext? ctx = null)
    {
        var bytes = Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
        var m = BgpCodec.TryDecode(bytes, ctx ?? As4, out var used);
        Assert.NotNull(m);
        Assert.Equal(bytes.Length, used);
        return m!;
    }

    private const string Marker = "ffffffffffffffffffffffffffffffff";

    [Fact]
    public void Keepalive_IsTheBareHeader()
    {
        Assert.Equal(Convert.FromHexString(Marker + "001304"), BgpCodec.Encode(KeepaliveMessage.Instance));
        Assert.IsType<KeepaliveMessage>(Decode(Marker + "001304"));
    }

    [Fact]
    public void Open_WithCapabilities_MatchesTheRfcLayout()
    {
        // Version 4, AS_TRANS (the real AS 4200000001 is in the capability), hold 90, id 192.0.2.1,
        // capabilities: MP ipv4-unicast, route refresh, 4-octet AS.
        var hex = Marker + "0033" + "01" + "04" + "5ba0" + "005a" + "c0000201" + "16" + "02" + "14"
            + "01040001" + "0001" + "0200" + "4104" + "fa56ea01" + "40020078" + "0000";
        var open = new OpenMessage(4, AsPathAttribute.AsTrans, 90, 0xc0000201,
        [
            new MultiprotocolCapability(AfiSafi.IPv4Unicast), new RouteRefreshCapability(), new FourOctetAsCapability(4200000001),
            new GracefulRestartCapability(false, 120, []), new UnknownCapability(0, []),
        ]);
        var bytes = BgpCodec.Encode(open);
        Assert.Equal(hex.ToUpperInvariant(), Convert.ToHexString(bytes).ToUpperInvariant());
        var back = Assert.IsType<OpenMessage>(Decode(hex));
        Assert.Equal(open, back);
        Assert.Equal(4200000001u, back.Asn);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), back.Identifier);
    }

    [Fact]
    public void Update_Ipv4_WithNextHopCommunitiesAndNlri()
    {
        // RFC 4271 layout: no withdrawn, attributes ORIGIN IGP, AS_PATH (65001), NEXT_HOP 192.0.2.1,
        // COMMUNITIES 65001:100; NLRI 203.0.113.10/32 and 198.51.100.0/24.
        var attrs = "40010100" + "40020602010000fde9" + "400304c0000201" + "c00804fde90064";
        var hex = Marker + "003b" + "02" + "0000" + "001b" + attrs + "20cb00710a" + "18c63364";
        var update = new UpdateMessage([],
        [
            new OriginAttribute(OriginAttribute.Igp), AsPathAttribute.Of(65001), new NextHopAttribute(IPAddress.Parse("192.0.2.1")),
            new CommunitiesAttribute([(65001u << 16) | 100]),
        ], [Prefix.Parse("203.0.113.10/32"), Prefix.Parse("198.51.100.0/24")]);
        Assert.Equal(hex.ToUpperInvariant(), Convert.ToHexString(BgpCodec.Encode(update, As4)));
        var back = Assert.IsType<UpdateMessage>(Decode(hex));
        Assert.Equal(update, back);
        Assert.False(back.TreatAsWithdraw);
    }

    [Fact]
    public void Update_Ipv6_InMpReach_AndWithdrawInMpUnreach()
    {
        var reach = new UpdateMessage([],
        [
            new OriginAttribute(0), AsPathAttribute.Of(64512, 4200000001), new LocalPrefAttribute(200),
            new LargeCommunitiesAttribute([(64512, 1, 2)]),
            new MpReachAttribute(AfiSafi.IPv6Unicast, [IPAddress.Parse("2001:db8::1"), IPAddress.Parse("fe80::1")], [Prefix.Parse("2001:db8::10/128"), Prefix.Parse("2001:db8:1::/48")]),
        ], []);
        var back = Assert.IsType<UpdateMessage>(BgpCodec.TryDecode(BgpCodec.Encode(reach, As4), As4, out _));
        Assert.Equal(reach, back);
        var mp = back.Get<MpReachAttribute>()!;
        Assert.Equal(2, mp.NextHops.Count);

        var withdraw = new UpdateMessage([], [new MpUnreachAttribute(AfiSafi.IPv6Unicast, [Prefix.Parse("2001:db8::10/128")])], []);
        Assert.Equal(withdraw, BgpCodec.TryDecode(BgpCodec.Encode(withdraw, As4), As4, out _));
    }

    [Fact]
    public void AsPath_TwoOctetSessions_UseAsTrans()
    {
        var update = new UpdateMessage([], [new OriginAttribute(0), AsPathAttribute.Of(4200000001, 65001), new NextHopAttribute(IPAddress.Parse("192.0.2.1"))], [Prefix.Parse("192.0.2.0/24")]);
        var old = new CodecContext(false);
        var back = Assert.IsType<UpdateMessage>(BgpCodec.TryDecode(BgpCodec.Encode(update, old), old, out _));
        Assert.Equal([(uint)AsPathAttribute.AsTrans, 65001u], back.Get<AsPathAttribute>()!.Segments[0].Asns);
    }

    [Theory]
    [InlineData("00000000000000000000000000000000" + "001304", BgpError.MessageHeader, BgpError.ConnectionNotSynchronized)]
    [InlineData(Marker + "001204", BgpError.MessageHeader, BgpError.BadMessageLength)]
    [InlineData(Marker + "101104", BgpError.MessageHeader, BgpError.BadMessageLength)]
    [InlineData(Marker + "001309", BgpError.MessageHeader, BgpError.BadMessageType)]
    [InlineData(Marker + "00140400", BgpError.MessageHeader, BgpError.BadMessageLength)]
    [InlineData(Marker + "001d01" + "03fde9005ac000020100", BgpError.OpenMessage, BgpError.UnsupportedVersion)]
    [InlineData(Marker + "002101" + "04fde9005ac000020104" + "01020000", BgpError.OpenMessage, BgpError.UnsupportedOptionalParameter)]
    [InlineData(Marker + "001702" + "0005" + "0000", BgpError.UpdateMessage, BgpError.MalformedAttributeList)]
    [InlineData(Marker + "001c02" + "0000" + "0000" + "21cb007100", BgpError.UpdateMessage, BgpError.InvalidNetworkField)]
    [InlineData(Marker + "001b02" + "0000" + "0004" + "4009ff00", BgpError.UpdateMessage, BgpError.AttributeLengthError)]
    [InlineData(Marker + "001a02" + "0000" + "0003" + "401900", BgpError.UpdateMessage, BgpError.UnrecognizedWellKnownAttribute)]
    public void BadInput_IsTheMatchingNotification(string hex, byte code, byte subcode)
    {
        var e = Assert.Throws<BgpProtocolException>(() => BgpCodec.TryDecode(Convert.FromHexString(hex), As4, out _));
        Assert.Equal((code, subcode), (e.Code, e.Subcode));
    }

    [Fact]
    public void AttributeErrors_AreTreatAsWithdraw_NotASessionReset()
    {
        // ORIGIN with value 7, then a valid NEXT_HOP, NLRI 203.0.113.10/32.
        var hex = Marker + "002a" + "02" + "0000" + "000e" + "40010107" + "400200" + "400304c0000201" + "20cb00710a";
        var u = Assert.IsType<UpdateMessage>(Decode(hex));
        Assert.True(u.TreatAsWithdraw);
        Assert.Contains(u.Errors, e => e.Contains("ORIGIN", StringComparison.Ordinal));
        Assert.Equal([Prefix.Parse("203.0.113.10/32")], u.Nlri);

        // NLRI without NEXT_HOP.
        var missing = Marker + "0023" + "02" + "0000" + "0007" + "40010100" + "400200" + "20cb00710a";
        var m = Assert.IsType<UpdateMessage>(Decode(missing));
        Assert.True(m.TreatAsWithdraw);
        Assert.Contains("NEXT_HOP missing", m.Errors);
    }

    [Fact]
    public void PartialInput_AsksForMore()
    {
        var full = BgpCodec.Encode(KeepaliveMessage.Instance);
        Assert.Null(BgpCodec.TryDecode(full.AsSpan(0, 18), As4, out var used));
        Assert.Equal(0, used);
    }

    private static readonly Gen<Prefix> GenV4Prefix = Gen.Select(Gen.UInt, Gen.Int[0, 32], (a, l) => new Prefix(new IPAddress(BitConverter.GetBytes(a)), l));
    private static readonly Gen<Prefix> GenV6Prefix = Gen.Select(Gen.Byte.Array[16], Gen.Int[0, 128], (a, l) => new Prefix(new IPAddress(a), l));

    private static readonly Gen<UpdateMessage> GenUpdate =
        Gen.Select(GenV4Prefix.List[0, 20], GenV4Prefix.List[0, 20], GenV6Prefix.List[0, 10], Gen.UInt.Array[0, 6], Gen.UInt[1, uint.MaxValue].Array[1, 5],
            (withdrawn, nlri, v6, communities, path) =>
            {
                var attrs = new List<PathAttribute> { new OriginAttribute(0), AsPathAttribute.Of(path), new NextHopAttribute(IPAddress.Parse("192.0.2.1")) };
                if (communities.Length > 0)
                {
                    attrs.Add(new CommunitiesAttribute(communities));
                }

                if (v6.Count > 0)
                {
                    attrs.Add(new MpReachAttribute(AfiSafi.IPv6Unicast, [IPAddress.Parse("2001:db8::1")], v6));
                }

                return new UpdateMessage(withdrawn, attrs, nlri);
            });

    [Fact]
    public void Updates_RoundTrip() =>
        GenUpdate.Sample(u => Assert.Equal(u, BgpCodec.TryDecode(BgpCodec.Encode(u, As4), As4, out _)), iter: 2000);

    [Fact]
    public void MutatedMessages_OnlyEverGiveTheTypedError()
    {
        var seeds = new List<byte[]>
        {
            BgpCodec.Encode(KeepaliveMessage.Instance),
            BgpCodec.Encode(new OpenMessage(4, 64512, 90, 1, [new MultiprotocolCapability(AfiSafi.IPv6Unicast), new FourOctetAsCapability(64512), new GracefulRestartCapability(true, 120, [(AfiSafi.IPv4Unicast, true)])])),
            BgpCodec.Encode(new NotificationMessage(6, 2, [1, 2, 3])),
            BgpCodec.Encode(new RouteRefreshMessage(AfiSafi.IPv4Unicast)),
        };
        GenUpdate.Sample(u => seeds.Add(BgpCodec.Encode(u, As4)), iter: 50);
        Gen.Select(Gen.Int[0, seeds.Count - 1], Gen.Int[0, 4095].Array[1, 8], Gen.Byte.Array[1, 8], Gen.Int[0, 3]).Sample((pick, positions, values, cut) =>
        {
            var m = seeds[pick].ToArray();
            for (var i = 0; i < Math.Min(positions.Length, values.Length); i++)
            {
                var at = positions[i] % m.Length;
                if (at >= 16 || cut == 0)
                {
                    m[at] = values[i];
                }
            }

            var data = cut == 3 ? m.AsSpan(0, m.Length / 2).ToArray() : m;
            foreach (var ctx in new[] { As4, new CodecContext(false) })
            {
                DecodeBounded(data, ctx);
            }
        }, iter: 100_000);
    }

    [Fact]
    public void RandomBodies_BehindAValidHeader_OnlyEverGiveTheTypedError_InBoundedMemory()
    {
        // Any type, any length up to the maximum, any bytes: the decoder must answer each with a
        // message or a NOTIFICATION, and allocate in proportion to the input, never more.
        Gen.Select(Gen.Byte[1, 5], Gen.Byte.Array[0, BgpCodec.MaxMessageLength - BgpCodec.HeaderLength]).Sample((type, body) =>
        {
            var frame = new byte[BgpCodec.HeaderLength + body.Length];
            BgpCodec.WriteHeader(frame, frame.Length, (MessageType)type);
            body.CopyTo(frame, BgpCodec.HeaderLength);
            DecodeBounded(frame, As4);
        }, iter: 20_000);
    }

    /// <summary>Decodes; only the typed error may escape, and the allocation is linear in the input.</summary>
    private static void DecodeBounded(byte[] data, CodecContext ctx)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            BgpCodec.TryDecode(data, ctx, out var used);
            Assert.InRange(used, 0, data.Length);
        }
        catch (BgpProtocolException)
        {
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= (256L * data.Length) + 16_384, $"{allocated} bytes allocated to decode {data.Length}");
    }

    /// <summary>The NOTIFICATIONs the speaker sends name their subcodes (RFC 6608 FSM errors, RFC 9384 BFD Down).</summary>
    [Theory]
    [InlineData(BgpError.Fsm, BgpError.UnexpectedInOpenSent, 1, "FSM: unexpected message in OpenSent")]
    [InlineData(BgpError.Fsm, BgpError.UnexpectedInOpenConfirm, 2, "FSM: unexpected message in OpenConfirm")]
    [InlineData(BgpError.Fsm, BgpError.UnexpectedInEstablished, 3, "FSM: unexpected message in Established")]
    [InlineData(BgpError.Cease, BgpError.BfdDown, 10, "cease: BFD down")]
    public void ErrorSubcodes_HaveTheirRfcValues_AndDescriptions(byte code, byte subcode, byte rfcValue, string described)
    {
        Assert.Equal(rfcValue, subcode);
        Assert.Equal(described, BgpError.Describe(code, subcode));
    }
}
