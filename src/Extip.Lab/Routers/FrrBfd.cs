using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Extip.Lab.Routers;

/// <summary>
/// FRR's bfdd alone in a namespace, with single-hop peers configured statically (no BGP): the
/// router side of a BFD-only run. Its counters say how often each session went down.
/// </summary>
public sealed class FrrBfd : IAsyncDisposable
{
    private const string Daemon = "/usr/lib/frr/bfdd";
    private readonly Site _site;
    private readonly string _netns;
    private readonly string _work;
    private readonly List<string> _log = [];
    private System.Diagnostics.Process? _process;

    public FrrBfd(Site site, string netns, IReadOnlyList<(IPAddress Peer, IPAddress Local)> peers, TimeSpan interval, int multiplier)
    {
        ArgumentNullException.ThrowIfNull(site);
        _site = site;
        _netns = netns;
        Peers = peers;
        Interval = interval;
        Multiplier = multiplier;
        _work = Path.Combine(site.WorkDir, $"{netns}-bfdd");
    }

    public IReadOnlyList<(IPAddress Peer, IPAddress Local)> Peers { get; }

    public TimeSpan Interval { get; }

    public int Multiplier { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return string.Join('\n', _log.TakeLast(40));
            }
        }
    }

    public static string Render(IEnumerable<(IPAddress Peer, IPAddress Local)> peers, TimeSpan interval, int multiplier)
    {
        ArgumentNullException.ThrowIfNull(peers);
        var ms = ((int)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var b = new StringBuilder("hostname router\nbfd\n");
        foreach (var (peer, local) in peers)
        {
            b.Append(CultureInfo.InvariantCulture, $" peer {peer} local-address {local}\n");
            b.Append(CultureInfo.InvariantCulture, $"  receive-interval {ms}\n  transmit-interval {ms}\n  detect-multiplier {multiplier}\n !\n");
        }

        return b.Append("!\n").ToString();
    }

    public async Task StartAsync(CancellationToken ct = default)
    {
        if (!File.Exists(Daemon))
        {
            throw new LabException($"{Daemon} is not installed; scripts/install-deps.sh installs frr (CI runs it)");
        }

        Directory.CreateDirectory(_work);
        var conf = Path.Combine(_work, "bfdd.conf");
        await File.WriteAllTextAsync(conf, Render(Peers, Interval, Multiplier), ct).ConfigureAwait(false);
        Shell.Run("chown", "frr:frr", _work);
        _process = _site.Start(_netns, Daemon, ["-f", conf, "-i", Path.Combine(_work, "bfdd.pid"), "-z", Path.Combine(_work, "zserv.api"), "--vty_socket", _work, "-P", "0", "--log", "stdout", "--log-level", "info"], output: Keep);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while ((await CountersAsync(ct).ConfigureAwait(false)).Count < Peers.Count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new LabException($"bfdd in {_netns} did not answer vtysh:\n{Log}");
            }

            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Each peer's state ("up", "down", "init") and how many times its session went down so far.</summary>
    public async Task<IReadOnlyDictionary<IPAddress, (string Status, long Downs)>> CountersAsync(CancellationToken ct = default)
    {
        if (_process is { HasExited: true } p)
        {
            throw new LabException($"bfdd in {_netns} exited with code {p.ExitCode}:\n{Log}");
        }

        var status = Parse(await VtyshAsync("show bfd peers json", ct).ConfigureAwait(false));
        var counters = Parse(await VtyshAsync("show bfd peers counters json", ct).ConfigureAwait(false));
        var result = new Dictionary<IPAddress, (string, long)>();
        foreach (var (peer, c) in counters)
        {
            var s = status.TryGetValue(peer, out var st) && st.TryGetProperty("status", out var v) ? v.GetString() ?? "?" : "?";
            result[peer] = (s, c.TryGetProperty("session-down", out var d) ? d.GetInt64() : 0);
        }

        return result;
    }

    /// <summary>
    /// bfdd's threads in the real-time class, as the lab's router: a router's BFD does not share
    /// the loaded node's CPUs, so on this one machine it must not wait behind the node's load
    /// either, or its own late packets would be counted as the node's false Downs.
    /// </summary>
    public void RunInRealTime(int priority = 10)
    {
        if (_process is { HasExited: false } p)
        {
            Shell.Run("chrt", ["-f", "-a", "-p", priority.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], check: false);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }

        return ValueTask.CompletedTask;
    }

    private static Dictionary<IPAddress, JsonElement> Parse(string json)
    {
        var result = new Dictionary<IPAddress, JsonElement>();
        if (!json.TrimStart().StartsWith('['))
        {
            return result;
        }

        using var doc = JsonDocument.Parse(json);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.TryGetProperty("peer", out var peer) && IPAddress.TryParse(peer.GetString(), out var address))
            {
                result[address] = e.Clone();
            }
        }

        return result;
    }

    private Task<string> VtyshAsync(string command, CancellationToken ct) =>
        Task.Run(() => Shell.Run("vtysh", ["--vty_socket", _work, "-c", command], check: false), ct);

    private void Keep(string line)
    {
        lock (_log)
        {
            _log.Add(line);
            if (_log.Count > 400)
            {
                _log.RemoveRange(0, 200);
            }
        }
    }
}
