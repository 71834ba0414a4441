using Extip.Core.Addresses;

namespace Extip.Core.Tests.Addresses;

public class AddressTests
{
    [Theory]
    [InlineData("192.0.2.1", IpFamily.IPv4, "192.0.2.1")]
    [InlineData("0.0.0.0", IpFamily.IPv4, "0.0.0.0")]
    [InlineData("255.255.255.255", IpFamily.IPv4, "255.255.255.255")]
    [InlineData("2001:db8::1", IpFamily.IPv6, "2001:db8::1")]
    [InlineData("2001:DB8:0:0:0:0:0:1", IpFamily.IPv6, "2001:db8::1")]
    [InlineData("::", IpFamily.IPv6, "::")]
    [InlineData("::ffff:192.0.2.1", IpFamily.IPv6, "::ffff:192.0.2.1")]
    public void Parse_ValidText_RoundTripsToCanonicalForm(string text, IpFamily family, string canonical)
    {
        var a = Address.Parse(text);
        Assert.Equal(family, a.Family);
        Assert.Equal(canonical, a.ToString());
        Assert.Equal(a, Address.Parse(a.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("192.0.2", "four decimal numbers")]
    [InlineData("192.0.2.1.5", "more than four parts")]
    [InlineData("192.0.2.256", "\"256\" is not a number 0-255")]
    [InlineData("192.0.02.1", "leading zero")]
    [InlineData("192.0.2.-1", "not a number")]
    [InlineData("1", "four decimal numbers")]
    [InlineData("2001:db8::1%eth0", "zone")]
    [InlineData("2001:db8:::1", "not an IPv6 address")]
    [InlineData("fe80::1/64", "prefix lengths")]
    [InlineData("example.com", "expected four decimal numbers")]
    public void Parse_BadText_ThrowsTypedErrorQuotingTheText(string text, string reasonPart)
    {
        var e = Assert.Throws<AddressFormatException>(() => Address.Parse(text));
        Assert.Equal(text, e.Text);
        Assert.Contains($"\"{text}\"", e.Message, StringComparison.Ordinal);
        Assert.Contains(reasonPart, e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Ordering_PutsIPv4BeforeIPv6_ThenByValue()
    {
        var list = new[] { "2001:db8::1", "192.0.2.10", "192.0.2.9", "::1" }.Select(Address.Parse).Order().Select(a => a.ToString());
        Assert.Equal(["192.0.2.9", "192.0.2.10", "::1", "2001:db8::1"], list);
    }

    [Theory]
    [InlineData("203.0.113.1", "203-0-113-1")]
    [InlineData("2001:db8::1", "2001-db8-0-0-0-0-0-1")]
    [InlineData("2001:db8::", "2001-db8-0-0-0-0-0-0")]
    [InlineData("::1", "0-0-0-0-0-0-0-1")]
    public void ToName_IsDnsLabelSafe(string text, string name) => Assert.Equal(name, Address.Parse(text).ToName());

    [Theory]
    [InlineData("192.0.2.0", true)]
    [InlineData("192.0.2.255", true)]
    [InlineData("192.0.2.1", false)]
    [InlineData("2001:db8::ff", false)]
    public void IsBuggyV4_FlagsOnlyIPv4DotZeroAndDot255(string text, bool buggy) => Assert.Equal(buggy, Address.Parse(text).IsBuggyV4);

    [Fact]
    public void Plus_PastTheEndOfTheFamily_IsNull()
    {
        Assert.Null(Address.Parse("255.255.255.255").Plus(1));
        Assert.Equal(Address.Parse("192.0.3.0"), Address.Parse("192.0.2.255").Plus(1));
    }

    [Fact]
    public void IPAddressConversion_RoundTrips()
    {
        foreach (var t in new[] { "198.51.100.7", "2001:db8:1:2:3:4:5:6" })
        {
            var a = Address.Parse(t);
            Assert.Equal(a, Address.FromIPAddress(a.ToIPAddress()));
        }
    }
}
