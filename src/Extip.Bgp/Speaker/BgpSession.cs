using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Extip.Bgp.Bfd;
using Extip.Bgp.Wire;
using Extip.Core.Concurrency;
using Microsoft.Extensions.Logging;

namespace Extip.Bgp.Speaker;

/// <summary>RFC 4271 §8 session states.</summary>
public enum SessionState
{
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// <summary>
/// One BGP session and its finite state machine (RFC 4271 §8), one method per state, each
/// returning the next state and why. It connects (unless passive) and takes the connections the
/// peer makes, settles collisions by BGP identifier (§6.8), keeps the hold and keepalive timers
/// (jittered, §10), and once Established sends its Adj-RIB-Out, then only changes. An error ends
/// the connection with the NOTIFICATION that names it; BFD going down ends it at once.
/// </summary>
public sealed partial class BgpSession : IAsyncDisposable
{
    /// <summary>§8.2.2: the hold time while waiting for the peer's OPEN.</summary>
    private static readonly TimeSpan LargeHoldTime = TimeSpan.FromMinutes(4);

    private readonly ILogger _logger;
    private readonly Channel<IBgpConnection> _incoming = Channel.CreateUnbounded<IBgpConnection>();
    private readonly IBgpConnector _connector;
    private readonly Wakeup _wake = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _run;
    private Connection? _conn;
    private volatile bool _shuttingDown;
    private volatile bool _bfdDown;
    private BfdSession? _bfd;
    private long _updatesSent;
    private long _established;
    private int _disposed;

    /// <param name="connector">How connections to the peer are made; TCP when null.</param>
    public BgpSession(PeerOptions options, ILogger logger, IBgpConnector? connector = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _logger = logger;
        _connector = connector ?? TcpConnector.Instance;
    }

    public PeerOptions Options { get; }

    public AdjRibOut Rib { get; } = new();

    public SessionState State { get; private set; } = SessionState.Idle;

    public DateTime? EstablishedSince { get; private set; }

    /// <summary>Why the session last left Established or failed to get there.</summary>
    public string? LastError { get; private set; }

    /// <summary>The peer's OPEN on the current connection.</summary>
    public OpenMessage? PeerOpen { get; private set; }

    public IPEndPoint? LocalEndPoint { get; private set; }

    public long UpdatesSent => Interlocked.Read(ref _updatesSent);

    /// <summary>How many times the session reached Established.</summary>
    public long TimesEstablished => Interlocked.Read(ref _established);

    /// <summary>Prefixes the peer has from us now.</summary>
    public int PrefixesAdvertised => State == SessionState.Established ? Rib.SentCount : 0;

    /// <summary>The BFD session that watches this peer, when BFD is on.</summary>
    public BfdSession? Bfd
    {
        get => _bfd;
        set
        {
            if (_bfd is not null)
            {
                _bfd.StateChanged -= OnBfd;
            }

            _bfd = value;
            if (value is not null)
            {
                value.StateChanged += OnBfd;
            }
        }
    }

    public event Action<BgpSession, SessionState>? StateChanged;

    public void Start() => _run ??= Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Replaces what the session announces; changes go out at once when Established.</summary>
    public void Announce(IReadOnlyDictionary<Prefix, RouteAttributes> routes)
    {
        var first = !_ribKnown;
        _ribKnown = true;
        if (Rib.Set(routes, Options.Family) || first)
        {
            _wake.Set();
        }
    }

    /// <summary>
    /// Whether the routes to announce are known (<see cref="Announce"/> was called once). Until then
    /// an Established session sends no UPDATE and no End-of-RIB: after a restart, a peer helping
    /// with graceful restart keeps our stale routes until End-of-RIB, and one sent before the agent
    /// knows its claims would tell it to drop them all (RFC 4724 §4.1, the deferral).
    /// </summary>
    private volatile bool _ribKnown;

    private bool _wasEstablished;

    /// <summary>A connection the speaker's listener accepted from this peer.</summary>
    public void Accept(IBgpConnection connection)
    {
        _incoming.Writer.TryWrite(connection);
        _wake.Set();
    }

