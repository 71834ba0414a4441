using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Agent;
using Extip.ApiServer;
using Extip.ApiServer.Http;
using Extip.Controller;
using Extip.Core.Pools;
using Extip.Kubernetes.Crds;
using Extip.Kubernetes.Models;
using Extip.Lab;
using Extip.Lab.Routers;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Cli.Lab;

/// <summary>What the lab is built with.</summary>
internal sealed record LabOptions
{
    public int Nodes { get; init; } = 3;

    public RouterKind Router { get; init; } = RouterKind.Bird;

    public Distribution Distribution { get; init; } = Distribution.All;

    public string Kubeconfig { get; init; } = Path.Combine(Path.GetTempPath(), "extip-lab.kubeconfig");

    public int ServicePort { get; init; } = 80;
}

/// <summary>
/// The embedded default (DESIGN.md, "The lab"): nodes k8s1…k8sN on a rack segment with a
/// top-of-rack router running a real routing daemon, a client behind the router, the embedded
/// API server, the controller, one agent per node, and the seed's example applied: an IPPool
/// announced over BGP with BFD, and a dual-stack LoadBalancer Service whose "pods" answer with
/// their node's name. Only wiring: every part is a library of its own.
/// </summary>
internal sealed class LabRun : IAsyncDisposable
{
    public const uint RouterAs = 64500;
    public const uint NodeAs = 64512;
    public const string SeedNamespace = "seed";
    public const string SeedService = "frontend";

    private readonly LabOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly List<ExtipAgent> _agents = [];
    private readonly List<Responder> _responders = [];
    private Site? _site;
    private EmbeddedApiServer? _server;
    private ExtipController? _controller;

    public LabRun(LabOptions options, ILoggerFactory logs)
    {
        _options = options;
        _logs = logs;
    }

    public Fabric Fabric { get; private set; } = null!;

    public Router Router { get; private set; } = null!;

    public IKubernetes Client { get; private set; } = null!;

    public IReadOnlyList<string> NodeNames => [.. Enumerable.Range(1, _options.Nodes).Select(i => $"k8s{i}")];

