using System.Net;
using Extip.Core.Addresses;

namespace Extip.Core.Tests.Addresses;

/// <summary>Issue 14: one reading of host:port for every listen option (three parsers disagreed: one threw on localhost, one took a bare string as the port, one made the port 0).</summary>
public sealed class ListenAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:9090", "127.0.0.1", 9090)]
    [InlineData("localhost:8080", "127.0.0.1", 8080)]
    [InlineData(":9443", "0.0.0.0", 9443)]
    [InlineData("0.0.0.0:0", "0.0.0.0", 0)]
    [InlineData("[::1]:6443", "::1", 6443)]
    [InlineData("[::]:1", "::", 1)]
    public void Parses(string text, string address, int port) =>
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), ListenAddress.Parse(text, "--listen"));

    [Theory]
    [InlineData("9090")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("::1:80")]
    [InlineData("example.org:80")]
    public void Refuses_NamingTheOptionAndTheValue(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => ListenAddress.Parse(text, "--metrics"));
        Assert.StartsWith($"--metrics \"{text}\": ", e.Message, StringComparison.Ordinal);
    }
}
