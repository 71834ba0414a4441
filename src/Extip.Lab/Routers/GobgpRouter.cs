using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Extip.Lab.Routers;

/// <summary>GoBGP (gobgpd) as a lab router or as a route source, driven through the gobgp CLI in its namespace.</summary>
public sealed partial class GobgpRouter(Site site, string netns, RouterConfig config, string name) : Router(site, netns, config, name)
{
    private const string Api = "127.0.0.1";
    private const string ApiPort = "50051";

    public override RouterKind Kind => RouterKind.Gobgp;

    public override async Task StartAsync(CancellationToken ct = default)
    {
        var conf = Path.Combine(WorkDir, "gobgpd.toml");
        await File.WriteAllTextAsync(conf, Render(Config), ct).ConfigureAwait(false);
        StartProcess("gobgpd", ["-f", conf, "-t", "toml", "--api-hosts", $"{Api}:{ApiPort}", "--pprof-disable", "-p", "-l", "info"]);
        await WaitUntilAsync(async () => (await CliAsync(["global"], ct).ConfigureAwait(false)).Contains("AS:", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "gobgpd answering its API", ct).ConfigureAwait(false);
        if (Config.InstallRoutes)
        {
            StartFib();
        }
    }

    /// <summary>One gobgp CLI command against this daemon (run in its namespace, where its API listens).</summary>
    public async Task<string> CliAsync(IEnumerable<string> args, CancellationToken ct = default)
    {
        CheckRunning();
        string[] all = ["netns", "exec", Namespace, "gobgp", "-u", Api, "-p", ApiPort, .. args];
        return await Task.Run(() => Shell.Run("ip", all, check: false), ct).ConfigureAwait(false);
    }

    public override async Task<PeerInfo?> PeerAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(neighbor);
        var text = await CliAsync(["neighbor", neighbor.ToString(), "-j"], ct).ConfigureAwait(false);
        if (!text.TrimStart().StartsWith('{'))
        {
            return null;
        }

        using var doc = JsonDocument.Parse(text);
        var state = doc.RootElement.GetProperty("state");
        var code = state.TryGetProperty("session_state", out var s) ? s.GetInt32() : 0;
        var received = 0;
        if (doc.RootElement.TryGetProperty("afi_safis", out var families))
        {
            foreach (var f in families.EnumerateArray())
            {
                if (f.TryGetProperty("state", out var fs) && fs.TryGetProperty("accepted", out var a))
                {
                    received += a.GetInt32();
                }
            }
        }

        // apipb.PeerState.SessionState: 1 idle … 6 established.
        var name = code switch { 1 => "Idle", 2 => "Connect", 3 => "Active", 4 => "OpenSent", 5 => "OpenConfirm", 6 => "Established", _ => "Unknown" };
        return new PeerInfo(name, code == 6, received);
    }

    public override async Task EnableAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(neighbor);
        await CliAsync(["neighbor", neighbor.ToString(), "enable"], ct).ConfigureAwait(false);
    }

    /// <summary>Loads routes into gobgpd's global RIB from an MRT TABLE_DUMP_V2 file (what `gobgp mrt inject global` reads).</summary>
    public async Task InjectAsync(string mrtFile, int count, CancellationToken ct = default)
    {
        // `gobgp mrt inject` exits without closing its gRPC stream, so gobgpd may miss the last
        // paths (seen: 9,063 of 10,000). Files from MrtWriter end in repeats that absorb the loss;
        // injecting again re-adds the same paths.
        var want = $"Destination: {count.ToString(CultureInfo.InvariantCulture)},";
        var summary = string.Empty;
        var output = string.Empty;
        for (var attempt = 0; attempt < 10 && !summary.Contains(want, StringComparison.Ordinal); attempt++)
        {
            output = await CliAsync(["mrt", "inject", "global", mrtFile], ct).ConfigureAwait(false);
            for (var i = 0; i < 20 && !summary.Contains(want, StringComparison.Ordinal); i++)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
                summary = await CliAsync(["global", "rib", "summary", "-a", "ipv4"], ct).ConfigureAwait(false);
            }
        }

        if (!summary.Contains(want, StringComparison.Ordinal))
        {
            throw new LabException($"gobgp mrt inject: wanted {count} destinations, the RIB says: {summary.Trim()} {output.Trim()}");
        }
    }

    public static string Render(RouterConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var b = new StringBuilder();
        b.AppendLine("[global.config]");
        b.AppendLine(CultureInfo.InvariantCulture, $"  as = {config.As}");
        b.AppendLine(CultureInfo.InvariantCulture, $"  router-id = \"{config.RouterId}\"");
        b.AppendLine(CultureInfo.InvariantCulture, $"  port = {config.Port}");
        foreach (var n in config.Neighbors)
        {
            b.AppendLine("[[neighbors]]");
            b.AppendLine("  [neighbors.config]");
            b.AppendLine(CultureInfo.InvariantCulture, $"    neighbor-address = \"{n.Address}\"");
            b.AppendLine(CultureInfo.InvariantCulture, $"    peer-as = {n.As}");
            if (n.Password is { } password)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $"    auth-password = \"{password}\"");
            }

            if (n.Disabled)
            {
                b.AppendLine("    admin-down = true");
            }

            if (config.Port != 179)
            {
                b.AppendLine("  [neighbors.transport.config]");
                b.AppendLine(CultureInfo.InvariantCulture, $"    remote-port = {config.Port}");
            }

            b.AppendLine("  [neighbors.timers.config]");
            b.AppendLine(CultureInfo.InvariantCulture, $"    hold-time = {n.HoldTime}");
            b.AppendLine(CultureInfo.InvariantCulture, $"    keepalive-interval = {Math.Max(1, n.HoldTime / 3)}");
            b.AppendLine("    connect-retry = 1");
            if (n.Passive)
            {
                b.AppendLine("  [neighbors.transport.config]");
                b.AppendLine("    passive-mode = true");
            }

            b.AppendLine("  [[neighbors.afi-safis]]");
            b.AppendLine("    [neighbors.afi-safis.config]");
            b.AppendLine(n.Address.AddressFamily == AddressFamily.InterNetwork ? "      afi-safi-name = \"ipv4-unicast\"" : "      afi-safi-name = \"ipv6-unicast\"");
        }

        return b.ToString();
    }
}
