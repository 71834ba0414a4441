using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;
using Extip.Lab;
using Extip.Lab.Routers;
using Microsoft.Extensions.Logging;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>
/// A router namespace running a real daemon and node namespaces with extip speakers, on one
/// segment. Needs root and the daemons; without them the test fails (CI has both).
/// </summary>
internal sealed class RouterLab : IAsyncDisposable
{
    public const uint RouterAs = 64500;
    public const uint NodeAs = 64512;
    private readonly List<BgpSpeaker> _speakers = [];

    private readonly Extip.Testing.Cluster.RecordingLogger _log = new();

    public RouterLab()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces); run the tests as root, as CI does");
        }

        Logs = LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(LogLevel.Debug));
        Site = Site.Create();
        Fabric = Fabric.Create(Site);
    }

    public Site Site { get; }

    public Fabric Fabric { get; }

    public ILoggerFactory Logs { get; }

    public Router? Router { get; private set; }

    /// <summary>The speakers' log lines so far.</summary>
    public string SpeakerLog => _log.Dump();

    /// <summary>Waits on the router; a timeout also shows what the speakers logged.</summary>
    public async Task<PeerInfo> WaitAsync(System.Net.IPAddress neighbor, Func<PeerInfo, bool> done, TimeSpan timeout, string what)
    {
        try
        {
            return await Router!.WaitAsync(neighbor, done, timeout, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n--- extip speaker log:\n{SpeakerLog}", e);
        }
    }

    public static void Require(RouterKind kind)
    {
        var binary = kind switch { RouterKind.Bird => "bird", RouterKind.Frr => "vtysh", _ => "gobgpd" };
        if (!Shell.Exists(binary))
        {
            Assert.Fail($"{binary} is not installed; scripts/install-deps.sh installs it (CI runs it)");
        }
    }

    public async Task<Router> StartRouterAsync(RouterKind kind, IEnumerable<BgpNeighbor> neighbors, bool installRoutes = true, int port = 179)
    {
        Require(kind);
        var config = new RouterConfig { RouterId = Fabric.RouterV4, As = RouterAs, Neighbors = [.. neighbors], InstallRoutes = installRoutes, Port = port };
        Router = Extip.Lab.Routers.Router.Create(kind, Site, Fabric.Router, config);
        await Router.StartAsync();
        return Router;
    }

    /// <summary>A speaker in the node's namespace with a session to the router.</summary>
    public (BgpSpeaker Speaker, BgpSession Session) StartSpeaker(string node, AddressFamily family, uint localAs = NodeAs, Func<PeerOptions, PeerOptions>? configure = null)
    {
        var speaker = new BgpSpeaker(Fabric.Nodes[node], Logs);
        _speakers.Add(speaker);
        var options = new PeerOptions
        {
            PeerAddress = family == AddressFamily.InterNetwork ? Fabric.RouterV4 : Fabric.RouterV6,
            LocalAs = localAs,
            PeerAs = RouterAs,
            RouterId = PeerOptions.RouterIdOf(Fabric.V4(node)),
            HoldTime = TimeSpan.FromSeconds(9),
            ConnectRetry = TimeSpan.FromSeconds(1),
        };
        var session = speaker.AddPeer(configure is null ? options : configure(options));
        return (speaker, session);
    }

    public BgpNeighbor Neighbor(string node, AddressFamily family, uint? asn = null) => new()
    {
        Address = family == AddressFamily.InterNetwork ? Fabric.V4(node) : Fabric.V6(node),
        As = asn ?? NodeAs,
    };

    public static Dictionary<Prefix, RouteAttributes> Routes(params string[] prefixes) =>
        prefixes.ToDictionary(Prefix.Parse, _ => RouteAttributes.None);

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _speakers)
        {
            await s.DisposeAsync();
        }

        if (Router is not null)
        {
            await Router.DisposeAsync();
        }

        Site.Dispose();
        Logs.Dispose();
    }
}
