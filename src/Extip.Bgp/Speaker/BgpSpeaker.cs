using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Bfd;
using Extip.Bgp.Wire;
using Microsoft.Extensions.Logging;

namespace Extip.Bgp.Speaker;

/// <summary>
/// extip's BGP speaker in one network namespace: a session per peer, a listener for peers
/// that connect (passive ones, and collisions), and one set of routes announced to all of them
/// (each session takes the prefixes of its own address family, with next hop self).
/// </summary>
public sealed class BgpSpeaker : IAsyncDisposable
{
    private readonly ILoggerFactory _logs;
    private readonly Dictionary<IPAddress, BgpSession> _sessions = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private BfdEndpoint? _bfd;
    private int _disposed;
    private Task? _accepting;
    /// <summary>Null until the first <see cref="Announce"/>: sessions send nothing (not even End-of-RIB) before.</summary>
    private IReadOnlyDictionary<Prefix, RouteAttributes>? _routes;

    public BgpSpeaker(string? netns, ILoggerFactory logs, int listenPort = 179)
    {
        Netns = netns;
        _logs = logs;
        ListenPort = listenPort;
    }

    public string? Netns { get; }

    /// <summary>The process that sends BFD's periodic packets (null: this process does); see <see cref="BfdEndpoint.TransmitWorker"/>.</summary>
    public BfdTransmitCommand? BfdTransmit { get; init; }

    public int ListenPort { get; }

    /// <summary>How sessions connect to their peers; TCP in <see cref="Netns"/> when null.</summary>
    public IBgpConnector? Connector { get; init; }

    public IReadOnlyList<BgpSession> Sessions
    {
        get
        {
            lock (_gate)
            {
                return [.. _sessions.Values];
            }
        }
    }

    /// <summary>Listens for peers (IPv4 and IPv6) on the port; 0 picks one. Without it, sessions only connect out.</summary>
    public void Listen()
    {
        var s = TcpOptions.Create(Netns, AddressFamily.InterNetworkV6);
        s.DualMode = true;
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(IPAddress.IPv6Any, ListenPort));
        s.Listen(64);
        _listener = s;
        lock (_gate)
        {
            foreach (var session in _sessions.Values)
            {
                ApplyMd5(session.Options);
            }
        }

        _accepting = Task.Run(() => AcceptLoopAsync(_stop.Token));
    }

    public BgpSession AddPeer(PeerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var session = new BgpSession(options with { Netns = Netns }, _logs.CreateLogger("extip.bgp"), Connector);
        lock (_gate)
        {
            if (_sessions.ContainsKey(options.PeerAddress))
            {
                throw new InvalidOperationException($"a session with {options.PeerAddress} exists already");
            }

            if (options.Bfd is { } bfd)
            {
                _bfd ??= new BfdEndpoint(Netns, _logs.CreateLogger("extip.bfd")) { TransmitWorker = BfdTransmit };
                session.Bfd = _bfd.AddSession(options.PeerAddress, options.LocalAddress, bfd);
            }

            _sessions[options.PeerAddress] = session;
            ApplyMd5(options);
            if (_routes is not null)
            {
                session.Announce(_routes);
            }
        }

        session.Start();
        return session;
    }

    public async Task RemovePeerAsync(IPAddress peer, TimeSpan grace)
    {
        BgpSession? session;
        lock (_gate)
        {
            _sessions.Remove(peer, out session);
        }

        if (session is not null)
        {
            var bfd = session.Bfd;
            await session.ShutdownAsync(grace).ConfigureAwait(false);
            if (bfd is not null && _bfd is not null)
            {
                await _bfd.RemoveSessionAsync(bfd).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Replaces the routes announced to every peer.</summary>
    public void Announce(IReadOnlyDictionary<Prefix, RouteAttributes> routes)
    {
        lock (_gate)
        {
            _routes = routes;
            foreach (var s in _sessions.Values)
            {
                s.Announce(routes);
            }
        }
    }

    /// <summary>SIGTERM: withdraw everything from every peer, say Cease, close.</summary>
    public async Task ShutdownAsync(TimeSpan grace)
    {
        var sessions = Sessions;
        await Task.WhenAll(sessions.Select(s => s.ShutdownAsync(grace))).ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_accepting is not null)
        {
            try
            {
                await _accepting.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        foreach (var s in Sessions)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        if (_bfd is not null)
        {
            await _bfd.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private void ApplyMd5(PeerOptions options)
    {
        if (_listener is not null && options.Password is { } password)
        {
            var peer = options.PeerAddress.AddressFamily == AddressFamily.InterNetwork ? options.PeerAddress.MapToIPv6() : options.PeerAddress;
            TcpOptions.SetMd5(_listener, peer, password);
        }
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener!.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (SocketException) when (!ct.IsCancellationRequested)
            {
                // A connection that broke before it was taken (ECONNABORTED and the like): the
                // listener itself is fine.
                continue;
            }

            var remote = (s.RemoteEndPoint as IPEndPoint)?.Address;
            if (remote is { IsIPv4MappedToIPv6: true })
            {
                remote = remote.MapToIPv4();
            }

            BgpSession? session = null;
            lock (_gate)
            {
                if (remote is not null)
                {
                    _sessions.TryGetValue(remote, out session);
                }
            }

            if (session is null)
            {
                // Not a configured peer: Cease / connection rejected.
                try
                {
                    await s.SendAsync(BgpCodec.Encode(new NotificationMessage(BgpError.Cease, BgpError.ConnectionRejected, [])), ct).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                }

                s.Dispose();
                continue;
            }

            s.NoDelay = true;
            session.Accept(new TcpBgpConnection(s));
        }
    }
}
