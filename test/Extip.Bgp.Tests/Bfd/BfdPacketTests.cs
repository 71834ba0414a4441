using CsCheck;
using Extip.Bgp.Bfd;

namespace Extip.Bgp.Tests.Bfd;

public sealed class BfdPacketTests
{
    [Fact]
    public void Encode_MatchesTheRfc5880Layout()
    {
        // Version 1, diag 0, state Up, Poll bit, mult 3, length 24, my 0x11223344, your 0x55667788,
        // desired tx 50 ms, required rx 50 ms, echo 0.
        var p = new BfdPacket(BfdDiag.None, BfdState.Up, BfdFlags.Poll, 3, 0x11223344, 0x55667788, 50_000, 50_000, 0);
        Assert.Equal("20E0031811223344556677880000C3500000C35000000000", Convert.ToHexString(p.ToArray()));
    }

    [Fact]
    public void Decode_DownWithDiagAndFinal_RoundTrips()
    {
        var bytes = Convert.FromHexString("21500118" + "00000007" + "00000000" + "000F4240" + "00000001" + "00000000");
        Assert.True(BfdPacket.TryRead(bytes, out var p, out var reason), reason);
        Assert.Equal(BfdDiag.DetectionTimeExpired, p.Diag);
        Assert.Equal(BfdState.Down, p.State);
        Assert.True(p.Final);
        Assert.False(p.Poll);
        Assert.Equal(1, p.DetectMult);
        Assert.Equal(7u, p.MyDiscriminator);
        Assert.Equal(1_000_000u, p.DesiredMinTxUs);
        Assert.Equal(1u, p.RequiredMinRxUs);
        Assert.Equal(bytes, p.ToArray());
    }

    [Theory]
    [InlineData("20C00318000000010000000000000001000000010000", "22 bytes")]
    [InlineData("40C0031800000001000000000000000100000001" + "00000000", "version 2")]
    [InlineData("20C0031400000001000000000000000100000001" + "00000000", "length field 20")]
    [InlineData("20C0031C00000001000000000000000100000001" + "00000000", "length field 28, more than the 24")]
    [InlineData("20C0001800000001000000000000000100000001" + "00000000", "detect multiplier 0")]
    [InlineData("20C1031800000001000000000000000100000001" + "00000000", "multipoint")]
    [InlineData("20C0031800000000000000000000000100000001" + "00000000", "my discriminator 0")]
    [InlineData("20C4031800000001000000000000000100000001" + "00000000", "less than 26")]
    public void Decode_BadPackets_AreDiscardedWithTheReason(string hex, string why)
    {
        Assert.False(BfdPacket.TryRead(Convert.FromHexString(hex), out _, out var reason));
        Assert.Contains(why, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_AnyBytes_NeverThrows_AndWhatDecodesEncodesBack()
    {
        Gen.Byte.Array[0, 64].Sample(bytes =>
        {
            if (BfdPacket.TryRead(bytes, out var p, out _) && (p.Flags & BfdFlags.Authentication) == 0)
            {
                var again = p.ToArray();
                Assert.True(BfdPacket.TryRead(again, out var q, out _));
                Assert.Equal(p, q);
            }
        }, iter: 100_000);
    }
}
