using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Extip.Lab.Routers;

/// <summary>
/// FRR as the lab router: bgpd (and zebra, when routes go into the kernel), its files and vty
/// sockets in the router's work folder, asked through vtysh.
/// </summary>
public sealed class FrrRouter(Site site, string netns, RouterConfig config, string name) : Router(site, netns, config, name)
{
    private const string Daemons = "/usr/lib/frr";

    public override RouterKind Kind => RouterKind.Frr;

    public override async Task StartAsync(CancellationToken ct = default)
    {
        var bgpdConf = Path.Combine(WorkDir, "bgpd.conf");
        await File.WriteAllTextAsync(bgpdConf, Render(Config), ct).ConfigureAwait(false);
        var zserv = Path.Combine(WorkDir, "zserv.api");
        // The daemons drop to FRR's own user (root is not in its vty group): it must own the folder.
        Shell.Run("chown", "frr:frr", WorkDir);
        string[] common = ["--vty_socket", WorkDir, "-P", "0", "--log", "stdout", "--log-level", "info"];
        // zebra always runs: bgpd learns the interfaces from it (an IPv6 link-local next hop means
        // nothing without them). Without InstallRoutes, bgpd keeps the routes out of the kernel.
        var zebraConf = Path.Combine(WorkDir, "zebra.conf");
        await File.WriteAllTextAsync(zebraConf, "hostname router\n", ct).ConfigureAwait(false);
        StartProcess($"{Daemons}/zebra", ["-f", zebraConf, "-i", Path.Combine(WorkDir, "zebra.pid"), "-z", zserv, .. common]);
        await WaitUntilAsync(() => Task.FromResult(File.Exists(zserv)), TimeSpan.FromSeconds(10), "zebra's socket", ct).ConfigureAwait(false);
        StartProcess($"{Daemons}/bgpd", ["-f", bgpdConf, "-i", Path.Combine(WorkDir, "bgpd.pid"), "-z", zserv, "-p", Config.Port.ToString(CultureInfo.InvariantCulture), .. Config.InstallRoutes ? Array.Empty<string>() : ["-n"], .. common]);
        await WaitUntilAsync(async () => (await VtyshAsync("show bgp summary json", ct).ConfigureAwait(false)).Contains("routerId", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "bgpd answering vtysh", ct).ConfigureAwait(false);
    }

    public async Task<string> VtyshAsync(string command, CancellationToken ct = default)
    {
        CheckRunning();
        return await Task.Run(() => Shell.Run("vtysh", ["--vty_socket", WorkDir, "-c", command], check: false), ct).ConfigureAwait(false);
    }

    public override async Task<PeerInfo?> PeerAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(neighbor);
        var text = await VtyshAsync($"show bgp neighbors {neighbor} json", ct).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        if (!doc.RootElement.TryGetProperty(neighbor.ToString(), out var peer))
        {
            return null;
        }

        var state = peer.TryGetProperty("bgpState", out var s) ? s.GetString() ?? "unknown" : "unknown";
        var received = 0;
        if (peer.TryGetProperty("addressFamilyInfo", out var families))
        {
            foreach (var f in families.EnumerateObject())
            {
                if (f.Value.TryGetProperty("acceptedPrefixCounter", out var c))
                {
                    received += c.GetInt32();
                }
            }
        }

        return new PeerInfo(state, state == "Established", received);
    }

    public override async Task EnableAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(neighbor);
        await Task.Run(() => Shell.Run("vtysh", ["--vty_socket", WorkDir, "-c", "configure terminal", "-c", $"router bgp {Config.As}", "-c", $"no neighbor {neighbor} shutdown"]), ct).ConfigureAwait(false);
    }

    /// <summary>bgpd.conf: one neighbour per extip node, each activated in its own family, ECMP over them.</summary>
    public static string Render(RouterConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var b = new StringBuilder();
        b.AppendLine("hostname router");
        b.AppendLine(CultureInfo.InvariantCulture, $"router bgp {config.As}");
        b.AppendLine(CultureInfo.InvariantCulture, $" bgp router-id {config.RouterId}");
        b.AppendLine(" no bgp ebgp-requires-policy");
        b.AppendLine(" no bgp default ipv4-unicast");
        b.AppendLine(" bgp bestpath as-path multipath-relax");
        foreach (var n in config.Neighbors)
        {
            b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} remote-as {n.As}");
            b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} timers {Math.Max(1, n.HoldTime / 3)} {n.HoldTime}");
            b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} timers connect 1");
            if (config.Port != 179)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} port {config.Port}");
            }

            if (n.Passive)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} passive");
            }

            if (n.Password is { } password)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} password {password}");
            }

            if (n.Disabled)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $" neighbor {n.Address} shutdown");
            }
        }

        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            var members = config.Neighbors.Where(n => n.Address.AddressFamily == family).ToList();
            if (members.Count == 0)
            {
                continue;
            }

            b.AppendLine(family == AddressFamily.InterNetwork ? " address-family ipv4 unicast" : " address-family ipv6 unicast");
            b.AppendLine("  maximum-paths 16");
            b.AppendLine("  maximum-paths ibgp 16");
            foreach (var n in members)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $"  neighbor {n.Address} activate");
            }

            b.AppendLine(" exit-address-family");
        }

        return b.ToString();
    }
}
