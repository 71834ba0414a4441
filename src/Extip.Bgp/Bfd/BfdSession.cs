using System.Net;
using System.Net.Sockets;
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
    // Null when the endpoint's transmit worker sends (then _transmitter is not).
    private readonly Socket? _sender;
    private readonly BfdTransmitClient? _transmitter;
    private readonly byte[] _frame = new byte[BfdTxFrame.Size];
    private (BfdPacket? Packet, TimeSpan Interval)? _told;
    private readonly IPEndPoint _destination;
    // Serialized once: SendTo with an EndPoint serializes it again on every packet.
    private readonly SocketAddress _destinationAddress;
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly long _start;
    private readonly byte[] _out = new byte[BfdPacket.Length];
    private long _sent;
    private int _disposed;

    internal BfdSession(BfdEndpoint endpoint, IPAddress peer, IPAddress? local, BfdOptions options, uint discriminator, ILogger logger)
    {
        _endpoint = endpoint;
        _logger = logger;
        Since = endpoint.Time.GetUtcNow().UtcDateTime;
        Peer = peer;
        Local = local;
        _start = endpoint.Time.GetTimestamp();
        _machine = new BfdMachine(options, discriminator, TimeSpan.Zero);
        _destination = new IPEndPoint(peer, endpoint.ListenPort);
        _destinationAddress = _destination.Serialize();
        _transmitter = endpoint.Transmitter;
        if (_transmitter is null)
        {
            _sender = endpoint.OpenSender(peer, local);
        }
        else
        {
            _transmitter.Open(discriminator, peer, local, endpoint.ListenPort);
            lock (_gate)
            {
                TellTransmitter();
            }
        }
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

    /// <summary>Packets sent: by this process, or as the transmit worker last reported (once a second).</summary>
    public long PacketsSent => _transmitter?.Sent(LocalDiscriminator) ?? Interlocked.Read(ref _sent);

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

    public DateTime Since { get; private set; }

    /// <summary>When the last packet from the peer reached the machine (the endpoint's <see cref="TimeProvider"/> timestamp; 0 before any).</summary>
    public long LastPacketAt => Interlocked.Read(ref _lastPacketAt);

    private long _lastPacketAt;

    /// <summary>Every state change, raised outside the session's lock.</summary>
    public event Action<BfdSession, BfdTransition>? StateChanged;


    /// <summary>Our packets say AdminDown (the peer's clients must not take that as a failure, RFC 5882 §3.2), or start again.</summary>
    public void SetAdminDown(bool down)
    {
        BfdTransition? change;
        lock (_gate)
        {
            change = _machine.SetAdminDown(down, Now());
            TellTransmitter();
        }

        Raise(change);
        _endpoint.WakeTimers();
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // The timer thread may be in Tick: the socket is closed under the lock Send takes.
            lock (_gate)
            {
                _sender?.Dispose();
                _transmitter?.Close(LocalDiscriminator);
            }
        }

        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"BFD {Peer}: {State}";

    internal void OnPacket(in BfdPacket packet, long timestamp)
    {
        Interlocked.Exchange(ref _lastPacketAt, timestamp);
        BfdTransition? change;
        string? discarded = null;
        var now = _endpoint.Time.GetElapsedTime(_start, timestamp);
        bool sooner;
        lock (_gate)
        {
            var before = _machine.PacketsDiscarded;
            var due = NextLook();
            change = _machine.Receive(packet, now, out var final);
            sooner = NextLook() < due;
            if (_machine.PacketsDiscarded != before)
            {
                discarded = _machine.LastDiscard;
            }

            if (final)
            {
                // §6.8.7: the answer to a Poll goes out at once, whatever the timers.
                Send(_machine.FinalPacket());
            }

            TellTransmitter();
        }

        if (discarded is not null)
        {
            LogDiscarded(_logger, Peer.ToString(), discarded);
        }

        // Only when a timer is due sooner than it was (a packet to send, a detection time where
        // there was none): the usual packet only moves the detection time later, and the timer
        // thread's next look, at the time it already waits for, sees that. Before the clients
        // hear of a change, whatever they do then.
        if (sooner || change is not null)
        {
            _endpoint.WakeTimers();
        }

        Raise(change);
    }

    private TimeSpan Now() => _endpoint.Time.GetElapsedTime(_start);

    /// <summary>When the timer thread must look next: the next packet or the detection time, whichever is first (under the lock).</summary>
    private TimeSpan NextLook() => _transmitter is null && _machine.NextTransmit < _machine.DetectionDeadline ? _machine.NextTransmit : _machine.DetectionDeadline;

    /// <summary>
    /// Under the lock, with a transmit worker: tells it the periodic packet and its interval when
    /// either changed since it was last told (a state change, a Poll, the peer's rates).
    /// </summary>
    private void TellTransmitter()
    {
        if (_transmitter is null || Volatile.Read(ref _disposed) == 1)
        {
            return;
        }

        var now = (_machine.PeriodicPacket(), _machine.TransmitInterval);
        if (_told == now)
        {
            return;
        }

        _told = now;
        BfdTxFrame.WriteSet(_frame, LocalDiscriminator, now.Item1, now.TransmitInterval, _machine.JitterHigh);
        _transmitter.Set(LocalDiscriminator, _frame);
    }

    /// <summary>
    /// The session's timers, run by the endpoint's timer thread: the detection time (judged only
    /// after the packets already waiting have been handled) and the periodic packet. Returns how
    /// long until they next need a look (<see cref="Timeout.InfiniteTimeSpan"/>: never).
    /// </summary>
    internal TimeSpan Tick()
    {
        if (Volatile.Read(ref _disposed) == 1)
        {
            return Timeout.InfiniteTimeSpan;
        }

        bool due;
        lock (_gate)
        {
            due = Now() >= _machine.DetectionDeadline;
        }

        if (due)
        {
            // Before the detection time is judged run out: the packets that reached the machine
            // in time but not yet this process (a busy machine) are handled first, each counted
            // from when the kernel received it.
            _endpoint.Drain(Peer.AddressFamily);
        }

        BfdTransition? change;
        TimeSpan wait;
        lock (_gate)
        {
            var now = Now();
            change = _machine.Expire(now);
            if (_transmitter is not null)
            {
                TellTransmitter();
            }
            else if (_machine.Transmit(now) is { } packet)
            {
                Send(packet);
            }

            var next = NextLook();
            wait = next == TimeSpan.MaxValue ? Timeout.InfiniteTimeSpan : next - Now();
        }

        Raise(change);
        return wait;
    }

    private void Send(in BfdPacket packet)
    {
        if (_transmitter is not null)
        {
            BfdTxFrame.WriteOnce(_frame, LocalDiscriminator, packet);
            _transmitter.Once(LocalDiscriminator, _frame);
            return;
        }

        packet.Write(_out);
        try
        {
            _sender!.SendTo(_out, SocketFlags.None, _destinationAddress);
            Interlocked.Increment(ref _sent);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile.
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

        Since = _endpoint.Time.GetUtcNow().UtcDateTime;
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
