using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Extip.Netlink;

namespace Extip.Bgp.Bfd;

/// <summary>
/// The process that sends a BFD endpoint's periodic packets (<c>extip bfd-transmit</c>).
/// The agent's process collects garbage, and a collection stops all its threads until it is
/// done, the real-time BFD threads too; when the agent gets little CPU (a busy machine, a low
/// share for its pod), the thread doing the collection waits for the CPU with every other
/// thread stopped, and a stop past the detection time made the router declare a live node
/// down. This process has two threads, both real-time, and allocates nothing in its loops, so
/// nothing stops it: it sends each session's packet, as the agent last set it, on the session's
/// schedule. The agent keeps the sessions (packets in, state, detection) and tells it what to
/// send; it sends only while the agent speaks (a frame at least every 100 ms), at most
/// <c>lease</c> past the last: a hung agent is not kept alive by its BFD.
/// </summary>
public sealed class BfdTransmitWorker
{
    private const int RealTimePriority = 10;
    private static readonly TimeSpan MaxIdle = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan StatsEvery = TimeSpan.FromSeconds(1);

    private readonly string? _netns;
    private readonly long _leaseTicks;
    private readonly Stream _output;
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, Tx> _byId = [];
    private readonly PreciseWakeup _wake = new();
    private readonly byte[] _line = new byte[128];
    private Tx[] _all = [];
    private long _lastInput = Stopwatch.GetTimestamp();
    private volatile bool _done;
    private bool _lapsed;

    private BfdTransmitWorker(string? netns, TimeSpan lease, Stream output)
    {
        _netns = netns;
        _leaseTicks = (long)(lease.TotalSeconds * Stopwatch.Frequency);
        _output = output;
    }

    /// <summary>Runs until <paramref name="input"/> ends (the agent closed it, or died); the exit code.</summary>
    public static int Run(string? netns, TimeSpan lease, Stream input, Stream output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        return new BfdTransmitWorker(netns, lease, output).Run(input);
    }

    private int Run(Stream input)
    {
        var scheduling = RealTime();
        WriteLine($"ready {scheduling}");
        var sender = new Thread(SendLoop) { IsBackground = true, Name = "bfd-tx" };
        sender.Start();
        try
        {
            ReadLoop(input);
        }
        finally
        {
            _done = true;
            _wake.Set();
            sender.Join();
            lock (_gate)
            {
                foreach (var tx in _all)
                {
                    tx.Socket.Dispose();
                }
            }

            _wake.Dispose();
        }

        return 0;
    }

    private static string RealTime() => Scheduling.TryRealTime(RealTimePriority) is { } error ? $"normal class (SCHED_FIFO refused: {error})" : $"SCHED_FIFO {RealTimePriority}";

    private void ReadLoop(Stream input)
    {
        var buffer = new byte[BfdTxFrame.Size * 64];
        var filled = 0;
        while (true)
        {
            var n = input.Read(buffer, filled, buffer.Length - filled);
            if (n == 0)
            {
                return;
            }

            filled += n;
            var used = 0;
            lock (_gate)
            {
                Volatile.Write(ref _lastInput, Stopwatch.GetTimestamp());
                for (; filled - used >= BfdTxFrame.Size; used += BfdTxFrame.Size)
                {
                    Apply(buffer.AsSpan(used, BfdTxFrame.Size));
                }
            }

            Buffer.BlockCopy(buffer, used, buffer, 0, filled - used);
            filled -= used;
            _wake.Set();
        }
    }

