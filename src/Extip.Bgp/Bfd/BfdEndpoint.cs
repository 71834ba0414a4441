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

    // What the timer thread walks: a copy made when a session comes or goes, so that its loop
    // takes no lock and allocates nothing (ConcurrentDictionary.Values does both).
    private BfdSession[] _sessions = [];
    // Beyond this, a kernel stamp's age says more about the wall clock than about the packet.
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    // Beyond this the timer thread looks again anyway (and sees a stop).
    private static readonly TimeSpan MaxIdle = TimeSpan.FromMilliseconds(100);

    // Real-time, but below the kernel's own threaded interrupts (50).
    private const int RealTimePriority = 10;

    private readonly Dictionary<AddressFamily, Receiver> _receivers = [];
    private readonly List<Thread> _threads = [];
    private readonly PreciseWakeup _timerWake = new();
    private Thread? _timer;
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

    /// <summary>Whether the BFD threads ask for the real-time class (the default; off only to measure what it buys).</summary>
    public bool RealTime { get; init; } = true;

    /// <summary>
    /// The process that sends the periodic packets (<see cref="BfdTransmitWorker"/>), out of reach
    /// of this process's garbage collections; null: this process's timer thread sends them.
    /// </summary>
    public BfdTransmitCommand? TransmitWorker { get; init; }

    /// <summary>
    /// How long the transmit worker goes on sending after this process last spoke to it: past
    /// the longest stop a garbage collection makes on a busy node (776 ms in two collections
    /// measured beside four spinners at nice 19, when 1 s lapsed once in 15 minutes), well
    /// short of a BGP hold time.
    /// </summary>
    public TimeSpan TransmitLease { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Times the transmit worker stopped sending because this process had not spoken for <see cref="TransmitLease"/>.</summary>
    public int TransmitLapses => Transmitter?.Lapses ?? 0;

    /// <summary>The transmit worker's client, once a session needs it.</summary>
    internal BfdTransmitClient? Transmitter { get; private set; }

    /// <summary>How the threads that send the periodic packets are scheduled: the worker's, or this process's timer thread's.</summary>
    public string TransmitScheduling => Transmitter?.Scheduling ?? Scheduling;

    /// <summary>The transmit worker's process id (0: none runs).</summary>
    public int TransmitWorkerPid => Transmitter?.ProcessId ?? 0;

    /// <summary>Datagrams that were not BFD control packets, or no session's.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public string? LastDrop { get; private set; }

    private long _dropped;
    private long _allocated;
    private int _disposed;

    /// <summary>
    /// Bytes the BFD threads allocated so far. Their loops should allocate nothing: an allocation
    /// can make one of them wait for the garbage collector, and a thread that allocates often
    /// makes collections, which stop every thread, more frequent.
    /// </summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);

    /// <summary>How long the timer thread (which sends every session's packets) has run on a CPU so far.</summary>
    public TimeSpan TimerThreadCpu => _timerTid is var tid and not 0 ? Extip.Netlink.Scheduling.ThreadCpuTime(tid) ?? TimeSpan.Zero : TimeSpan.Zero;

    private volatile int _timerTid;

    /// <summary>
    /// How many times the timer thread has woken and looked at the sessions. About one a packet
    /// sent (a packet due, or a received one moving a detection time sooner); a loop that does
    /// not sleep between packets turns hundreds of times a packet.
    /// </summary>
    public long TimerTurns => Interlocked.Read(ref _timerTurns);

    private long _timerTurns;

    public IReadOnlyCollection<BfdSession> Sessions => Array.AsReadOnly(Volatile.Read(ref _sessions));

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
            if (TransmitWorker is { } worker && Transmitter is null)
            {
                Transmitter = new BfdTransmitClient(worker, Netns, TransmitLease, _logger);
            }

            uint discriminator;
            do
            {
                discriminator = (uint)Random.Shared.NextInt64(1, uint.MaxValue);
            }
            while (_byDiscriminator.ContainsKey(discriminator));

            var session = new BfdSession(this, peer, local, options, discriminator, _logger);
            _byDiscriminator[discriminator] = session;
            _byPeer[peer] = session;
            Volatile.Write(ref _sessions, [.. _sessions, session]);
            EnsureTimers();
            WakeTimers();
            return session;
        }
    }

    public async Task RemoveSessionAsync(BfdSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_gate)
        {
            _byPeer.TryRemove(new KeyValuePair<IPAddress, BfdSession>(session.Peer, session));
            _byDiscriminator.TryRemove(session.LocalDiscriminator, out _);
            Volatile.Write(ref _sessions, [.. _sessions.Where(s => s != session)]);
        }

        await session.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        foreach (var s in Volatile.Read(ref _sessions))
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _timerWake.Set();
        foreach (var t in _threads)
        {
            await Task.Run(t.Join).ConfigureAwait(false);
        }

        if (Transmitter is { } transmitter)
        {
            await Task.Run(transmitter.Dispose).ConfigureAwait(false);
        }

        lock (_gate)
        {
            foreach (var r in _receivers.Values)
            {
                lock (r.Gate)
                {
                    r.Socket.Dispose();
                }
            }
        }

        _stop.Dispose();
        _timerWake.Dispose();
    }

    /// <summary>How the BFD threads are scheduled: "SCHED_FIFO 10", or why they run in the normal class.</summary>
    public string Scheduling { get; private set; } = "not started";

    /// <summary>A session's timers changed (a packet, an admin change): the timer thread looks again.</summary>
    internal void WakeTimers()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _timerWake.Set();
        }
    }

    private void EnsureTimers()
    {
        if (_timer is not null)
        {
            return;
        }

        var stop = _stop.Token;
        _timer = new Thread(() => TimerLoop(stop)) { IsBackground = true, Name = "bfd-timers" };
        _threads.Add(_timer);
        _timer.Start();
    }

    /// <summary>
    /// Every session's timers on one thread of its own: sends what is due, judges detection
    /// times, then sleeps until the next is due (or a packet changes them).
    /// </summary>
    private void TimerLoop(CancellationToken ct)
    {
        _timerTid = Extip.Netlink.Scheduling.CurrentThreadId();
        RaisePriority();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        while (!ct.IsCancellationRequested)
        {
            CountAllocated(ref allocated);
            Interlocked.Increment(ref _timerTurns);
            // The worker sends only while this process speaks: a hung agent must not look alive.
            Transmitter?.Keep(MaxIdle);
            var wait = MaxIdle;
            foreach (var session in Volatile.Read(ref _sessions))
            {
                var w = session.Tick();
                if (w != Timeout.InfiniteTimeSpan && w < wait)
                {
                    wait = w;
                }
            }

            if (wait > TimeSpan.Zero)
            {
                try
                {
                    // To the microsecond: WaitOne(TimeSpan) counts whole milliseconds, rounded
                    // down, and a wait under one became none, a spin until the packet was due
                    // (70,000 turns a second with four sessions, each allocating); rounded up,
                    // every packet would leave up to 1 ms late, 10 % of a 10 ms interval.
                    _timerWake.Wait(wait);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        }
    }

    private void CountAllocated(ref long before)
    {
        var now = GC.GetAllocatedBytesForCurrentThread();
        if (now != before)
        {
            Interlocked.Add(ref _allocated, now - before);
            before = now;
        }
    }

    /// <summary>
    /// The BFD threads ask for the real-time class: their timing is what BFD is for, and a busy
    /// machine or a low CPU share for the process must not delay a packet past the peer's
    /// detection time. Without CAP_SYS_NICE they stay in the normal class, and say so once.
    /// </summary>
    private void RaisePriority()
    {
        if (!RealTime)
        {
            Scheduling = "normal class (real time off)";
            return;
        }

        var error = Extip.Netlink.Scheduling.TryRealTime(RealTimePriority);
        lock (_gate)
        {
            var now = error is null ? $"SCHED_FIFO {RealTimePriority}" : $"normal class (SCHED_FIFO refused: {error})";
            if (Scheduling != now && error is not null)
            {
                LogNotRealTime(_logger, error);
            }

            Scheduling = now;
        }
    }

    /// <summary>A socket for one session's packets: source port 49152–65535 (RFC 5881 §4), TTL 255.</summary>
    internal Socket OpenSender(IPAddress peer, IPAddress? local) => OpenSender(Netns, peer, local);

    /// <inheritdoc cref="OpenSender(IPAddress, IPAddress?)"/>
    internal static Socket OpenSender(string? netns, IPAddress peer, IPAddress? local)
    {
        var family = peer.AddressFamily;
        for (var attempt = 0; ; attempt++)
        {
            var s = NetNs.Run(netns, () => new Socket(family, SocketType.Dgram, ProtocolType.Udp));
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
            Datagrams.EnableTimestamps(s);
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

        var receiver = new Receiver(s);
        _receivers[family] = receiver;

        // A thread of its own, not the thread pool: on a busy machine a pool that is short of
        // threads would leave the peer's packets waiting while the detection timer runs.
        var stop = _stop.Token;
        var thread = new Thread(() => ReceiveLoop(receiver, stop)) { IsBackground = true, Name = $"bfd-rx-{(family == AddressFamily.InterNetwork ? "v4" : "v6")}" };
        _threads.Add(thread);
        thread.Start();
    }

    /// <summary>
    /// Handles every packet waiting for <paramref name="family"/> before returning: a session
    /// calls it before it decides that its detection time ran out, so that a packet that reached
    /// the machine in time, but not yet this process, still counts.
    /// </summary>
    internal void Drain(AddressFamily family)
    {
        Receiver? receiver;
        lock (_gate)
        {
            _receivers.TryGetValue(family, out receiver);
        }

        if (receiver is not null)
        {
            DrainReceiver(receiver);
        }
    }

    private void ReceiveLoop(Receiver receiver, CancellationToken ct)
    {
        RaisePriority();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        while (!ct.IsCancellationRequested)
        {
            CountAllocated(ref allocated);
            try
            {
                if (Datagrams.WaitReadable(receiver.Socket, 100))
                {
                    DrainReceiver(receiver);
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void DrainReceiver(Receiver receiver)
    {
        // Taking a packet off the socket and handling it happen under one lock: whoever holds it
        // has handled everything that was waiting when it got it.
        lock (receiver.Gate)
        {
            if (receiver.Socket.SafeHandle.IsClosed)
            {
                return;
            }

            while (Datagrams.TryReceive(receiver.Socket, receiver.Buffer, out var r))
            {
                if (r.Error is not null || r.From is null)
                {
                    // An ICMP error for something we sent; nothing to read.
                    continue;
                }

                Handle(receiver.Buffer.AsSpan(0, r.Length), r.From, ReceivedAt(r.KernelTime));
            }
        }
    }

    /// <summary>
    /// When the packet arrived, on <see cref="Time"/>'s clock: the kernel's stamp is on the wall
    /// clock, so only its age (the wall clock now, less the stamp) is used, and only when it is
    /// plausible (a step of the wall clock in between makes it 0).
    /// </summary>
    private long ReceivedAt(DateTimeOffset? kernel)
    {
        var now = Time.GetTimestamp();
        if (kernel is not { } k || !ReferenceEquals(Time, TimeProvider.System))
        {
            return now;
        }

        var age = Time.GetUtcNow() - k;
        if (age <= TimeSpan.Zero || age > MaxAge)
        {
            return now;
        }

        return now - (long)(age.TotalSeconds * Time.TimestampFrequency);
    }

    private void Handle(ReadOnlySpan<byte> datagram, IPAddress from, long timestamp)
    {
        if (!BfdPacket.TryRead(datagram, out var packet, out var reason))
        {
            Drop($"from {from}: {reason}");
            return;
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
            return;
        }

        session.OnPacket(packet, timestamp);
    }

    private void Drop(string why)
    {
        Interlocked.Increment(ref _dropped);
        LastDrop = why;
        LogDropped(_logger, why);
    }

    private sealed class Receiver(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public Lock Gate { get; } = new();

        public byte[] Buffer { get; } = new byte[512];
    }

    [LoggerMessage(EventId = 654, Level = LogLevel.Warning, Message = "BFD: the real-time class was refused ({Error}); BFD runs in the normal class, where a busy machine can delay its packets (grant CAP_SYS_NICE)")]
    private static partial void LogNotRealTime(ILogger logger, string error);

    [LoggerMessage(EventId = 650, Level = LogLevel.Debug, Message = "BFD: dropped a packet {Why}")]
    private static partial void LogDropped(ILogger logger, string why);
}
