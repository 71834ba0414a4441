using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Extip.Lab.Routers;

/// <summary>BIRD 2 as the lab router: BGP with each neighbour, BFD where asked, ECMP into the kernel.</summary>
public sealed partial class BirdRouter(Site site, string netns, RouterConfig config, string name) : Router(site, netns, config, name)
{
    private BirdControl? _control;
    private readonly SemaphoreSlim _controlGate = new(1, 1);

    public override RouterKind Kind => RouterKind.Bird;

    public string ControlSocket => Path.Combine(WorkDir, "bird.ctl");

    public string ConfigFile => Path.Combine(WorkDir, "bird.conf");

    public override async Task StartAsync(CancellationToken ct = default)
    {
        await File.WriteAllTextAsync(ConfigFile, Render(Config), ct).ConfigureAwait(false);
        StartProcess("bird", ["-f", "-c", ConfigFile, "-s", ControlSocket, "-P", Path.Combine(WorkDir, "bird.pid")]);
        await WaitUntilAsync(async () => (await RunAsync("show status", ct).ConfigureAwait(false)).Any(l => l.Contains("Daemon is up", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "BIRD answering on its control socket", ct).ConfigureAwait(false);
    }

    /// <summary>One birdc command over the control socket.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(string command, CancellationToken ct = default)
    {
        await _controlGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            CheckRunning();
            _control ??= await BirdControl.ConnectAsync(ControlSocket, ct).ConfigureAwait(false);
            try
            {
                return await _control.RunAsync(command, ct).ConfigureAwait(false);
            }
            catch (IOException)
            {
                _control.Dispose();
                _control = null;
                throw;
            }
        }
        finally
        {
            _controlGate.Release();
        }
    }

    public override async Task<PeerInfo?> PeerAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        var n = Config.Neighbors.FirstOrDefault(x => x.Address.Equals(neighbor));
        if (n is null)
        {
            return null;
        }

        var text = string.Join('\n', await RunAsync($"show protocols all {n.Name}", ct).ConfigureAwait(false));
        var state = BgpState().Match(text) is { Success: true } m ? m.Groups[1].Value : "unknown";
        var routes = Imported().Match(text) is { Success: true } r ? int.Parse(r.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new PeerInfo(state, state == "Established", routes);
    }

    /// <summary>BIRD's BFD session with the neighbour: its state ("Up", "Down", "Init") or null when there is none.</summary>
    public async Task<string?> BfdStateAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(neighbor);
        foreach (var line in await RunAsync("show bfd sessions", ct).ConfigureAwait(false))
        {
            var cols = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (cols.Length >= 3 && IPAddress.TryParse(cols[0], out var ip) && ip.Equals(neighbor))
            {
                return cols[2];
            }
        }

        return null;
    }

    public override async Task EnableAsync(IPAddress neighbor, CancellationToken ct = default)
    {
        var n = Config.Neighbors.First(x => x.Address.Equals(neighbor));
        await RunAsync($"enable {n.Name}", ct).ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        _control?.Dispose();
        _controlGate.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The bird.conf for a config: device scan, kernel export with merged paths, BFD, one BGP protocol per neighbour.</summary>
    public static string Render(RouterConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var ms = (int)config.BfdInterval.TotalMilliseconds;
        var b = new StringBuilder();
        b.AppendLine(CultureInfo.InvariantCulture, $"router id {config.RouterId};");
        b.AppendLine("log stderr { info, remote, warning, error, auth, fatal, bug };");
        b.AppendLine("protocol device { scan time 5; }");
        if (config.InstallRoutes)
        {
            // "merge paths": routes of equal worth from several neighbours become one multipath route (ECMP).
            b.AppendLine("protocol kernel { ipv4 { import none; export all; }; merge paths on; }");
            b.AppendLine("protocol kernel { ipv6 { import none; export all; }; merge paths on; }");
        }

        if (config.Neighbors.Any(n => n.Bfd))
        {
            b.AppendLine(CultureInfo.InvariantCulture, $"protocol bfd {{ interface \"*\" {{ min rx interval {ms} ms; min tx interval {ms} ms; multiplier {config.BfdMultiplier}; }}; }}");
        }

        foreach (var n in config.Neighbors)
        {
            var family = n.Address.AddressFamily == AddressFamily.InterNetwork ? "ipv4" : "ipv6";
            b.AppendLine(CultureInfo.InvariantCulture, $"protocol bgp {n.Name} {{");
            if (n.Disabled)
            {
                b.AppendLine("  disabled;");
            }

            b.AppendLine(CultureInfo.InvariantCulture, $"  local port {config.Port} as {config.As};");
            b.AppendLine(CultureInfo.InvariantCulture, $"  neighbor {n.Address} port {config.Port} as {n.As};");
            b.AppendLine(CultureInfo.InvariantCulture, $"  hold time {n.HoldTime};");
            b.AppendLine("  connect retry time 1;");
            if (n.As == config.As)
            {
                // iBGP is multihop to BIRD unless told the neighbour is on the segment.
                b.AppendLine("  direct;");
            }

            b.AppendLine("  error wait time 1, 5;");
            if (n.Passive)
            {
                b.AppendLine("  passive on;");
            }

            if (n.Password is { } password)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $"  password \"{password}\";");
            }

            if (n.Bfd)
            {
                b.AppendLine("  bfd on;");
            }

            b.AppendLine(CultureInfo.InvariantCulture, $"  {family} {{ import all; export none; gateway direct; }};");
            b.AppendLine("}");
        }

        return b.ToString();
    }

    [GeneratedRegex(@"BGP state:\s+(\S+)")]
    private static partial Regex BgpState();

    [GeneratedRegex(@"Routes:\s+(\d+) imported")]
    private static partial Regex Imported();
}
