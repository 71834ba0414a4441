using Extip.Core.Addresses;

namespace Extip.Core.Tests.Addresses;

public class ReservedAddressesTests
{
    [Theory]
    [InlineData("0.0.0.0", "0.0.0.0/8 (unspecified)")]
    [InlineData("0.0.0.1", "0.0.0.0/8 (unspecified)")]
    [InlineData("0.255.255.255", "0.0.0.0/8 (unspecified)")]
    [InlineData("127.0.0.1", "127.0.0.0/8 (loopback)")]
    [InlineData("169.254.1.1", "169.254.0.0/16 (link-local)")]
    [InlineData("224.0.0.5", "224.0.0.0/4 (multicast)")]
    [InlineData("239.255.255.255", "224.0.0.0/4 (multicast)")]
    [InlineData("255.255.255.255", "255.255.255.255 (limited broadcast)")]
    [InlineData("::", ":: (unspecified)")]
    [InlineData("::1", "::1 (loopback)")]
    [InlineData("fe80::1", "fe80::/10 (link-local)")]
    [InlineData("febf:ffff::1", "fe80::/10 (link-local)")]
    [InlineData("ff02::1", "ff00::/8 (multicast)")]
    public void Of_ReservedAddress_NamesItsBlock(string address, string block) =>
        Assert.Equal(block, ReservedAddresses.Of(Address.Parse(address))?.ToString());

    [Theory]
    [InlineData("1.0.0.0")]
    [InlineData("126.255.255.255")]
    [InlineData("128.0.0.0")]
    [InlineData("169.253.255.255")]
    [InlineData("223.255.255.255")]
    [InlineData("240.0.0.0")]
    [InlineData("255.255.255.254")]
    [InlineData("192.0.2.0")]
    [InlineData("203.0.113.255")]
    [InlineData("::2")]
    [InlineData("fec0::1")]
    [InlineData("2001:db8::")]
    public void Of_RoutableAddress_IsNull(string address) =>
        Assert.Null(ReservedAddresses.Of(Address.Parse(address)));

    [Theory]
    [InlineData("192.0.2.0/24", "192.0.2.0/24", "")]
    [InlineData("0.0.0.0/7", "1.0.0.0/8", "0.0.0.0/8 (unspecified)")]
    [InlineData("126.255.255.254-127.0.0.1", "126.255.255.254/31", "127.0.0.0/8 (loopback)")]
    [InlineData("127.0.0.0/8", "", "127.0.0.0/8 (loopback)")]
    [InlineData("169.254.255.255-169.255.0.1", "169.255.0.0/31", "169.254.0.0/16 (link-local)")]
    [InlineData("223.255.255.255-240.0.0.0", "223.255.255.255 240.0.0.0", "224.0.0.0/4 (multicast)")]
    [InlineData("255.255.255.254/31", "255.255.255.254", "255.255.255.255 (limited broadcast)")]
    [InlineData("::/126", "::2/127", ":: (unspecified), ::1 (loopback)")]
    [InlineData("fe00::/7", "fe00::/9 fec0::/10", "fe80::/10 (link-local), ff00::/8 (multicast)")]
    public void Subtract_CutsOutEveryReservedBlock_AndNamesThem(string range, string rest, string touched)
    {
        var hit = new List<ReservedBlock>();
        var left = ReservedAddresses.Subtract(AddressRange.Parse(range), hit);
        Assert.Equal(rest, string.Join(" ", left));
        Assert.Equal(touched, string.Join(", ", hit));
    }

    [Fact]
    public void Subtract_WholeIPv4Space_LeavesNoReservedAddress()
    {
        var left = ReservedAddresses.Subtract(AddressRange.Parse("0.0.0.0/0"), []);
        Assert.Equal("1.0.0.0-126.255.255.255 128.0.0.0-169.253.255.255 169.255.0.0-223.255.255.255 240.0.0.0-255.255.255.254", string.Join(" ", left));
    }
}