    /// <summary>One frame, under the lock.</summary>
    private void Apply(ReadOnlySpan<byte> f)
    {
        var id = BfdTxFrame.Id(f);
        switch (f[0])
        {
            case BfdTxFrame.Open:
            {
                var (_, peer, local, port) = BfdTxFrame.ReadOpen(f);
                if (_byId.Remove(id, out var old))
                {
                    old.Socket.Dispose();
                }

                Socket socket;
                try
                {
                    socket = BfdEndpoint.OpenSender(_netns, peer, local);
                }
                catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
                {
                    WriteLine($"error {id} cannot open a socket to {peer}: {e.Message}");
                    break;
                }

                _byId[id] = new Tx(id, socket, new IPEndPoint(peer, port).Serialize());
                _all = [.. _byId.Values];
                break;
            }

            case BfdTxFrame.Set when _byId.TryGetValue(id, out var tx):
            {
                var was = tx.Periodic;
                tx.Periodic = BfdTxFrame.Periodic(f);
                if (!tx.Periodic)
                {
                    break;
                }

                var changed = !BfdTxFrame.Packet(f).SequenceEqual(tx.Packet);
                BfdTxFrame.Packet(f).CopyTo(tx.Packet);
                var interval = (long)(BfdTxFrame.IntervalUs(f) / 1e6 * Stopwatch.Frequency);
                var intervalChanged = interval != tx.Interval;
                tx.Interval = interval;
                tx.JitterHigh = BfdTxFrame.JitterHighPercent(f) / 100.0;
                var now = Stopwatch.GetTimestamp();
                if (!was)
                {
                    // A session's first packet leaves at once (§6.8.7 starts with one).
                    tx.Next = now;
                }
                else if (changed || intervalChanged)
                {
                    tx.Next = Math.Min(tx.Next, now + tx.Jittered());
                }

                break;
            }

            case BfdTxFrame.Once when _byId.TryGetValue(id, out var tx):
                BfdTxFrame.Packet(f).CopyTo(tx.Once);
                tx.Send(tx.Once);
                break;

            case BfdTxFrame.Close:
                if (_byId.Remove(id, out var closed))
                {
                    closed.Socket.Dispose();
                    _all = [.. _byId.Values];
                }

                break;
        }
    }

    private void SendLoop()
    {
        var scheduling = RealTime();
        if (!scheduling.StartsWith("SCHED_FIFO", StringComparison.Ordinal))
        {
            WriteLine($"sender {scheduling}");
        }

        var nextStats = Stopwatch.GetTimestamp();
        while (!_done)
        {
            var now = Stopwatch.GetTimestamp();
            var wait = (long)(MaxIdle.TotalSeconds * Stopwatch.Frequency);
            lock (_gate)
            {
                var alive = now - Volatile.Read(ref _lastInput) <= _leaseTicks;
                if (alive != !_lapsed)
                {
                    _lapsed = !alive;
                    WriteLine(alive ? "lease renewed" : "lease lapsed");
                }

                foreach (var tx in _all)
                {
                    if (!tx.Periodic || !alive)
                    {
                        continue;
                    }

                    if (now >= tx.Next)
                    {
                        tx.Send(tx.Packet);
                        tx.Next = now + tx.Jittered();
                    }

                    wait = Math.Min(wait, tx.Next - now);
                }

                if (now >= nextStats)
                {
                    nextStats = now + (long)(StatsEvery.TotalSeconds * Stopwatch.Frequency);
                    foreach (var tx in _all)
                    {
                        if (tx.Sent != tx.Reported)
                        {
                            tx.Reported = tx.Sent;
                            WriteStats(tx);
                        }
                    }
                }
            }

            if (wait > 0)
            {
                _wake.Wait(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency));
            }
        }
    }

    /// <summary>"sent ID COUNT", formatted without allocating.</summary>
    private void WriteStats(Tx tx)
    {
        var span = _line.AsSpan();
        "sent "u8.CopyTo(span);
        var at = 5;
        Utf8Formatter.TryFormat(tx.Id, span[at..], out var n);
        at += n;
        span[at++] = (byte)' ';
        Utf8Formatter.TryFormat(tx.Sent, span[at..], out n);
        at += n;
        span[at++] = (byte)'\n';
        Write(span[..at]);
    }

    private void WriteLine(string line) => Write(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    private void Write(ReadOnlySpan<byte> bytes)
    {
        try
        {
            _output.Write(bytes);
            _output.Flush();
        }
        catch (IOException)
        {
            // The agent is gone; its end of the input ends too, and this with it.
        }
    }

    private sealed class Tx(uint id, Socket socket, SocketAddress destination)
    {
        public uint Id { get; } = id;

        public Socket Socket { get; } = socket;

        public byte[] Packet { get; } = new byte[BfdPacket.Length];

        public byte[] Once { get; } = new byte[BfdPacket.Length];

        public bool Periodic { get; set; }

        public long Interval { get; set; }

        public double JitterHigh { get; set; } = 1.0;

        public long Next { get; set; }

        public long Sent { get; private set; }

        public long Reported { get; set; }

        /// <summary>75 % to <see cref="JitterHigh"/> of the interval (§6.8.7).</summary>
        public long Jittered() => (long)(Interval * (0.75 + (Random.Shared.NextDouble() * (JitterHigh - 0.75))));

        public void Send(byte[] packet)
        {
            try
            {
                Socket.SendTo(packet, SocketFlags.None, destination);
                Sent++;
            }
            catch (SocketException)
            {
                // No route or link yet: the next packet tries again; the peer's detection timer judges.
            }
        }
    }
}
