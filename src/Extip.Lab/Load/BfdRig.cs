using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Extip.Bgp.Bfd;
using Extip.Lab.Routers;
using Microsoft.Extensions.Logging;

namespace Extip.Lab.Load;

/// <summary>
/// BFD alone between FRR's bfdd (the router) and extip's BFD on N nodes, as in the seed's rack:
/// one single-hop session per node, IPv4. Counts every Up→Down on each side, and how long each
/// of ours takes to go Down when the router goes silent.
/// </summary>
public sealed class BfdRig : IAsyncDisposable
{
    private readonly List<BfdEndpoint> _endpoints = [];
    private readonly ConcurrentQueue<string> _events = new();
    private long _ourDowns;

    private BfdRig(Site site, Fabric fabric, FrrBfd frr, TimeSpan interval, int multiplier)
    {
        Site = site;
        Fabric = fabric;
        Frr = frr;
        Interval = interval;
        Multiplier = multiplier;
    }

    public Site Site { get; }

    public Fabric Fabric { get; }

    public FrrBfd Frr { get; }

    public TimeSpan Interval { get; }

    public int Multiplier { get; }

    public IReadOnlyList<BfdSession> Sessions { get; private set; } = [];

    /// <summary>How our BFD threads are scheduled (each node's endpoint says the same).</summary>
    public string Scheduling => _endpoints.Count == 0 ? "none" : _endpoints[0].Scheduling;

    /// <summary>How the threads that send the periodic packets are scheduled (the transmit workers', when they send).</summary>
    public string TransmitScheduling => _endpoints.Count == 0 ? "none" : _endpoints[0].TransmitScheduling;

    /// <summary>Times a transmit worker stopped sending because this process had not spoken to it for its lease.</summary>
    public int TransmitLapses => _endpoints.Sum(e => e.TransmitLapses);

    /// <summary>The transmit workers' process ids (none when this process sends).</summary>
    public IReadOnlyList<int> TransmitWorkerPids => [.. _endpoints.Select(e => e.TransmitWorkerPid).Where(p => p != 0)];

    /// <summary>How long our timer threads (every node's) have run on a CPU so far.</summary>
    public long TimerTurns => _endpoints.Sum(e => e.TimerTurns);

    public TimeSpan TimerThreadsCpu => _endpoints.Aggregate(TimeSpan.Zero, (sum, e) => sum + e.TimerThreadCpu);

    /// <summary>Bytes our BFD threads (every node's) allocated so far.</summary>
    public long AllocatedBytes => _endpoints.Sum(e => e.AllocatedBytes);

    /// <summary>Our sessions' Up→Down changes so far.</summary>
    public long OurDowns => Interlocked.Read(ref _ourDowns);

    /// <summary>Each of our Up→Down changes: when (since the rig started), which node, why.</summary>
    public IReadOnlyList<string> Events => [.. _events];

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>
    /// FRR and <paramref name="nodes"/> nodes with a session each, Up soon after. With
    /// <paramref name="transmit"/>, each node's periodic packets leave from a transmit worker (as
    /// in the agent); without, from the node's timer thread in this process.
    /// </summary>
    public static async Task<BfdRig> StartAsync(int nodes, TimeSpan interval, int multiplier, ILoggerFactory logs, bool realTime = true, BfdTransmitCommand? transmit = null, TimeSpan? transmitLease = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(logs);
        var site = Site.Create();
        try
        {
            var fabric = Fabric.Create(site);
            var names = Enumerable.Range(1, nodes).Select(i => $"n{i}").ToList();
            foreach (var n in names)
            {
                fabric.AddNode(n);
            }

            var frr = new FrrBfd(site, fabric.Router, [.. names.Select(n => (fabric.V4(n), Fabric.RouterV4))], interval, multiplier);
            await frr.StartAsync(ct).ConfigureAwait(false);
            if (realTime)
            {
                frr.RunInRealTime();
            }

            var rig = new BfdRig(site, fabric, frr, interval, multiplier);
            var options = new BfdOptions { MinTx = interval, MinRx = interval, Multiplier = (byte)multiplier };
            var sessions = new List<BfdSession>();
            foreach (var n in names)
            {
                var endpoint = new BfdEndpoint(fabric.Nodes[n], logs.CreateLogger($"bfd.{n}")) { RealTime = realTime, TransmitWorker = transmit, TransmitLease = transmitLease ?? TimeSpan.FromSeconds(3) };
                rig._endpoints.Add(endpoint);
                var session = endpoint.AddSession(Fabric.RouterV4, fabric.V4(n), options);
                var node = n;
                session.StateChanged += (_, c) =>
                {
                    if (c.From == BfdState.Up && c.To != BfdState.Up)
                    {
                        Interlocked.Increment(ref rig._ourDowns);
                        rig._events.Enqueue($"{rig._clock.Elapsed.TotalSeconds:F3}s {node}: Up -> {c.To} ({c.Diag})");
                    }
                };
                sessions.Add(session);
            }

            rig.Sessions = sessions;
            return rig;
        }
        catch
        {
            site.Dispose();
            throw;
        }
    }

