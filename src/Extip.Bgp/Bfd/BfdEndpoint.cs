using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Extip.Netlink;
using Microsoft.Extensions.Logging;

namespace Extip.Bgp.Bfd;

/// <summary>
/// BFD in one network namespace (RFC 5881, single hop): the sockets that receive on UDP 3784,
/// the sessions, and the demultiplexing between them: by our discriminator when the peer knows
/// it, else by the peer's address (§3 of RFC 5881).
/// </summary>
public sealed partial class BfdEndpoint : IAsyncDisposable
{
    public const int Port = 3784;

    // GTSM (RFC 5881 §5, RFC 5082): received packets must carry TTL / hop limit 255; the kernel
    // drops the others for us.
    private const int IpProtoIp = 0;
    private const int IpMinTtl = 21;
    private const int IpProtoIpv6 = 41;
    private const int Ipv6MinHopCount = 73;

    private readonly ConcurrentDictionary<uint, BfdSession> _byDiscriminator = new();
    private readonly ConcurrentDictionary<IPAddress, BfdSession> _byPeer = new();
    private readonly Dictionary<AddressFamily, Socket> _receivers = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly ILogger _logger;

    public BfdEndpoint(string? netns, ILogger logger, TimeProvider? time = null, int port = Port)
    {
        Netns = netns;
        _logger = logger;
        Time = time ?? TimeProvider.System;
        ListenPort = port;
    }

    public string? Netns { get; }

    public TimeProvider Time { get; }

    public int ListenPort { get; }

    /// <summary>Datagrams that were not BFD control packets, or no session's.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public string? LastDrop { get; private set; }

    private long _dropped;
    private int _disposed;

    public IReadOnlyCollection<BfdSession> Sessions => (IReadOnlyCollection<BfdSession>)_byPeer.Values;

    /// <summary>A session with <paramref name="peer"/>; the sockets for its family open on first use.</summary>
    public BfdSession AddSession(IPAddress peer, IPAddress? local, BfdOptions options)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(options);
        lock (_gate)
        {
            if (_byPeer.ContainsKey(peer))
            {
                throw new InvalidOperationException($"a BFD session with {peer} exists already");
            }

            EnsureReceiver(peer.AddressFamily);
            uint discriminator;
            do
            {
                discriminator = (uint)Random.Shared.NextInt64(1, uint.MaxValue);
            }
            while (_byDiscriminator.ContainsKey(discriminator));

            var session = new BfdSession(this, peer, local, options, discriminator, _logger);
            _byDiscriminator[discriminator] = session;
            _byPeer[peer] = session;
            session.Start();
            return session;
        }
    }

    public async Task RemoveSessionAsync(BfdSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        _byPeer.TryRemove(new KeyValuePair<IPAddress, BfdSession>(session.Peer, session));
        _byDiscriminator.TryRemove(session.LocalDiscriminator, out _);
        await session.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        foreach (var s in _byPeer.Values)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var r in _receivers.Values)
            {
                r.Dispose();
            }
        }

        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>A socket for one session's packets: source port 49152–65535 (RFC 5881 §4), TTL 255.</summary>
    internal Socket OpenSender(IPAddress peer, IPAddress? local)
    {
        var family = peer.AddressFamily;
        for (var attempt = 0; ; attempt++)
        {
            var s = NetNs.Run(Netns, () => new Socket(family, SocketType.Dgram, ProtocolType.Udp));
            try
            {
                Speaker.TcpOptions.SetTtl(s, 255);

                var port = Random.Shared.Next(49152, 65536);
                s.Bind(new IPEndPoint(local ?? (family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any), port));
                return s;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 32)
            {
                s.Dispose();
            }
            catch
            {
                s.Dispose();
                throw;
            }
        }
    }

    private void EnsureReceiver(AddressFamily family)
    {
        if (_receivers.ContainsKey(family))
        {
            return;
        }

        var s = NetNs.Run(Netns, () => new Socket(family, SocketType.Dgram, ProtocolType.Udp));
        try
        {
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (family == AddressFamily.InterNetworkV6)
            {
                s.DualMode = false;
                s.SetRawSocketOption(IpProtoIpv6, Ipv6MinHopCount, BitConverter.GetBytes(255));
                s.Bind(new IPEndPoint(IPAddress.IPv6Any, ListenPort));
            }
            else
            {
                s.SetRawSocketOption(IpProtoIp, IpMinTtl, BitConverter.GetBytes(255));
                s.Bind(new IPEndPoint(IPAddress.Any, ListenPort));
            }
        }
        catch
        {
            s.Dispose();
            throw;
        }

        _receivers[family] = s;
        var stop = _stop.Token;
        _loops.Add(Task.Run(() => ReceiveLoopAsync(s, stop), CancellationToken.None));
    }

    private async Task ReceiveLoopAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[512];
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetwork ? new IPEndPoint(IPAddress.Any, 0) : new IPEndPoint(IPAddress.IPv6Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable)
            {
                // An ICMP error for something we sent; nothing to read.
                continue;
            }

            var from = ((IPEndPoint)r.RemoteEndPoint).Address;
            var now = Time.GetTimestamp();
            if (!BfdPacket.TryRead(buffer.AsSpan(0, r.ReceivedBytes), out var packet, out var reason))
            {
                Drop($"from {from}: {reason}");
                continue;
            }

            // RFC 5880 §6.8.6: by Your Discriminator when set, else by the source address.
            BfdSession? session;
            if (packet.YourDiscriminator != 0)
            {
                _byDiscriminator.TryGetValue(packet.YourDiscriminator, out session);
            }
            else
            {
                _byPeer.TryGetValue(from, out session);
            }

            if (session is null || !session.Peer.Equals(from))
            {
                Drop($"from {from}: no session for your discriminator {packet.YourDiscriminator}");
                continue;
            }

            session.OnPacket(packet, now);
        }
    }

    private void Drop(string why)
    {
        Interlocked.Increment(ref _dropped);
        LastDrop = why;
        LogDropped(_logger, why);
    }

    [LoggerMessage(EventId = 650, Level = LogLevel.Debug, Message = "BFD: dropped a packet {Why}")]
    private static partial void LogDropped(ILogger logger, string why);
}
