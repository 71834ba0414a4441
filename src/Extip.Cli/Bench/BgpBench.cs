using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Lab;
using Extip.Lab.Routers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench bgp</c>: N host routes from extip's speaker to BIRD, and in the same run the
/// same N from gobgpd to an identical BIRD; each timed from the moment BIRD reports the session
/// Established until BIRD has imported all N. Each pair lives in its own namespaces (a veth
/// between them); BIRD installs nothing in any kernel. The prefixes are /32s from 198.18.0.0/15,
/// the range RFC 2544 sets aside for benchmarks (the documentation ranges hold only 768).
/// </summary>
internal static class BgpBench
{
    private const uint RouterAs = 64500;
    private const uint SenderAs = 64512;
    private static readonly IPAddress RouterIp = IPAddress.Parse("198.51.100.1");
    private static readonly IPAddress SenderIp = IPAddress.Parse("198.51.100.2");
    private static readonly IPAddress First = IPAddress.Parse("198.18.0.0");

    public static async Task<int> RunAsync(int prefixes, string peer, TextWriter output, CancellationToken ct)
    {
        if (peer != "bird")
        {
            await Console.Error.WriteLineAsync($"extip bench bgp: --peer {peer}: only bird is supported as the receiving router").ConfigureAwait(false);
            return 2;
        }

        if (prefixes is < 1 or > 131_072)
        {
            await Console.Error.WriteLineAsync($"extip bench bgp: --prefixes {prefixes}: must be 1 to 131072 (the /32s of 198.18.0.0/15)").ConfigureAwait(false);
            return 2;
        }

        foreach (var tool in new[] { "bird", "gobgpd", "gobgp" })
        {
            if (!Shell.Exists(tool))
            {
                await Console.Error.WriteLineAsync($"extip bench bgp: {tool} is not installed (scripts/install-deps.sh installs it)").ConfigureAwait(false);
                return 2;
            }
        }

        using var site = Site.Create();
        var routes = HostRoutes(prefixes);
        Warm(routes);

        var ours = await TimeOursAsync(site, routes, output, ct).ConfigureAwait(false);
        var theirs = await TimeGobgpAsync(site, prefixes, output, ct).ConfigureAwait(false);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"extip -> BIRD: {prefixes} prefixes in {ours.Seconds:F3} s ({ours.Updates} UPDATEs); gobgpd -> BIRD: {theirs.Seconds:F3} s"));
        BenchResult.Print(output, new()
        {
            ["bench"] = "bgp",
            ["prefixes"] = prefixes,
            ["seconds"] = Math.Round(ours.Seconds, 4),
            ["gobgpSeconds"] = Math.Round(theirs.Seconds, 4),
            ["ratio"] = Math.Round(ours.Seconds / theirs.Seconds, 3),
            ["peer"] = "bird",
            ["updatesSent"] = ours.Updates,
            ["peakRssMb"] = BenchResult.PeakRssMb(),
        });
        return 0;
    }

    private static Dictionary<Prefix, RouteAttributes> HostRoutes(int count)
    {
        var start = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(First.GetAddressBytes());
        var routes = new Dictionary<Prefix, RouteAttributes>(count);
        Span<byte> b = stackalloc byte[4];
        for (var i = 0; i < count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(b, start + (uint)i);
            routes[new Prefix(new IPAddress(b), 32)] = RouteAttributes.None;
        }

        return routes;
    }

    /// <summary>Runs the Adj-RIB-Out and the encoder once, so that the timed run does not pay the JIT.</summary>
    private static void Warm(Dictionary<Prefix, RouteAttributes> routes)
    {
        var rib = new AdjRibOut();
        rib.Set(routes, System.Net.Sockets.AddressFamily.InterNetwork);
        foreach (var u in rib.Flush(System.Net.Sockets.AddressFamily.InterNetwork, SenderAs, false, SenderIp, CodecContext.Modern))
        {
            BgpCodec.Encode(u, CodecContext.Modern);
        }
    }

    /// <summary>A sender namespace and a BIRD namespace, a veth between them; BIRD's session starts disabled.</summary>
    private static async Task<(string Sender, BirdRouter Bird)> PairAsync(Site site, string name, CancellationToken ct)
    {
        var router = site.AddNamespace(name + "-r");
        var sender = site.AddNamespace(name + "-s");
        site.Veth(router, "eth0", sender, "eth0");
        site.Address(router, "eth0", $"{RouterIp}/30");
        site.Address(sender, "eth0", $"{SenderIp}/30");
        var config = new RouterConfig
        {
            RouterId = RouterIp,
            As = RouterAs,
            InstallRoutes = false,
            Neighbors = [new BgpNeighbor { Address = SenderIp, As = SenderAs, HoldTime = 90, Disabled = true }],
        };
        var bird = new BirdRouter(site, router, config, name + "-bird");
        await bird.StartAsync(ct).ConfigureAwait(false);
        return (sender, bird);
    }

    /// <summary>Enables BIRD's session, then times Established to all routes imported.</summary>
    private static async Task<double> TimeImportAsync(BirdRouter bird, int count, CancellationToken ct)
    {
        await bird.EnableAsync(SenderIp, ct).ConfigureAwait(false);
        // Both waits poll BIRD's control socket every 2 ms, the same for both senders.
        await bird.WaitAsync(SenderIp, p => p.Established, TimeSpan.FromSeconds(60), "Established", ct, pollMs: 2).ConfigureAwait(false);
        var sw = Stopwatch.StartNew();
        await bird.WaitAsync(SenderIp, p => p.Received >= count, TimeSpan.FromSeconds(600), $"holding all {count} routes", ct, pollMs: 2).ConfigureAwait(false);
        return sw.Elapsed.TotalSeconds;
    }

    private static async Task<(double Seconds, long Updates)> TimeOursAsync(Site site, Dictionary<Prefix, RouteAttributes> routes, TextWriter output, CancellationToken ct)
    {
        var (sender, bird) = await PairAsync(site, "x", ct).ConfigureAwait(false);
        await using var _ = bird;
        await using var speaker = new BgpSpeaker(sender, NullLoggerFactory.Instance);
        speaker.Announce(routes);
        var session = speaker.AddPeer(new PeerOptions
        {
            PeerAddress = RouterIp,
            LocalAs = SenderAs,
            PeerAs = RouterAs,
            RouterId = PeerOptions.RouterIdOf(SenderIp),
            ConnectRetry = TimeSpan.FromMilliseconds(200),
        });
        var seconds = await TimeImportAsync(bird, routes.Count, ct).ConfigureAwait(false);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"extip: {routes.Count} routes imported by BIRD {seconds:F3} s after Established"));
        return (seconds, session.UpdatesSent);
    }

    private static async Task<(double Seconds, int Count)> TimeGobgpAsync(Site site, int count, TextWriter output, CancellationToken ct)
    {
        var (sender, bird) = await PairAsync(site, "g", ct).ConfigureAwait(false);
        await using var _ = bird;
        var gobgp = new GobgpRouter(site, sender, new RouterConfig
        {
            RouterId = SenderIp,
            As = SenderAs,
            InstallRoutes = false,
            Neighbors = [new BgpNeighbor { Address = RouterIp, As = RouterAs, HoldTime = 90 }],
        }, "gobgpd");
        await using var __ = gobgp;
        await gobgp.StartAsync(ct).ConfigureAwait(false);
        var mrt = Path.Combine(gobgp.WorkDir, "routes.mrt");
        MrtWriter.WriteHostRoutes(mrt, First, count, SenderIp, SenderIp, SenderAs, repeat: count);
        var load = Stopwatch.StartNew();
        await gobgp.InjectAsync(mrt, count, ct).ConfigureAwait(false);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gobgpd: {count} routes loaded into its RIB in {load.Elapsed.TotalSeconds:F1} s (not timed)"));
        var seconds = await TimeImportAsync(bird, count, ct).ConfigureAwait(false);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gobgpd: {count} routes imported by BIRD {seconds:F3} s after Established"));
        return (seconds, count);
    }
}