    /// <summary>Waits until every session is Up at the fast rate on both sides.</summary>
    public async Task WaitAllUpAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var frr = await Frr.CountersAsync(ct).ConfigureAwait(false);
            if (Sessions.All(s => s.State == BfdState.Up && s.TransmitInterval == Interval) && frr.Values.All(v => v.Status == "up"))
            {
                return;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"BFD not Up on every session: ours {string.Join(", ", Sessions.Select(s => $"{s.Local} {s.State} {s.TransmitInterval.TotalMilliseconds} ms"))}; FRR {string.Join(", ", frr.Select(f => $"{f.Key} {f.Value.Status}"))}\n{Frr.Log}");
            }

            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    /// <summary>FRR's sessions' Up→Down changes so far (its own counters).</summary>
    public async Task<long> PeerDownsAsync(CancellationToken ct = default) =>
        (await Frr.CountersAsync(ct).ConfigureAwait(false)).Values.Sum(v => v.Downs);

    /// <summary>
    /// The router goes silent (every packet in and out of its namespace dropped): for each of our
    /// sessions, how long after the last packet that reached its node it went Down, in
    /// milliseconds (the detection time as the node lives it). Every session is Up before; the
    /// router is heard again before this returns.
    /// </summary>
    public async Task<IReadOnlyList<(double Ms, BfdDiag Diag)>> SilenceAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        await WaitAllUpAsync(timeout, ct).ConfigureAwait(false);
        var downs = new ConcurrentDictionary<BfdSession, (double, BfdDiag)>();
        void OnChange(BfdSession s, BfdTransition c)
        {
            if (c.To == BfdState.Down)
            {
                var now = TimeProvider.System.GetTimestamp();
                downs.TryAdd(s, (TimeProvider.System.GetElapsedTime(s.LastPacketAt, now).TotalMilliseconds, c.Diag));
            }
        }

        foreach (var s in Sessions)
        {
            s.StateChanged += OnChange;
        }

        try
        {
            Site.Freeze(Fabric.Router);
            var limit = Stopwatch.StartNew();
            while (downs.Count < Sessions.Count)
            {
                if (limit.Elapsed > timeout)
                {
                    throw new TimeoutException($"{Sessions.Count - downs.Count} of {Sessions.Count} BFD sessions still {string.Join(", ", Sessions.Select(x => x.State))} {limit.Elapsed.TotalSeconds:F1} s after the router went silent");
                }

                await Task.Delay(5, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            Site.Thaw(Fabric.Router);
            foreach (var s in Sessions)
            {
                s.StateChanged -= OnChange;
            }
        }

        return [.. downs.Values.OrderBy(d => d.Item1)];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var e in _endpoints)
        {
            await e.DisposeAsync().ConfigureAwait(false);
        }

        await Frr.DisposeAsync().ConfigureAwait(false);
        Site.Dispose();
    }
}
