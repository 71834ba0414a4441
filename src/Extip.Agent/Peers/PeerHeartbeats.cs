using System.Net;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using Extip.Netlink;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace Extip.Agent.Peers;

/// <summary>
/// The agent's side of the peer heartbeats: the shared key (read from its Secret, rotated without
/// a gap), where heartbeats go (the other agents' node addresses on a subnet this node shares),
/// sending them, and checking the ones that arrive (<see cref="PeerLink"/> carries them).
/// </summary>
internal sealed partial class PeerHeartbeats(IKubernetes client, AgentOptions options, LeaseKeeper lease, Informer<IpClaim> claims, Informer<IpNode> ipNodes, ILogger logger)
{
    private readonly ulong _boot = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
    private ulong _sequence;
    private volatile byte[][] _keys = [];
    private volatile IReadOnlyList<InterfaceState> _interfaces = [];

    /// <summary>The socket heartbeats go out on and come in through (none when the peer port is 0).</summary>
    public PeerLink? Link { get; set; }

    /// <summary>A key has been read: heartbeats can be sent and checked.</summary>
    public bool HasKey => _keys.Length > 0;

    /// <summary>This node's interfaces as the last pass read them.</summary>
    public IReadOnlyList<InterfaceState> Interfaces
    {
        get => _interfaces;
        set => _interfaces = value;
    }

    /// <summary>A datagram that is a heartbeat signed with the current or the previous key.</summary>
    public Heartbeat? Verify(ReadOnlyMemory<byte> datagram)
    {
        foreach (var key in _keys)
        {
            if (Heartbeat.Decode(datagram.Span, key) is { } beat)
            {
                return beat;
            }
        }

        return null;
    }

    /// <summary>The local interface that owns <paramref name="address"/> (where a heartbeat came in).</summary>
    public string? InterfaceOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var i in _interfaces)
        {
            foreach (var a in i.Addresses)
            {
                var slash = a.IndexOf('/', StringComparison.Ordinal);
                if (IPAddress.TryParse(slash < 0 ? a : a[..slash], out var ip) && ip.Equals(address))
                {
                    return i.Name;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Where heartbeats go: every other agent's node addresses (from its IPNode status) that share a
    /// subnet with one of ours, so that each travels a network the two nodes have in common.
    /// Claimed addresses are left out: they belong to Services, not to nodes.
    /// </summary>
    internal List<IPEndPoint> Targets()
    {
        var ours = new List<IPNetwork>();
        foreach (var i in _interfaces.Where(i => i.Up && i.Name != "lo"))
        {
            foreach (var a in i.Addresses)
            {
                var slash = a.IndexOf('/', StringComparison.Ordinal);
                if (slash > 0 && IPAddress.TryParse(a[..slash], out var ip)
                    && int.TryParse(a[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
                    && length <= (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128))
                {
                    ours.Add(new IPNetwork(Masked(ip, length), length));
                }
            }
        }

        var claimed = claims.IsReady ? claims.Items.Select(c => c.Spec.Address).ToHashSet(StringComparer.Ordinal) : [];
        var targets = new List<IPEndPoint>();
        foreach (var node in ipNodes.Items.Where(n => n.Metadata.Name != options.Node))
        {
            foreach (var i in node.Status?.Interfaces ?? [])
            {
                if (!i.Up || i.Name == "lo")
                {
                    continue;
                }

                foreach (var a in i.Addresses)
                {
                    var slash = a.IndexOf('/', StringComparison.Ordinal);
                    if (IPAddress.TryParse(slash < 0 ? a : a[..slash], out var ip) && !claimed.Contains(ip.ToString()) && ours.Any(n => n.Contains(ip)))
                    {
                        targets.Add(new IPEndPoint(ip, options.PeerPort));
                    }
                }
            }
        }

        return targets;
    }

    private static IPAddress Masked(IPAddress ip, int length)
    {
        var bytes = ip.GetAddressBytes();
        for (var b = 0; b < bytes.Length; b++)
        {
            var keep = Math.Clamp(length - (b * 8), 0, 8);
            bytes[b] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }

    /// <summary>Sends a heartbeat every half renew interval (at least 100 ms) while there is a key.</summary>
    public async Task SendLoopAsync(CancellationToken ct)
    {
        var every = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 100, options.RenewInterval.Ticks / 2));
        while (!ct.IsCancellationRequested)
        {
            var keys = _keys;
            if (keys.Length > 0 && Link is { } link)
            {
                var beat = new Heartbeat(options.Node, _boot, ++_sequence, lease.ApiAge, lease.StreakAge).Encode(keys[0]);
                try
                {
                    await link.SendAsync(beat, Targets(), ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            try
            {
                await Task.Delay(every, options.Time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Reads the heartbeat key (again every minute: a new key is used at once, the one before still accepted).</summary>
    public async Task KeyLoopAsync(CancellationToken ct)
    {
        string? lastError = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var secret = await client.GetAsync<k8s.Models.V1Secret>(ApiPath.Core("secrets", options.Namespace, ExtipApi.PeerKeySecret), ct).ConfigureAwait(false);
                if (secret.Data?.TryGetValue(ExtipApi.PeerKeyField, out var key) == true && key.Length >= 16)
                {
                    var keys = _keys;
                    if (keys.Length == 0 || !keys[0].AsSpan().SequenceEqual(key))
                    {
                        _keys = keys.Length == 0 ? [key] : [key, keys[0]];
                        LogPeerKey(logger, keys.Length == 0 ? "read" : "changed");
                    }

                    lastError = null;
                }
                else if (lastError != "short")
                {
                    lastError = "short";
                    LogPeerKeyMissing(logger, $"Secret {options.Namespace}/{ExtipApi.PeerKeySecret} has no \"{ExtipApi.PeerKeyField}\" of 16 bytes or more");
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException or IOException)
            {
                if (e.Message != lastError)
                {
                    lastError = e.Message;
                    LogPeerKeyMissing(logger, e.Message);
                }
            }

            try
            {
                await Task.Delay(_keys.Length == 0 ? TimeSpan.FromSeconds(1) : TimeSpan.FromMinutes(1), options.Time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 514, Level = LogLevel.Information, Message = "peer heartbeat key {What}")]
    private static partial void LogPeerKey(ILogger logger, string what);

    [LoggerMessage(EventId = 515, Level = LogLevel.Warning, Message = "no peer heartbeat key yet ({Error}): a Lease that runs out fences every single-owner claim")]
    private static partial void LogPeerKeyMissing(ILogger logger, string error);
}