    /// <summary>Builds the site and starts everything in it.</summary>
    public async Task StartAsync(TextWriter say, CancellationToken ct)
    {
        _site = Site.Create();
        Fabric = Fabric.Create(_site, client: true);
        foreach (var node in NodeNames)
        {
            var ns = Fabric.AddNode(node);
            _responders.Add(new Responder(ns, node, _options.ServicePort));
        }

        say.WriteLine($"site {_site.Prefix}*: router {Fabric.Router}, client {Fabric.Client}, nodes {string.Join(", ", Fabric.Nodes.Values)}");

        var neighbors = NodeNames.SelectMany(n => new[] { Fabric.V4(n), Fabric.V6(n) })
            .Select(a => new BgpNeighbor { Address = a, As = NodeAs, Bfd = true, HoldTime = 9 }).ToList();
        Router = Router.Create(_options.Router, _site, Fabric.Router, new RouterConfig { RouterId = Fabric.RouterV4, As = RouterAs, Neighbors = neighbors });
        await Router.StartAsync(ct).ConfigureAwait(false);
        say.WriteLine($"router: {_options.Router} in {Fabric.Router}, AS {RouterAs}, {neighbors.Count} neighbours (BFD 50 ms x 3), ECMP into its kernel");

        _server = new EmbeddedApiServer(new ApiServerOptions(), _logs);
        await _server.StartAsync(ct).ConfigureAwait(false);
        _server.WriteKubeconfig(_options.Kubeconfig);
        Client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(_options.Kubeconfig));
        await CrdInstaller.InstallAsync(Client, ct).ConfigureAwait(false);
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "extip-system" } }, cancellationToken: ct).ConfigureAwait(false);
        say.WriteLine($"API server: {_server.Url} (kubeconfig {_options.Kubeconfig})");

        _controller = new ExtipController(Client, new ControllerOptions { LeaderElection = false, Distribution = _options.Distribution, Mode = AnnounceMode.BGP, Interface = "lo", Mask = 32 }, _logs);
        await _controller.StartAsync(ct).ConfigureAwait(false);
        foreach (var node in NodeNames)
        {
            var agent = new ExtipAgent(Client, new AgentOptions { Node = node, Netns = Fabric.Nodes[node] }, _logs);
            await agent.StartAsync(ct).ConfigureAwait(false);
            _agents.Add(agent);
        }

        say.WriteLine($"controller (distribution {_options.Distribution}) and {_agents.Count} agents running");
    }

    /// <summary>The seed's example: a pool announced over BGP, peers for the router, a dual-stack LoadBalancer Service.</summary>
    public async Task ApplySeedAsync(CancellationToken ct)
    {
        await Create(new IpPool
        {
            Metadata = new V1ObjectMeta { Name = "seed" },
            ApiVersion = ExtipApi.ApiVersion,
            Spec = new IpPoolSpecModel
            {
                Addresses = ["203.0.113.0/28", "2001:db8:1000::/120"],
                Announce = new AnnounceModel { Mode = "BGP", Interface = "lo", Distribution = _options.Distribution.ToString(), Communities = ["64512:100"] },
            },
        }, IpPool.Plural, ct).ConfigureAwait(false);
        foreach (var (name, address) in new[] { ("tor-v4", Fabric.RouterV4), ("tor-v6", Fabric.RouterV6) })
        {
            await Create(new BgpPeer
            {
                Metadata = new V1ObjectMeta { Name = name },
                ApiVersion = ExtipApi.ApiVersion,
                Spec = new BgpPeerSpecModel
                {
                    PeerAddress = address.ToString(),
                    PeerAsn = RouterAs,
                    LocalAsn = NodeAs,
                    HoldTime = "9s",
                    Bfd = new BfdModel { MinRxMs = 50, MinTxMs = 50, Multiplier = 3 },
                },
            }, BgpPeer.Plural, ct).ConfigureAwait(false);
        }

        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = SeedNamespace } }, cancellationToken: ct).ConfigureAwait(false);
        await Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = SeedService },
            Spec = new V1ServiceSpec
            {
                Type = "LoadBalancer",
                Selector = new Dictionary<string, string> { ["app"] = SeedService },
                Ports = [new V1ServicePort { Protocol = "TCP", Port = _options.ServicePort }],
                IpFamilyPolicy = "RequireDualStack",
                IpFamilies = ["IPv4", "IPv6"],
            },
        }, SeedNamespace, cancellationToken: ct).ConfigureAwait(false);
    }

    /// <summary>Waits until the Service has its addresses and the router's kernel routes each to the nodes that should hold it.</summary>
    public async Task<IReadOnlyList<IPAddress>> WaitRoutedAsync(TimeSpan timeout, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var svc = await Client.CoreV1.ReadNamespacedServiceAsync(SeedService, SeedNamespace, cancellationToken: ct).ConfigureAwait(false);
            var ingress = (svc.Status?.LoadBalancer?.Ingress ?? []).Select(i => IPAddress.Parse(i.Ip)).ToList();
            var want = _options.Distribution == Distribution.All ? _options.Nodes : 1;
            if (ingress.Count == 2 && ingress.All(a => Fabric.RouterNextHops(a).Count == want))
            {
                return ingress;
            }

            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"the Service's addresses ({string.Join(", ", ingress)}) were not routed to {want} node(s) within {timeout.TotalSeconds} s\n{Router.Tail(20)}");
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    /// <summary>From the client: <paramref name="connections"/> connections to the address; which node answered each.</summary>
    public async Task<Dictionary<string, int>> ProbeAsync(IPAddress address, int connections)
    {
        var answers = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < connections; i++)
        {
            var node = await Responder.AskAsync(Fabric.Client!, address, _options.ServicePort, TimeSpan.FromSeconds(2)).ConfigureAwait(false) ?? "(no answer)";
            answers[node] = answers.GetValueOrDefault(node) + 1;
        }

        return answers;
    }

    public async ValueTask DisposeAsync()
    {
        // Agents first, as on a SIGTERM: routes withdrawn, addresses removed, Leases released.
        foreach (var a in _agents)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await a.StopAsync(grace.Token).ConfigureAwait(false);
            await a.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var r in _responders)
        {
            await r.DisposeAsync().ConfigureAwait(false);
        }

        if (_controller is not null)
        {
            await _controller.DisposeAsync().ConfigureAwait(false);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        if (Router is not null)
        {
            await Router.DisposeAsync().ConfigureAwait(false);
        }

        _site?.Dispose();
        File.Delete(_options.Kubeconfig);
    }

    private Task Create<T>(T obj, string plural, CancellationToken ct) =>
        Client.CustomObjects.CreateClusterCustomObjectAsync(obj, ExtipApi.Group, ExtipApi.Version, plural, cancellationToken: ct);

    public static string Format(Dictionary<string, int> answers) =>
        string.Join(", ", answers.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value}")));
}
