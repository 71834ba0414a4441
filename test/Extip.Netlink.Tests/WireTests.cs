using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using CsCheck;
using Extip.Netlink.L2;
using Extip.Netlink.Wire;

namespace Extip.Netlink.Tests;

public sealed class WireTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("02-00-5E-10-00-01");

    [Fact]
    public void Writer_LaysOutHeaderAttributesAndNests_AndTheReaderWalksThem()
    {
        var w = new MessageWriter();
        w.Begin(Rtm.NewAddr, NetlinkHeader.FRequest | NetlinkHeader.FAck, 7, Rtnl.IfAddr(System.Net.Sockets.AddressFamily.InterNetwork, 32, 0, 0, 3))
            .Ip(Rtnl.IfaLocal, IPAddress.Parse("192.0.2.1"))
            .U8(Rtnl.IfaProto, 0x65)
            .BeginNest(18).String(1, "veth").EndNest()
            .End();
        var bytes = w.Written;
        Assert.True(NetlinkHeader.TryRead(bytes, out var h));
        Assert.Equal((bytes.Length, Rtm.NewAddr, (ushort)5, 7u), (h.Length, h.Type, h.Flags, h.Seq));
        Assert.Equal(0, bytes.Length % 4);
        var entry = Rtnl.DecodeAddress(bytes[NetlinkHeader.Size..]);
        Assert.Equal((IPAddress.Parse("192.0.2.1"), 32, 3, (byte)0x65), (entry.Address, entry.PrefixLength, entry.InterfaceIndex, entry.Protocol));

        var r = new AttributeReader(bytes[(NetlinkHeader.Size + Rtnl.IfAddrSize)..]);
        var types = new List<ushort>();
        while (r.Next())
        {
            types.Add(r.Type);
            if (r.Type == 18)
            {
                var inner = new AttributeReader(r.Value);
                Assert.True(inner.Next());
                Assert.Equal("veth", inner.String());
            }
        }

        Assert.Equal([Rtnl.IfaLocal, Rtnl.IfaProto, (ushort)18], types);
    }

    [Fact]
    public void ErrorMessage_CarriesErrnoAndTheKernelsExtendedAckText()
    {
        var w = new MessageWriter();
        var payload = new byte[4 + NetlinkHeader.Size];
        BinaryPrimitives.WriteInt32LittleEndian(payload, -17);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), 40);
        w.Begin(NetlinkHeader.Error, NetlinkHeader.FAckTlvs | NetlinkHeader.FCapped, 9, payload).String(1, "Address already assigned").End();
        var bytes = w.Written;
        Assert.True(NetlinkHeader.TryRead(bytes, out var h));
        var (errno, message) = Rtnl.DecodeError(bytes[NetlinkHeader.Size..], h.Flags);
        Assert.Equal((17, "Address already assigned"), (errno, message));
        var e = new NetlinkException(errno, "add address 192.0.2.1/32 on interface #1", message);
        Assert.Equal(NetlinkError.Exists, e.Error);
        Assert.Contains("192.0.2.1/32", e.Message, StringComparison.Ordinal);
        Assert.Contains("Address already assigned", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PermissionErrors_NameTheCapability()
    {
        var e = new NetlinkException(1, "add address 192.0.2.1/32 on interface #1", null);
        Assert.Equal(NetlinkError.PermissionDenied, e.Error);
        Assert.Contains("CAP_NET_ADMIN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decoders_OnAnyBytes_ThrowOnlyTheTypedFormatError()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            foreach (var decode in new Action<byte[]>[] { b => Rtnl.DecodeLink(b), b => Rtnl.DecodeAddress(b), b => Rtnl.DecodeRoute(b), b => Rtnl.DecodeError(b, NetlinkHeader.FAckTlvs) })
            {
                try
                {
                    decode(bytes);
                }
                catch (NetlinkFormatException)
                {
                }
            }
        }, iter: 20_000);
    }

    [Fact]
    public void GratuitousArp_IsAnAnnouncementFromTheMacForTheAddress()
    {
        var f = Frames.GratuitousArp(Mac, IPAddress.Parse("192.0.2.10"));
        Assert.Equal(42, f.Length);
        Assert.Equal(Convert.FromHexString("ffffffffffff" + "02005e100001" + "0806" + "0001080006040001" + "02005e100001" + "c000020a" + "000000000000" + "c000020a"), f);
    }

    [Fact]
    public void NeighborAdvertisement_HasOverrideTargetOptionAndAValidChecksum()
    {
        var target = IPAddress.Parse("2001:db8::10");
        var f = Frames.UnsolicitedNeighborAdvertisement(Mac, target);
        Assert.Equal(86, f.Length);
        Assert.Equal(Convert.FromHexString("333300000001" + "02005e100001" + "86dd"), f[..14]);
        Assert.Equal(255, f[14 + 7]);
        var icmp = f.AsSpan(54);
        Assert.Equal(136, icmp[0]);
        Assert.Equal(0x20, icmp[4]);
        Assert.Equal(target.GetAddressBytes(), icmp[8..24].ToArray());
        Assert.Equal(Convert.FromHexString("0201" + "02005e100001"), icmp[24..32].ToArray());

        // The sum over the pseudo-header and the message, checksum included, is all ones.
        var copy = icmp.ToArray();
        var stored = BinaryPrimitives.ReadUInt16BigEndian(copy.AsSpan(2));
        copy[2] = copy[3] = 0;
        Assert.Equal(stored, Frames.Icmpv6Checksum(f.AsSpan(22, 16), f.AsSpan(38, 16), copy));
        Assert.NotEqual(0, stored);
    }

    [Fact]
    public void Frames_RefuseTheWrongFamily()
    {
        Assert.Throws<ArgumentException>(() => Frames.GratuitousArp(Mac, IPAddress.Parse("2001:db8::1")));
        Assert.Throws<ArgumentException>(() => Frames.UnsolicitedNeighborAdvertisement(Mac, IPAddress.Parse("192.0.2.1")));
    }
}
