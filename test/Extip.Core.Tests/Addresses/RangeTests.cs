using Extip.Core.Addresses;

namespace Extip.Core.Tests.Addresses;

public class RangeTests
{
    [Theory]
    [InlineData("192.0.2.0/24", "192.0.2.0", "192.0.2.255", "256")]
    [InlineData("192.0.2.10-192.0.2.20", "192.0.2.10", "192.0.2.20", "11")]
    [InlineData(" 192.0.2.10 - 192.0.2.20 ", "192.0.2.10", "192.0.2.20", "11")]
    [InlineData("192.0.2.7", "192.0.2.7", "192.0.2.7", "1")]
    [InlineData("10.0.0.0/8", "10.0.0.0", "10.255.255.255", "16777216")]
    [InlineData("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", "18446744073709551616")]
    [InlineData("2001:db8::10-2001:db8::1f", "2001:db8::10", "2001:db8::1f", "16")]
    [InlineData("0.0.0.0/0", "0.0.0.0", "255.255.255.255", "4294967296")]
    public void Parse_AcceptedForms_GiveFirstLastAndCount(string text, string first, string last, string count)
    {
        var r = AddressRange.Parse(text);
        Assert.Equal(first, r.First.ToString());
        Assert.Equal(last, r.Last.ToString());
        Assert.Equal(UInt128.Parse(count, System.Globalization.CultureInfo.InvariantCulture), r.Count);
    }

    [Theory]
    [InlineData("192.0.2.20-192.0.2.10", "reversed")]
    [InlineData("192.0.2.1-2001:db8::1", "mixes IPv4 and IPv6")]
    [InlineData("192.0.2.5/24", "host bits are set (the network is 192.0.2.0/24)")]
    [InlineData("192.0.2.0/33", "out of range 0-32")]
    [InlineData("2001:db8::/129", "out of range 0-128")]
    [InlineData("192.0.2.0/", "prefix length")]
    [InlineData("192.0.2.0/x", "prefix length \"x\"")]
    [InlineData("192.0.2.x-192.0.2.9", "range start")]
    public void Parse_BadRange_SaysWhyAndQuotesText(string text, string why)
    {
        var e = Assert.Throws<AddressFormatException>(() => AddressRange.Parse(text));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{text}\"", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.0/24", "192.0.2.128/25", true, true)]
    [InlineData("192.0.2.0/25", "192.0.2.128/25", false, false)]
    [InlineData("192.0.2.0-192.0.2.128", "192.0.2.128/25", true, false)]
    [InlineData("192.0.2.0/24", "2001:db8::/120", false, false)]
    public void OverlapAndContainment(string a, string b, bool overlaps, bool contains)
    {
        var x = AddressRange.Parse(a);
        var y = AddressRange.Parse(b);
        Assert.Equal(overlaps, x.Overlaps(y));
        Assert.Equal(overlaps, y.Overlaps(x));
        Assert.Equal(contains, x.Contains(y));
    }

    [Theory]
    [InlineData("192.0.2.0-192.0.2.255", "192.0.2.0/24")]
    [InlineData("192.0.2.1-192.0.2.2", "192.0.2.1-192.0.2.2")]
    [InlineData("192.0.2.2-192.0.2.3", "192.0.2.2/31")]
    [InlineData("2001:db8::-2001:db8::ff", "2001:db8::/120")]
    public void ToString_UsesCidrWhenExact(string text, string shown) => Assert.Equal(shown, AddressRange.Parse(text).ToString());

    [Fact]
    public void Cidr_ContainsAndBroadcast()
    {
        var c = Cidr.Parse("198.51.100.0/26");
        Assert.Equal("198.51.100.63", c.Broadcast.ToString());
        Assert.True(c.Contains(Address.Parse("198.51.100.63")));
        Assert.False(c.Contains(Address.Parse("198.51.100.64")));
        Assert.False(c.Contains(Address.Parse("2001:db8::1")));
    }
}
