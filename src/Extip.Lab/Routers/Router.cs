using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Extip.Lab.Routers;

/// <summary>Which routing daemon plays the lab's top-of-rack router.</summary>
public enum RouterKind
{
    Bird,
    Frr,
    Gobgp,
}

/// <summary>
/// A real routing daemon (BIRD 2, FRR's bgpd or GoBGP) running in one of a site's namespaces,
/// configured from a <see cref="RouterConfig"/>, and asked about its neighbours.
/// </summary>
public abstract class Router : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _log = new();
    private readonly List<Process> _processes = [];

    protected Router(Site site, string netns, RouterConfig config, string name)
    {
        ArgumentNullException.ThrowIfNull(site);
        Site = site;
        Namespace = netns;
        Config = config;
        WorkDir = Path.Combine(site.WorkDir, name);
        Directory.CreateDirectory(WorkDir);
    }

    public Site Site { get; }

    public string Namespace { get; }

    public RouterConfig Config { get; }

    /// <summary>The daemon's config, sockets and pid file.</summary>
    public string WorkDir { get; }

    public abstract RouterKind Kind { get; }

    /// <summary>The daemon's output so far, last lines last.</summary>
    public string Log => string.Join('\n', _log);

    public static Router Create(RouterKind kind, Site site, string netns, RouterConfig config, string name = "router") => kind switch
    {
        RouterKind.Bird => new BirdRouter(site, netns, config, name),
        RouterKind.Frr => new FrrRouter(site, netns, config, name),
        _ => new GobgpRouter(site, netns, config, name),
    };

    /// <summary>Writes the configuration and starts the daemon; returns once it answers.</summary>
    public abstract Task StartAsync(CancellationToken ct = default);

    /// <summary>The session with <paramref name="neighbor"/>, or null when the daemon does not know it.</summary>
    public abstract Task<PeerInfo?> PeerAsync(IPAddress neighbor, CancellationToken ct = default);

    /// <summary>Starts a neighbour configured <see cref="BgpNeighbor.Disabled"/>.</summary>
    public abstract Task EnableAsync(IPAddress neighbor, CancellationToken ct = default);

    /// <summary>Polls the neighbour until <paramref name="done"/> holds; fails with what it last saw and the daemon's log.</summary>
    public async Task<PeerInfo> WaitAsync(IPAddress neighbor, Func<PeerInfo, bool> done, TimeSpan timeout, string what, CancellationToken ct = default, int pollMs = 20)
    {
        ArgumentNullException.ThrowIfNull(done);
        var sw = Stopwatch.StartNew();
        PeerInfo? last = null;
        while (true)
        {
            last = await PeerAsync(neighbor, ct).ConfigureAwait(false);
            if (last is not null && done(last))
            {
                return last;
            }

            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"{Kind} in {Namespace}: neighbour {neighbor} not {what} after {timeout.TotalSeconds} s; last seen {last?.ToString() ?? "unknown neighbour"}\n--- {Kind} log:\n{Tail(40)}");
            }

            await Task.Delay(pollMs, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The last lines of the daemon's output.</summary>
    public string Tail(int lines) => string.Join('\n', _log.TakeLast(lines));

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        foreach (var p in _processes.Where(p => !p.HasExited))
        {
            try
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Puts the router's daemons, every thread, in the real-time class: a real router runs BFD on
    /// hardware or CPUs of its own, so the lab's must not miss the nodes' packets because the test
    /// machine is busy (extip's side is what is measured, and its packets are still judged late
    /// when they are).
    /// </summary>
    public void RunInRealTime(int priority = 10)
    {
        foreach (var p in _processes.Where(p => !p.HasExited))
        {
            Shell.Run("chrt", ["-f", "-a", "-p", priority.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], check: false);
        }
    }

    /// <summary>Starts the daemon in the router's namespace, its output kept for <see cref="Log"/>.</summary>
    protected Process StartProcess(string file, IEnumerable<string> args)
    {
        var p = Site.Start(Namespace, file, args, output: Keep);
        _processes.Add(p);
        return p;
    }

    protected void Keep(string line)
    {
        _log.Enqueue(line);
        while (_log.Count > 2000)
        {
            _log.TryDequeue(out _);
        }
    }

    /// <summary>Fails with the daemon's output when it has exited.</summary>
    protected void CheckRunning()
    {
        if (_processes.FirstOrDefault(p => p.HasExited) is { } p)
        {
            throw new LabException($"{Kind} in {Namespace}: {p.StartInfo.ArgumentList.ElementAtOrDefault(3)} exited with code {p.ExitCode}:\n{Tail(40)}");
        }
    }

    protected async Task WaitUntilAsync(Func<Task<bool>> ready, TimeSpan timeout, string what, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(ready);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            CheckRunning();
            try
            {
                if (await ready().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or LabException)
            {
                if (sw.Elapsed > timeout)
                {
                    throw new LabException($"{Kind} in {Namespace}: {what} did not happen in {timeout.TotalSeconds} s ({e.Message}):\n{Tail(40)}", e);
                }
            }

            if (sw.Elapsed > timeout)
            {
                throw new LabException($"{Kind} in {Namespace}: {what} did not happen in {timeout.TotalSeconds} s:\n{Tail(40)}");
            }

            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }
}
