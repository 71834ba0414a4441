using System.Diagnostics;
using System.Globalization;
using Extip.Lab;

namespace Extip.Cli.Lab;

/// <summary>
/// The lab's controller and agents run from extip's OCI image (<c>lab --image</c>), started by
/// podman the way a kubelet's runtime starts the manifests' pods: the controller as user 65532
/// with every capability dropped, an agent as uid 0 with exactly NET_ADMIN and NET_RAW in its
/// node's network namespace (a hostNetwork pod), both with a read-only root filesystem and no
/// privilege escalation. Containers are named after the site, so a sweep removes what a crashed
/// lab left.
/// </summary>
internal sealed class LabContainers
{
    /// <summary>The manifests' securityContext, as podman flags.</summary>
    public static readonly string[] ControllerSecurity = ["--user", "65532:65532", "--cap-drop", "ALL"];

    public static readonly string[] AgentSecurity = ["--user", "0:0", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN,NET_RAW"];

    private readonly string _image;
    private readonly string _runtime;
    private int _started;

    private LabContainers(string image, string runtime)
    {
        _image = image;
        _runtime = runtime;
    }

    /// <summary>The image as podman names it once loaded.</summary>
    public string Image => _image;

    /// <summary>The OCI runtime podman runs the containers with.</summary>
    public string Runtime => _runtime;

    /// <summary>Loads the OCI archive into podman's storage.</summary>
    public static LabContainers Load(string archive)
    {
        if (!File.Exists(archive))
        {
            throw new LabException($"--image {archive}: no such file (scripts/build-image.sh builds it)");
        }

        if (!Shell.Exists("podman"))
        {
            throw new LabException("--image needs podman (apt-get install podman runc)");
        }

        var loaded = Shell.Run("podman", ["load", "--input", Path.GetFullPath(archive)], check: true);
        var image = loaded.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("Loaded image", StringComparison.Ordinal)) is { } line
            ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Split(',')[0].Trim()
            : throw new LabException($"podman load {archive} named no image: {loaded.Trim()}");

        // crun refuses a machine with cgroups v1 and v2 mounted at once ("hybrid mode"); runc runs there.
        var runtime = Environment.GetEnvironmentVariable("EXTIP_LAB_OCI_RUNTIME") is { Length: > 0 } r ? r
            : Shell.Exists("runc") ? "runc" : "crun";
        return new LabContainers(image, runtime);
    }

    /// <summary>
    /// The command line that runs the image with <paramref name="args"/>; <paramref name="network"/>
    /// is <c>host</c> or a node's namespace; <paramref name="mounts"/> are bound read-only at the same path.
    /// </summary>
    public (string File, string[] Args, string Name) Command(string site, string role, string network, IReadOnlyList<string> security, IEnumerable<string> mounts, IEnumerable<string> args)
    {
        var name = $"{site}{role}-{Interlocked.Increment(ref _started).ToString(CultureInfo.InvariantCulture)}";
        List<string> a =
        [
            "--runtime", _runtime, "--cgroup-manager", "cgroupfs", "run", "--rm", "--name", name,
            "--network", network == "host" ? "host" : $"ns:{Extip.Netlink.NetNs.PathOf(network)}",
            "--read-only", "--security-opt", "no-new-privileges",
            // The runtime's default limits are above this machine's hard limits, which only a
            // process with CAP_SYS_RESOURCE may raise: the container keeps the machine's (and at
            // most 32,768 processes: runc, started by podman, was refused more here; uid 0 is
            // exempt from the limit anyway and 65532 runs one process).
            "--ulimit", $"nofile={HardLimit("Max open files", long.MaxValue)}", "--ulimit", $"nproc={HardLimit("Max processes", 32768)}",
            "--env", $"{Site.ProcessMark}={site}",
            .. RuntimeTuning.For(args.FirstOrDefault()).SelectMany(kv => new[] { "--env", $"{kv.Key}={kv.Value}" }),
            .. security,
        ];
        foreach (var m in mounts.Distinct(StringComparer.Ordinal))
        {
            a.AddRange(["--volume", $"{m}:{m}:ro"]);
        }

        a.Add(_image);
        a.AddRange(args);
        return ("podman", [.. a], name);
    }

    /// <summary>The process id (in this machine's namespace) of the container's process, once it runs.</summary>
    public static async Task<int> PidAsync(string name, Process podman, TimeSpan timeout, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (podman.HasExited)
            {
                throw new LabException($"container {name} exited (code {podman.ExitCode}) before it ran");
            }

            var (code, output) = Shell.TryRun("podman", ["inspect", "--format", "{{.State.Pid}}", name]);
            if (code == 0 && int.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0)
            {
                return pid;
            }

            if (sw.Elapsed > timeout)
            {
                throw new LabException($"container {name} did not start within {timeout.TotalSeconds} s: {output.Trim()}");
            }

            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Removes the containers of sites whose process is gone (or of <paramref name="site"/>), when podman is there.</summary>
    public static int Sweep(string? site = null)
    {
        if (!Shell.Exists("podman"))
        {
            return 0;
        }

        var (code, output) = Shell.TryRun("podman", ["ps", "--all", "--format", "{{.Names}}"]);
        if (code != 0)
        {
            return 0;
        }

        var removed = 0;
        foreach (var name in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ours = site is not null ? name.StartsWith(site, StringComparison.Ordinal)
                : Site.OwnerPid(name) is { } pid && !Directory.Exists($"/proc/{pid}");
            if (ours)
            {
                Shell.TryRun("podman", ["rm", "--force", "--time", "0", name]);
                removed++;
            }
        }

        return removed;
    }

    private static string HardLimit(string what, long atMost)
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith(what, StringComparison.Ordinal))
            {
                var parts = line[what.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var hard = parts[1] == "unlimited" ? atMost : Math.Min(atMost, long.Parse(parts[1], CultureInfo.InvariantCulture));
                return $"{hard}:{hard}";
            }
        }

        throw new LabException($"/proc/self/limits has no \"{what}\"");
    }
}
