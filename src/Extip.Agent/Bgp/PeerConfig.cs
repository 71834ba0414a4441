using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Bfd;
using Extip.Bgp.Speaker;
using Extip.Core.Selectors;
using Extip.Kubernetes.Models;

namespace Extip.Agent.Bgp;

/// <summary>
/// Turns a BGPPeer into the options of one session on this node, or into an error that names the
/// field and the value. Pure: the password comes through <c>password</c>, the labels as given.
/// </summary>
public static class PeerConfig
{
    /// <summary>Whether the BGPPeer's node selector picks a node with these labels (no selector: every node); false when the selector is invalid.</summary>
    public static bool Selects(BgpPeer peer, IReadOnlyDictionary<string, string> nodeLabels) =>
        Selection(peer, nodeLabels) is (true, null);

    /// <summary>
    /// Whether the node selector picks a node with these labels, or what is wrong with the selector
    /// (an unknown field or operator is an error, never <c>In</c>: a typo must not widen it).
    /// </summary>
    public static (bool Selected, string? Error) Selection(BgpPeer peer, IReadOnlyDictionary<string, string> nodeLabels)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.Spec.NodeSelector is not { } s)
        {
            return (true, null);
        }

        var errors = new List<string>();
        var selector = s.ToSelector("spec.nodeSelector", errors);
        return errors.Count > 0 ? (false, string.Join("; ", errors)) : (selector.Matches(nodeLabels), null);
    }

    /// <summary>The session options, or the first thing wrong with the BGPPeer.</summary>
    public static (PeerOptions? Options, string? Error) Build(BgpPeer peer, uint defaultRouterId, Func<SecretKeyRef, (string? Password, string? Error)> password)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(password);
        var s = peer.Spec;
        if (!IPAddress.TryParse(s.PeerAddress, out var address))
        {
            return Fail($"spec.peerAddress: \"{s.PeerAddress}\" is not an IP address");
        }

        if (s.PeerAsn is < 1 or > uint.MaxValue)
        {
            return Fail($"spec.peerASN: {s.PeerAsn} is not an AS number (1 to 4294967295)");
        }

        if (s.LocalAsn is < 1 or > uint.MaxValue)
        {
            return Fail($"spec.localASN: {s.LocalAsn} is not an AS number (1 to 4294967295)");
        }

        var hold = TimeSpan.FromSeconds(90);
        if (s.HoldTime is { } h && !TryDuration(h, out hold))
        {
            return Fail($"spec.holdTime: \"{h}\" is not a duration (such as 90s or 3m; a finite, non-negative number)");
        }

        TimeSpan? keepalive = null;
        if (s.KeepaliveTime is { } k)
        {
            if (!TryDuration(k, out var ka))
            {
                return Fail($"spec.keepaliveTime: \"{k}\" is not a duration (such as 30s; a finite, non-negative number)");
            }

            keepalive = ka;
        }

        var connect = TimeSpan.FromSeconds(5);
        if (s.ConnectTime is { } c && !TryDuration(c, out connect))
        {
            return Fail($"spec.connectTime: \"{c}\" is not a duration (such as 5s; a finite, non-negative number)");
        }

        IPAddress? source = null;
        if (s.SourceAddress is { } src)
        {
            if (!IPAddress.TryParse(src, out source))
            {
                return Fail($"spec.sourceAddress: \"{src}\" is not an IP address");
            }

            if (source.AddressFamily != address.AddressFamily)
            {
                return Fail($"spec.sourceAddress: {source} is not of the family of spec.peerAddress {address}");
            }
        }

        var routerId = defaultRouterId;
        if (s.RouterId is { } rid)
        {
            if (!IPAddress.TryParse(rid, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || ip.Equals(IPAddress.Any))
            {
                return Fail($"spec.routerID: \"{rid}\" is not a non-zero IPv4 address");
            }

            routerId = PeerOptions.RouterIdOf(ip);
        }

        string? secret = null;
        if (s.PasswordSecret is { } reference)
        {
            var (value, error) = password(reference);
            if (error is not null)
            {
                return Fail($"spec.passwordSecret: {error}");
            }

            secret = value;
        }

        BfdOptions? bfd = null;
        if (s.Bfd is { } b)
        {
            if (b.Multiplier is < 1 or > 255)
            {
                return Fail($"spec.bfd.multiplier: {b.Multiplier} is not 1 to 255");
            }

            bfd = new BfdOptions { MinRx = TimeSpan.FromMilliseconds(b.MinRxMs), MinTx = TimeSpan.FromMilliseconds(b.MinTxMs), Multiplier = (byte)b.Multiplier };
        }

        var options = new PeerOptions
        {
            PeerAddress = address,
            PeerPort = s.PeerPort ?? 179,
            LocalAs = (uint)s.LocalAsn,
            PeerAs = (uint)s.PeerAsn,
            RouterId = routerId,
            LocalAddress = source,
            HoldTime = hold,
            KeepaliveTime = keepalive,
            ConnectRetry = connect,
            Password = secret,
            Ttl = s.EbgpMultiHop,
            GracefulRestart = s.GracefulRestart ?? false,
            Bfd = bfd,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            return Fail($"spec.{e.Message}");
        }

        return (options, null);

        static (PeerOptions?, string?) Fail(string why) => (null, why);
    }

    /// <summary>"90s", "1m30s", "500ms", "2h", or plain seconds ("90").</summary>
    public static bool TryDuration(string text, out TimeSpan value)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = TimeSpan.Zero;
        var t = text.Trim();
        if (t.Length == 0)
        {
            return false;
        }

        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            // "1e400" parses as infinity and "NaN" as NaN; TimeSpan.FromSeconds throws on both.
            return Seconds(plain, out value);
        }

        var at = 0;
        var total = 0.0;
        while (at < t.Length)
        {
            var start = at;
            while (at < t.Length && (char.IsAsciiDigit(t[at]) || t[at] == '.'))
            {
                at++;
            }

            if (at == start || !double.TryParse(t.AsSpan(start, at - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                return false;
            }

            var unitStart = at;
            while (at < t.Length && char.IsAsciiLetter(t[at]))
            {
                at++;
            }

            double? scale = t[unitStart..at] switch { "ms" => 0.001, "s" => 1, "m" => 60, "h" => 3600, _ => null };
            if (scale is null)
            {
                return false;
            }

            total += n * scale.Value;
        }

        return Seconds(total, out value);
    }

    /// <summary>A finite, non-negative number of seconds a TimeSpan can hold; never throws.</summary>
    private static bool Seconds(double seconds, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (!double.IsFinite(seconds) || seconds < 0 || seconds >= TimeSpan.MaxValue.TotalSeconds)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