    /// <summary>SIGTERM: withdraws everything, says Cease / administrative shutdown, and stops.</summary>
    public async Task ShutdownAsync(TimeSpan timeout)
    {
        _shuttingDown = true;
        if (State == SessionState.Established)
        {
            var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnState(BgpSession _, SessionState s)
            {
                if (s != SessionState.Established)
                {
                    left.TrySetResult();
                }
            }

            StateChanged += OnState;
            try
            {
                Rib.Set(new Dictionary<Prefix, RouteAttributes>(), Options.Family);
                _wake.Set();
                if (State == SessionState.Established)
                {
                    await left.Task.WaitAsync(timeout, Options.Time).ConfigureAwait(false);
                }
            }
            catch (TimeoutException)
            {
            }
            finally
            {
                StateChanged -= OnState;
            }
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Bfd = null;
        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _conn?.Dispose();
        }

        if (_run is not null)
        {
            try
            {
                await _run.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        while (_incoming.Reader.TryRead(out var s))
        {
            s.Dispose();
        }

        _stop.Dispose();
    }

    public override string ToString() => $"BGP {Options.Name}: {State}";

    private void OnBfd(BfdSession bfd, BfdTransition change)
    {
        // RFC 5882 §3.2: a peer that says AdminDown is not a failure; anything else leaving Up is.
        if (change is { From: BfdState.Up, To: BfdState.Down } && !(change.Diag == BfdDiag.NeighborSignaledDown && bfd.RemoteState == BfdState.AdminDown))
        {
            _bfdDown = true;
            _wake.Set();
        }
    }

    private void SetState(SessionState s, string reason)
    {
        if (State == s)
        {
            return;
        }

        LogState(_logger, Options.Name, State, s, reason);
        if (State == SessionState.Established)
        {
            LastError = reason;
        }

        State = s;
        EstablishedSince = s == SessionState.Established ? Options.Time.GetUtcNow().UtcDateTime : null;
        StateChanged?.Invoke(this, s);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var (state, reason) = (Options.Passive ? SessionState.Active : SessionState.Connect, "started");
        while (!ct.IsCancellationRequested)
        {
            SetState(state, reason);
            try
            {
                (state, reason) = state switch
                {
                    SessionState.Idle => await IdleAsync(ct).ConfigureAwait(false),
                    SessionState.Connect => await ConnectAsync(ct).ConfigureAwait(false),
                    SessionState.Active => await ActiveAsync(ct).ConfigureAwait(false),
                    SessionState.OpenSent => await OpenSentAsync(ct).ConfigureAwait(false),
                    SessionState.OpenConfirm => await OpenConfirmAsync(ct).ConfigureAwait(false),
                    _ => await EstablishedAsync(ct).ConfigureAwait(false),
                };
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (BgpProtocolException e)
            {
                // §6: an error in what the peer sent: say which, and drop the connection.
                await NotifyAsync(e.Code, e.Subcode, e.NotificationData).ConfigureAwait(false);
                (state, reason) = Drop(e.Message);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                (state, reason) = Drop(e.Message);
            }

            if (_shuttingDown && state == SessionState.Idle)
            {
                break;
            }
        }

        Drop("stopped");
        SetState(SessionState.Idle, "stopped");
    }

    private (SessionState, string) Drop(string reason)
    {
        lock (_gate)
        {
            _conn?.Dispose();
            _conn = null;
        }

        PeerOpen = null;
        LastError = reason;
        LogEnded(_logger, Options.Name, reason);
        return (SessionState.Idle, reason);
    }

    /// <summary>Idle: wait the (jittered) connect-retry time, or take a connection the peer makes.</summary>
    private async Task<(SessionState, string)> IdleAsync(CancellationToken ct)
    {
        var accepted = await WaitIncomingAsync(Jitter(Options.ConnectRetry), ct).ConfigureAwait(false);
        if (accepted is not null)
        {
            return await UseAsync(accepted, outgoing: false, ct).ConfigureAwait(false);
        }

        return Options.Passive ? (SessionState.Active, "connect-retry timer expired; waiting for the peer") : (SessionState.Connect, "connect-retry timer expired");
    }

    /// <summary>Connect: a TCP connection to the peer, while also taking one the peer makes.</summary>
    private async Task<(SessionState, string)> ConnectAsync(CancellationToken ct)
    {
        if (_incoming.Reader.TryRead(out var early))
        {
            return await UseAsync(early, outgoing: false, ct).ConfigureAwait(false);
        }

        using var attempt = new Deadline(Options.Time, Options.ConnectRetry, ct);
        var connect = _connector.ConnectAsync(Options, attempt.Token);
        var accept = _incoming.Reader.ReadAsync(attempt.Token).AsTask();
        await Task.WhenAny(connect, accept).ConfigureAwait(false);
        attempt.Cancel();
        string? failure = null;
        try
        {
            await connect.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            failure = e is SocketException s ? s.SocketErrorCode.ToString() : "no answer within the connect-retry time";
        }

        try
        {
            await accept.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }

        var incoming = accept.IsCompletedSuccessfully ? accept.Result : null;
        if (failure is not null)
        {
            return incoming is not null
                ? await UseAsync(incoming, outgoing: false, ct).ConfigureAwait(false)
                : (SessionState.Active, $"connect to {Options.PeerAddress} port {Options.PeerPort} failed: {failure}");
        }

        if (incoming is not null)
        {
            // Both at once: ours goes on, the peer's waits, and OpenConfirm settles which stays.
            _incoming.Writer.TryWrite(incoming);
            _wake.Set();
        }

        return await UseAsync(connect.Result, outgoing: true, ct).ConfigureAwait(false);
    }

    /// <summary>Active: wait for the peer to connect; when not passive, try again after the connect-retry time.</summary>
    private async Task<(SessionState, string)> ActiveAsync(CancellationToken ct)
    {
        var accepted = await WaitIncomingAsync(Options.Passive ? Timeout.InfiniteTimeSpan : Jitter(Options.ConnectRetry), ct).ConfigureAwait(false);
        if (accepted is not null)
        {
            return await UseAsync(accepted, outgoing: false, ct).ConfigureAwait(false);
        }

        return (SessionState.Connect, "connect-retry timer expired");
    }

    /// <summary>OpenSent: our OPEN is out; the peer's must come within the large hold time (§8.2.2).</summary>
    private async Task<(SessionState, string)> OpenSentAsync(CancellationToken ct)
    {
        var conn = _conn!;
        var m = await conn.ReadAsync(LargeHoldTime, ct).ConfigureAwait(false);
        switch (m)
        {
            case NotificationMessage n:
                throw new IOException($"the peer sent {n}");
            case OpenMessage open:
                CheckOpen(open);
                conn.PeerOpen = open;
                conn.Codec = new CodecContext(open.Capabilities.OfType<FourOctetAsCapability>().Any());
                conn.Hold = TimeSpan.FromSeconds(Math.Min((ushort)Options.HoldTime.TotalSeconds, open.HoldTime));
                PeerOpen = open;
                await conn.SendAsync(KeepaliveMessage.Instance, ct).ConfigureAwait(false);
                return (SessionState.OpenConfirm, $"OPEN from {open.Identifier}, AS {open.Asn}, hold {conn.Hold.TotalSeconds} s");
            default:
                throw new BgpProtocolException(BgpError.Fsm, BgpError.UnexpectedInOpenSent, $"{m.Type} in OpenSent");
        }
    }

    /// <summary>OpenConfirm: the peer's KEEPALIVE; a second connection from the peer is settled here (§6.8).</summary>
    private async Task<(SessionState, string)> OpenConfirmAsync(CancellationToken ct)
    {
        var conn = _conn!;
        var deadline = conn.Hold == TimeSpan.Zero ? LargeHoldTime : conn.Hold;
        var read = conn.ReadAsync(deadline, ct);
        while (true)
        {
            var woke = _wake.WhenSetAsync(ct);
            var done = await Task.WhenAny(read, woke).ConfigureAwait(false);
            if (done == woke)
            {
                _wake.TryConsume();
                if (_incoming.Reader.TryRead(out var other))
                {
                    if (await SettleCollisionAsync(conn, other, ct).ConfigureAwait(false) is { } next)
                    {
                        return next;
                    }
                }

                if (_shuttingDown)
                {
                    await NotifyAsync(BgpError.Cease, BgpError.AdministrativeShutdown, []).ConfigureAwait(false);
                    return (SessionState.Idle, "shutting down");
                }

                continue;
            }

            var m = await read.ConfigureAwait(false);
            return m switch
            {
                KeepaliveMessage => Established(conn),
                NotificationMessage n => throw new IOException($"the peer sent {n}"),
                _ => throw new BgpProtocolException(BgpError.Fsm, BgpError.UnexpectedInOpenConfirm, $"{m.Type} in OpenConfirm"),
            };
        }
    }

    private (SessionState, string) Established(Connection conn)
    {
        LastError = null;
        Interlocked.Increment(ref _established);
        Rib.Reset();
        return (SessionState.Established, $"KEEPALIVE from {conn.PeerOpen!.Identifier}");
    }

    /// <summary>
    /// §6.8: of two connections with the same peer, the one started by the side with the higher
    /// BGP identifier stays; the other is closed with Cease / connection collision resolution.
    /// Returns the next state when the current connection is the one to go.
    /// </summary>
    private async Task<(SessionState, string)?> SettleCollisionAsync(Connection current, IBgpConnection other, CancellationToken ct)
    {
        var keepPeers = Options.RouterId < current.PeerOpen!.BgpId;
        if (current.Outgoing && keepPeers)
        {
            await NotifyAsync(BgpError.Cease, BgpError.ConnectionCollisionResolution, []).ConfigureAwait(false);
            Drop("collision: the peer's connection stays (its identifier is higher)");
            return await UseAsync(other, outgoing: false, ct).ConfigureAwait(false);
        }

        await RejectAsync(other, BgpError.ConnectionCollisionResolution, ct).ConfigureAwait(false);
        return null;
    }

    /// <summary>Established: UPDATEs out as the RIB changes, KEEPALIVEs on time, the peer's hold timer watched.</summary>
    private async Task<(SessionState, string)> EstablishedAsync(CancellationToken ct)
    {
        var conn = _conn!;
        var hold = conn.Hold;
        var keepalive = hold == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : Options.KeepaliveTime is { } k && k < hold ? k : hold / 3;
        var nextKeepalive = Options.Time.GetUtcNow().UtcDateTime + Jitter(keepalive);
        var holdExpires = Options.Time.GetUtcNow().UtcDateTime + hold;
        var nextHop = conn.LocalAddress;
        conn.LinkLocal ??= NextHops.LinkLocalOnLink(Options.Netns, nextHop, Options.PeerAddress);
        _bfdDown = false;

        _wasEstablished = true;
        var endOfRibSent = false;
        if (_ribKnown)
        {
            await FlushAsync(conn, nextHop, ct).ConfigureAwait(false);
            await SendEndOfRibAsync(conn, ct).ConfigureAwait(false);
            endOfRibSent = true;
        }

        var read = conn.ReadAsync(Timeout.InfiniteTimeSpan, ct);
        while (true)
        {
            var now = Options.Time.GetUtcNow().UtcDateTime;
            var wake = hold == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : Max(TimeSpan.Zero, (nextKeepalive < holdExpires ? nextKeepalive : holdExpires) - now);
            using var timer = new Deadline(Options.Time, wake, ct);
            var woke = _wake.WhenSetAsync(timer.Token);
            await Task.WhenAny(read, woke).ConfigureAwait(false);
            timer.Cancel();
            ct.ThrowIfCancellationRequested();

            if (read.IsCompleted)
            {
                var m = await read.ConfigureAwait(false);
                holdExpires = Options.Time.GetUtcNow().UtcDateTime + hold;
                switch (m)
                {
                    case NotificationMessage n:
                        return Drop($"the peer sent {n}");
                    case UpdateMessage u:
                        if (u.Errors.Count > 0)
                        {
                            LogUpdateErrors(_logger, Options.Name, string.Join("; ", u.Errors), u.TreatAsWithdraw);
                        }

                        break;
                    case RouteRefreshMessage r when r.Family == AfiSafi.Of(Options.Family):
                        // RFC 2918: the whole Adj-RIB-Out again.
                        Rib.Reset();
                        _wake.Set();
                        break;
                    case OpenMessage:
                        throw new BgpProtocolException(BgpError.Fsm, BgpError.UnexpectedInEstablished, "OPEN in Established");
                }

                read = conn.ReadAsync(Timeout.InfiniteTimeSpan, ct);
            }

            if (woke.IsCompletedSuccessfully && woke.Result)
            {
                _wake.TryConsume();
            }

            if (_bfdDown)
            {
                // RFC 5882 §4.3: the forwarding path is gone; the session goes with it.
                await NotifyAsync(BgpError.Cease, BgpError.BfdDown, []).ConfigureAwait(false);
                return Drop("BFD went down");
            }

            while (_incoming.Reader.TryRead(out var other))
            {
                if (GracefulRestartAgreed(conn))
                {
                    // RFC 4724 §4.2: a new connection from a restarting peer replaces the old one.
                    Drop("the peer connected again (graceful restart)");
                    return await UseAsync(other, outgoing: false, ct).ConfigureAwait(false);
                }

                await RejectAsync(other, BgpError.ConnectionCollisionResolution, ct).ConfigureAwait(false);
            }

            if (_ribKnown)
            {
                await FlushAsync(conn, nextHop, ct).ConfigureAwait(false);
                if (!endOfRibSent)
                {
                    await SendEndOfRibAsync(conn, ct).ConfigureAwait(false);
                    endOfRibSent = true;
                }
            }

            if (_shuttingDown && Rib.SentCount == 0)
            {
                await NotifyAsync(BgpError.Cease, BgpError.AdministrativeShutdown, []).ConfigureAwait(false);
                conn.Shutdown();
                return Drop("shut down: routes withdrawn");
            }

            now = Options.Time.GetUtcNow().UtcDateTime;
            if (hold != TimeSpan.Zero && now >= holdExpires)
            {
                throw new BgpProtocolException(BgpError.HoldTimerExpired, 0, $"nothing from the peer for {hold.TotalSeconds} s");
            }

            if (now >= nextKeepalive)
            {
                await conn.SendAsync(KeepaliveMessage.Instance, ct).ConfigureAwait(false);
                nextKeepalive = now + Jitter(keepalive);
            }
        }
    }

    private bool GracefulRestartAgreed(Connection conn) =>
        Options.GracefulRestart && conn.PeerOpen!.Capabilities.OfType<GracefulRestartCapability>().Any();

    /// <summary>Makes a new connection the current one and sends our OPEN on it.</summary>
    private async Task<(SessionState, string)> UseAsync(IBgpConnection transport, bool outgoing, CancellationToken ct)
    {
        var conn = new Connection(transport, outgoing, Options.Time);
        lock (_gate)
        {
            _conn?.Dispose();
            _conn = conn;
        }

        LocalEndPoint = conn.LocalEndPoint;
        await conn.SendAsync(OurOpen(), ct).ConfigureAwait(false);
        return (SessionState.OpenSent, outgoing ? $"connected from {conn.LocalEndPoint}" : $"the peer connected from {conn.RemoteEndPoint}");
    }

    private async Task<IBgpConnection?> WaitIncomingAsync(TimeSpan wait, CancellationToken ct)
    {
        if (_incoming.Reader.TryRead(out var s))
        {
            return s;
        }

        using var timer = new Deadline(Options.Time, wait, ct);
        try
        {
            return await _incoming.Reader.ReadAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>End-of-RIB (RFC 4724 §2): all we have was sent.</summary>
    private async Task SendEndOfRibAsync(Connection conn, CancellationToken ct) =>
        await conn.SendAsync(UpdateMessage.EndOfRib(AfiSafi.Of(Options.Family)), ct).ConfigureAwait(false);

    private async Task FlushAsync(Connection conn, IPAddress nextHop, CancellationToken ct)
    {
        var updates = Rib.Flush(Options.Family, Options.LocalAs, Options.IsInternal, nextHop, conn.Codec, conn.LinkLocal);
        if (updates.Count == 0)
        {
            return;
        }

        await conn.SendManyAsync(updates, ct).ConfigureAwait(false);
        Interlocked.Add(ref _updatesSent, updates.Count);
    }

    private OpenMessage OurOpen()
    {
        var caps = new List<Capability>
        {
            new MultiprotocolCapability(AfiSafi.Of(Options.Family)),
            new RouteRefreshCapability(),
            new FourOctetAsCapability(Options.LocalAs),
        };
        if (Options.GracefulRestart)
        {
            // Our addresses stay on the node while the agent restarts: forwarding is preserved.
            caps.Add(new GracefulRestartCapability(Options.RestartState && !_wasEstablished, Options.RestartTime, [(AfiSafi.Of(Options.Family), Options.ForwardingPreserved)]));
        }

        var hold = (ushort)Options.HoldTime.TotalSeconds;
        return new OpenMessage(4, Options.LocalAs > ushort.MaxValue ? AsPathAttribute.AsTrans : (ushort)Options.LocalAs, hold, Options.RouterId, caps);
    }

    /// <summary>§6.2: the checks on the peer's OPEN; each failure is the NOTIFICATION it names.</summary>
    private void CheckOpen(OpenMessage open)
    {
        if (open.Asn != Options.PeerAs)
        {
            var two = open.MyAs;
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.BadPeerAs, $"the peer says AS {open.Asn}, expected {Options.PeerAs}", [(byte)(two >> 8), (byte)two]);
        }

        if (open.HoldTime is 1 or 2)
        {
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.UnacceptableHoldTime, $"hold time {open.HoldTime} s");
        }

        if (open.BgpId == 0 || (Options.IsInternal && open.BgpId == Options.RouterId))
        {
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.BadBgpIdentifier, $"identifier {open.Identifier}");
        }

        if (!open.Capabilities.OfType<MultiprotocolCapability>().Any(c => c.Family == AfiSafi.Of(Options.Family))
            && open.Capabilities.OfType<MultiprotocolCapability>().Any())
        {
            // RFC 4760 §8 / RFC 5492: no family in common; nothing could be exchanged.
            throw new BgpProtocolException(BgpError.OpenMessage, BgpError.UnsupportedCapability, $"the peer offers no {AfiSafi.Of(Options.Family)}",
                [Capability.MultiprotocolCode, 4, .. new MultiprotocolCapability(AfiSafi.Of(Options.Family)).Value()]);
        }
    }

    private async Task NotifyAsync(byte code, byte subcode, byte[] data)
    {
        Connection? conn;
        lock (_gate)
        {
            conn = _conn;
        }

        if (conn is null)
        {
            return;
        }

        LogNotify(_logger, Options.Name, BgpError.Describe(code, subcode));
        try
        {
            using var timeout = new Deadline(Options.Time, TimeSpan.FromSeconds(1), CancellationToken.None);
            await conn.SendAsync(new NotificationMessage(code, subcode, data), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
        }
    }

    private async Task RejectAsync(IBgpConnection other, byte subcode, CancellationToken ct)
    {
        LogRejected(_logger, Options.Name, BgpError.Describe(BgpError.Cease, subcode));
        try
        {
            // The rejected connection gets an OPEN first, as §6.8 asks, then the Cease.
            using var conn = new Connection(other, outgoing: false, Options.Time);
            using var timeout = new Deadline(Options.Time, TimeSpan.FromSeconds(1), ct);
            await conn.SendAsync(OurOpen(), timeout.Token).ConfigureAwait(false);
            await conn.SendAsync(new NotificationMessage(BgpError.Cease, subcode, []), timeout.Token).ConfigureAwait(false);
            conn.Shutdown();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>RFC 4271 §10: timers jittered to 75–100 % of their value.</summary>
    private static TimeSpan Jitter(TimeSpan t) => t == Timeout.InfiniteTimeSpan ? t : t * (0.75 + (Random.Shared.NextDouble() * 0.25));

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "BGP {Peer}: {From} -> {To}: {Reason}")]
    private static partial void LogState(ILogger logger, string peer, SessionState from, SessionState to, string reason);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "BGP {Peer}: connection ended: {Error}")]
    private static partial void LogEnded(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "BGP {Peer}: sending NOTIFICATION {What}")]
    private static partial void LogNotify(ILogger logger, string peer, string what);

    [LoggerMessage(EventId = 603, Level = LogLevel.Information, Message = "BGP {Peer}: second connection closed with {What}")]
    private static partial void LogRejected(ILogger logger, string peer, string what);

    [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "BGP {Peer}: UPDATE with attribute errors ({Errors}); treat as withdraw: {Withdraw}")]
    private static partial void LogUpdateErrors(ILogger logger, string peer, string errors, bool withdraw);
}
