using System.Diagnostics;
using System.Globalization;
using Extip.Netlink;

namespace Extip.Lab;

/// <summary>
/// Network namespaces of one run, all named <c>xl{pid}-{run}-…</c>, wired with veth pairs and
/// bridges that live inside them. Nothing is created in the root namespace. Disposing removes
/// everything; <see cref="Sweep"/> removes what crashed runs (dead pids) left behind.
/// </summary>
public sealed class Site : IDisposable
{
    public const string Family = "xl";

    /// <summary>
    /// Every process a site starts carries its prefix in this environment variable, so that a
    /// sweep finds the ones that outlived a crashed run even when they run in the root namespace.
    /// </summary>
    public const string ProcessMark = "EXTIP_LAB_SITE";

    /// <summary>Where the site's daemons keep their files (configs, control sockets), one folder per run.</summary>
    public static readonly string WorkRoot = Path.Combine(Path.GetTempPath(), "extip-lab");
    private static int _runs;
    private readonly List<string> _namespaces = [];
    private readonly List<Process> _processes = [];
    private readonly Lock _gate = new();

    private Site(string prefix) => Prefix = prefix;

    /// <summary>The name prefix of every namespace of this run.</summary>
    public string Prefix { get; }

    /// <summary>This run's folder under <see cref="WorkRoot"/> (created on first use, removed on dispose).</summary>
    public string WorkDir
    {
        get
        {
            var dir = Path.Combine(WorkRoot, Prefix.TrimEnd('-'));
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    public IReadOnlyList<string> Namespaces
    {
        get
        {
            lock (_gate)
            {
                return [.. _namespaces];
            }
        }
    }

    /// <summary>A new site; first sweeps what dead runs left.</summary>
    public static Site Create()
    {
        Sweep();
        var run = Interlocked.Increment(ref _runs);
        return new Site($"{Family}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{run.ToString(CultureInfo.InvariantCulture)}-");
    }

    /// <summary>Deletes the namespaces of runs whose process is gone (and kills what still runs in them).</summary>
    public static IReadOnlyList<string> Sweep()
    {
        // Tests create sites in parallel: one sweep at a time in this process, so that two do
        // not delete the same dead run's folder file by file under each other.
        lock (SweepGate)
        {
            return SweepLocked();
        }
    }

    private static readonly Lock SweepGate = new();

    private static List<string> SweepLocked()
    {
        var removed = new List<string>();
        foreach (var ns in NetNs.List())
        {
            if (OwnerPid(ns) is { } pid && !Directory.Exists($"/proc/{pid}"))
            {
                Delete(ns);
                removed.Add(ns);
            }
        }

        foreach (var (pid, site) in MarkedProcesses())
        {
            if (OwnerPid(site) is { } owner && !Directory.Exists($"/proc/{owner}"))
            {
                Kill(pid);
            }
        }

        if (Directory.Exists(WorkRoot))
        {
            foreach (var dir in Directory.GetDirectories(WorkRoot))
            {
                if (OwnerPid(Path.GetFileName(dir) + "-") is { } pid && !Directory.Exists($"/proc/{pid}"))
                {
                    DeleteFolder(dir);
                }
            }
        }

        return removed;
    }

    /// <summary>
    /// Removes a dead run's folder. A daemon of that run killed a moment ago (or a sweep in
    /// another process) can remove its own files while this walks them: a file or folder already
    /// gone is no error, and the walk starts again until the folder is gone.
    /// </summary>
    private static void DeleteFolder(string dir)
    {
        for (var attempt = 0; Directory.Exists(dir); attempt++)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException) when (attempt < 20)
            {
            }
        }
    }

