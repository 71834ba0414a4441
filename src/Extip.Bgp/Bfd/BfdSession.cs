using System.Net;
using System.Net.Sockets;
using Extip.Core.Concurrency;
using Microsoft.Extensions.Logging;

namespace Extip.Bgp.Bfd;

/// <summary>
/// One BFD session over UDP: drives a <see cref="BfdMachine"/> with the endpoint's clock, sends
/// its packets from a port of its own, and tells its clients (the BGP session) when it goes up
/// or down.
/// </summary>
public sealed partial class BfdSession : IAsyncDisposable
{
    private readonly BfdEndpoint _endpoint;
    private readonly BfdMachine _machine;
    private readonly Socket _sender;
    private readonly IPEndPoint _destination;
    private readonly Lock _gate = new();
    private readonly Wakeup _wake = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly long _start;
    private readonly byte[] _out = new byte[BfdPacket.Length];
    private Task? _run;
    private long _sent;
    private int _disposed;

    internal BfdSession(BfdEndpoint endpoint, IPAddress peer, IPAddress? local, BfdOptions options, uint discriminator, ILogger logger)
    {
        _endpoint = endpoint;
        _logger = logger;
        Peer = peer;
        Local = local;
        _start = endpoint.Time.GetTimestamp();
        _machine = new BfdMachine(options, discriminator, TimeSpan.Zero);
        _sender = endpoint.OpenSender(peer, local);
        _destination = new IPEndPoint(peer, endpoint.ListenPort);
    }

    public IPAddress Peer { get; }

    public IPAddress? Local { get; }

    public uint LocalDiscriminator => _machine.LocalDiscriminator;

    public BfdState State
    {
        get
        {
            lock (_gate)
            {
                return _machine.State;
            }
        }
    }

    public BfdState RemoteState
    {
        get
        {
            lock (_gate)
            {
                return _machine.RemoteState;
            }
        }
    }

    public BfdDiag LocalDiag
    {
        get
        {
            lock (_gate)
            {
                return _machine.LocalDiag;
            }
        }
    }

    /// <summary>How long without packets before the session goes Down, as negotiated now.</summary>
    public TimeSpan DetectionTime
    {
        get
        {
            lock (_gate)
            {
                return _machine.DetectionTime;
            }
        }
    }

    public TimeSpan TransmitInterval
    {
        get
        {
            lock (_gate)
            {
                return _machine.TransmitInterval;
            }
        }
    }

    public long PacketsSent => Interlocked.Read(ref _sent);

    public long PacketsReceived
    {
        get
        {
            lock (_gate)
            {
                return _machine.PacketsReceived;
            }
        }
    }

    public DateTime Since { get; private set; } = DateTime.UtcNow;

    /// <summary>Every state change, raised outside the session's lock.</summary>
    public event Action<BfdSession, BfdTransition>? StateChanged;

    internal void Start() => _run ??= Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Our packets say AdminDown (the peer's clients must not take that as a failure, RFC 5882 §3.2), or start again.</summary>
    public void SetAdminDown(bool down)
    {
        BfdTransition? change;
        lock (_gate)
        {
            change = _machine.SetAdminDown(down, Now());
        }

        Raise(change);
        _wake.Set();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
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

        _sender.Dispose();
        _stop.Dispose();
    }

    public override string ToString() => $"BFD {Peer}: {State}";

    internal void OnPacket(in BfdPacket packet, long timestamp)
    {
        BfdTransition? change;
        string? discarded = null;
        var now = _endpoint.Time.GetElapsedTime(_start, timestamp);
        lock (_gate)
        {
            var before = _machine.PacketsDiscarded;
            change = _machine.Receive(packet, now, out var final);
            if (_machine.PacketsDiscarded != before)
            {
                discarded = _machine.LastDiscard;
            }

            if (final)
            {
                // §6.8.7: the answer to a Poll goes out at once, whatever the timers.
                Send(_machine.FinalPacket());
            }
        }

        if (discarded is not null)
        {
            LogDiscarded(_logger, Peer.ToString(), discarded);
        }

        Raise(change);
        _wake.Set();
    }

    private TimeSpan Now() => _endpoint.Time.GetElapsedTime(_start);

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            BfdTransition? change;
            TimeSpan wait;
            lock (_gate)
            {
                var now = Now();
                change = _machine.Expire(now);
                if (_machine.Transmit(now) is { } packet)
                {
                    Send(packet);
                }

                var next = _machine.NextTransmit < _machine.DetectionDeadline ? _machine.NextTransmit : _machine.DetectionDeadline;
                wait = next == TimeSpan.MaxValue ? Timeout.InfiniteTimeSpan : next - Now();
            }

            Raise(change);
            if (wait != Timeout.InfiniteTimeSpan && wait <= TimeSpan.Zero)
            {
                continue;
            }

            if (!await _wake.WaitAsync(wait, ct).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private void Send(in BfdPacket packet)
    {
        packet.Write(_out);
        try
        {
            _sender.SendTo(_out, _destination);
            Interlocked.Increment(ref _sent);
        }
        catch (SocketException e)
        {
            // No route or link yet: the next packet tries again; the detection timer judges.
            LogSendFailed(_logger, Peer.ToString(), e.SocketErrorCode.ToString());
        }
    }

    private void Raise(BfdTransition? change)
    {
        if (change is not { } c || c.From == c.To)
        {
            return;
        }

        Since = DateTime.UtcNow;
        LogState(_logger, Peer.ToString(), c.From, c.To, c.Diag);
        StateChanged?.Invoke(this, c);
    }

    [LoggerMessage(EventId = 651, Level = LogLevel.Information, Message = "BFD {Peer}: {From} -> {To} ({Diag})")]
    private static partial void LogState(ILogger logger, string peer, BfdState from, BfdState to, BfdDiag diag);

    [LoggerMessage(EventId = 652, Level = LogLevel.Debug, Message = "BFD {Peer}: send failed: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 653, Level = LogLevel.Debug, Message = "BFD {Peer}: discarded a packet: {Why}")]
    private static partial void LogDiscarded(ILogger logger, string peer, string why);
}
