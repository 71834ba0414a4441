using System.Globalization;
using System.Net;

namespace Extip.Core.Addresses;

/// <summary>
/// The one reading of a listen option (<c>--listen</c>, <c>--metrics</c>, <c>--webhook</c>):
/// <c>ADDRESS:PORT</c>, <c>[IPv6]:PORT</c>, <c>localhost:PORT</c> or <c>:PORT</c> (every
/// address); port 0 picks a free one. Anything else is an error naming the option and the value.
/// </summary>
public static class ListenAddress
{
    public static IPEndPoint Parse(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new ArgumentException($"{option} \"{text}\": expected ADDRESS:PORT, [IPv6]:PORT or :PORT (port 0 to 65535)");
        }

        var host = text[..colon];
        if (host.Length == 0)
        {
            return new IPEndPoint(IPAddress.Any, port);
        }

        if (host == "localhost")
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        var bracketed = host.StartsWith('[') && host.EndsWith(']');
        if (!IPAddress.TryParse(bracketed ? host[1..^1] : host, out var address) || (!bracketed && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"{option} \"{text}\": \"{host}\" is not an IP address (IPv6 goes in brackets: [::1]:PORT)");
        }

        return new IPEndPoint(address, port);
    }
}