    /// <summary>Processes that carry <see cref="ProcessMark"/>: their pid and the site prefix they belong to.</summary>
    public static IEnumerable<(int Pid, string Site)> MarkedProcesses()
    {
        var mark = ProcessMark + "=";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            string environ;
            try
            {
                environ = File.ReadAllText(Path.Combine(dir, "environ"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var v in environ.Split('\0'))
            {
                if (v.StartsWith(mark, StringComparison.Ordinal))
                {
                    yield return (pid, v[mark.Length..]);
                    break;
                }
            }
        }
    }

    /// <summary>Kills a process and what it started; a process already gone is no error.</summary>
    public static void Kill(int pid)
    {
        try
        {
            using var proc = Process.GetProcessById(pid);
            proc.Kill(entireProcessTree: true);
        }
        catch (ArgumentException)
        {
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>The pid in a lab namespace's name, or null when the name is not a lab's.</summary>
    public static int? OwnerPid(string ns)
    {
        if (!ns.StartsWith(Family, StringComparison.Ordinal))
        {
            return null;
        }

        var dash = ns.IndexOf('-', StringComparison.Ordinal);
        return dash > Family.Length && int.TryParse(ns.AsSpan(Family.Length, dash - Family.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>A new namespace with <c>lo</c> up; returns its full name.</summary>
    public string AddNamespace(string name)
    {
        var full = Prefix + name;
        Shell.Run("ip", "netns", "add", full);
        lock (_gate)
        {
            _namespaces.Add(full);
        }

        Shell.Run("ip", "-n", full, "link", "set", "lo", "up");
        return full;
    }

    /// <summary>A veth pair between two of the site's namespaces, both ends up.</summary>
    public void Veth(string nsA, string ifA, string nsB, string ifB, string? macA = null)
    {
        var args = new List<string> { "-n", nsA, "link", "add", ifA };
        if (macA is not null)
        {
            args.AddRange(["address", macA]);
        }

        args.AddRange(["type", "veth", "peer", "name", ifB, "netns", nsB]);
        Shell.Run("ip", args);
        Up(nsA, ifA);
        Up(nsB, ifB);
    }

    /// <summary>A bridge in <paramref name="ns"/> enslaving the given interfaces of that namespace.</summary>
    public void Bridge(string ns, string name, params string[] ports)
    {
        Shell.Run("ip", "-n", ns, "link", "add", name, "type", "bridge");
        Shell.Run("ip", "-n", ns, "link", "set", name, "type", "bridge", "stp_state", "0", "forward_delay", "0");
        foreach (var p in ports)
        {
            Shell.Run("ip", "-n", ns, "link", "set", p, "master", name);
        }

        Up(ns, name);
    }

    public void Up(string ns, string iface) => Shell.Run("ip", "-n", ns, "link", "set", iface, "up");

    public void Address(string ns, string iface, string cidr) =>
        Shell.Run("ip", cidr.Contains(':', StringComparison.Ordinal) ? ["-n", ns, "addr", "add", cidr, "dev", iface, "nodad"] : ["-n", ns, "addr", "add", cidr, "dev", iface]);

    public void Route(string ns, string prefix, string via) => Shell.Run("ip", "-n", ns, "route", "add", prefix, "via", via);

    public void Sysctl(string ns, string key, string value) => Shell.Run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", $"{key}={value}");

    /// <summary>
    /// Drops every packet in and out of the namespace (nftables, at the earliest hooks), as if
    /// the machine had died: no FIN, no RST, no ICMP. <see cref="Thaw"/> lets traffic through again.
    /// </summary>
    public static void Freeze(string ns)
    {
        const string Rules = """
            table inet extip_freeze {
              chain in { type filter hook prerouting priority -400; policy drop; }
              chain out { type filter hook output priority -400; policy drop; }
            }
            """;
        var file = Path.Combine(Path.GetTempPath(), $"extip-freeze-{Guid.NewGuid():N}.nft");
        File.WriteAllText(file, Rules);
        try
        {
            Shell.Run("ip", "netns", "exec", ns, "nft", "-f", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static void Thaw(string ns) => Shell.Run("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", "extip_freeze"], check: false);

    /// <summary>Runs a command inside a namespace and returns its output.</summary>
    public static string Exec(string ns, params string[] command) => Shell.Run("ip", new[] { "netns", "exec", ns }.Concat(command));

    /// <summary>Starts a process inside <paramref name="ns"/> (or in the root namespace when null); the site kills it on dispose.</summary>
    public Process Start(string? ns, string file, IEnumerable<string> args, IDictionary<string, string>? env = null, Action<string>? output = null)
    {
        var psi = ns is null ? new ProcessStartInfo(file) : new ProcessStartInfo("ip");
        if (ns is not null)
        {
            foreach (var a in new[] { "netns", "exec", ns, file })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.UseShellExecute = false;
        psi.Environment[ProcessMark] = Prefix;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        var p = Process.Start(psi) ?? throw new LabException($"could not start {file}");
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                output?.Invoke(e.Data);
            }
        };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                output?.Invoke(e.Data);
            }
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        lock (_gate)
        {
            _processes.Add(p);
        }

        return p;
    }

    public void Dispose()
    {
        List<Process> processes;
        List<string> namespaces;
        lock (_gate)
        {
            processes = [.. _processes];
            namespaces = [.. _namespaces];
            _processes.Clear();
            _namespaces.Clear();
        }

        foreach (var p in processes)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
            }

            p.Dispose();
        }

        foreach (var ns in namespaces)
        {
            Delete(ns);
        }

        DeleteFolder(Path.Combine(WorkRoot, Prefix.TrimEnd('-')));
    }

    private static void Delete(string ns)
    {
        // Whatever still runs inside would keep the namespace alive.
        foreach (var pid in Shell.Run("ip", ["netns", "pids", ns], check: false).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(pid, CultureInfo.InvariantCulture, out var p))
            {
                Kill(p);
            }
        }

        Shell.Run("ip", ["netns", "del", ns], check: false);
    }
}
