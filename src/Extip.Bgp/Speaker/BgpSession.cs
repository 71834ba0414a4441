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
