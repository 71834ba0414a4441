using System.Diagnostics;
using System.Net;
using Extip.Agent;
using Extip.Lab;
using Extip.Netlink;
using Extip.Netlink.Wire;
using Extip.Testing.Cluster;

namespace Extip.Agent.Tests;

/// <summary>
/// A test's nodes: network namespaces of a lab site, agents for them (in this process, or as
/// `extip agent` processes that can be killed), and read-back of what the kernel holds.
/// </summary>
internal sealed class NodeLab : IAsyncDisposable
{
    public const byte Mark = 0x65;
    private readonly TestEnv _env;
    private readonly List<ExtipAgent> _agents = [];
    private readonly string _kubeconfig;

    public NodeLab(TestEnv env, bool fabric = false)
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test needs root (network namespaces, CAP_NET_ADMIN); run the tests as root, as CI does");
        }

        _env = env;
        Site = Site.Create();
        Fabric = fabric ? Fabric.Create(Site) : null;
        _kubeconfig = Path.Combine(Path.GetTempPath(), $"extip-agent-test-{Guid.NewGuid():N}.kubeconfig");
        env.Server!.WriteKubeconfig(_kubeconfig);
    }

    public Site Site { get; }

    /// <summary>The router and the shared segment, when the lab has them (nodes join it).</summary>
    public Fabric? Fabric { get; }

    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan RenewInterval { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Node namespaces by node name.</summary>
    public Dictionary<string, string> Nodes { get; } = new(StringComparer.Ordinal);

    public string AddNode(string node)
    {
        var ns = Fabric is null ? Site.AddNamespace(node) : Fabric.AddNode(node);
        Nodes[node] = ns;
        return ns;
    }

    public AgentOptions Options(string node) => new()
    {
        Node = node,
        Namespace = _env.Namespace,
        Netns = Nodes[node],
        LeaseDuration = LeaseDuration,
        RenewInterval = RenewInterval,
        Resync = TimeSpan.FromSeconds(2),
    };

    public async Task<ExtipAgent> StartAgentAsync(string node, ApiCut? cut = null, Func<AgentOptions, AgentOptions>? configure = null)
    {
        var client = cut is null ? _env.Client : new Extip.Kubernetes.Client.ExtipKubernetes(new k8s.KubernetesClientConfiguration { Host = _env.Server!.Url.ToString(), AccessToken = _env.Server.Token, SslCaCerts = _env.Server.Authority() }, cut);
        var options = Options(node);
        var agent = new ExtipAgent(client, configure is null ? options : configure(options), _env.Logs);
        await agent.StartAsync();
        _agents.Add(agent);
        return agent;
    }

    /// <summary>An `extip agent` process for the node (in the root namespace, driving the node's namespace through --netns).</summary>
    public Process StartAgentProcess(string node, params string[] extra) =>
        Site.Start(null, "dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "extip.dll"), "agent", "--node", node, "--kubeconfig", _kubeconfig, "--netns", Nodes[node],
            "--namespace", _env.Namespace, "--lease-duration", LeaseDuration.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--renew-interval", RenewInterval.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra,
        ], output: line => _env.Log($"[agent {node}] {line}"));

    /// <summary>The marked addresses in the node's namespace, as the kernel reports them.</summary>
    public IReadOnlyList<AddressEntry> Marked(string node)
    {
        using var nl = RtNetlink.Open(Nodes[node]);
        return nl.Addresses().Where(a => a.Protocol == Mark).ToList();
    }

    public HashSet<string> MarkedText(string node) => Marked(node).Select(a => $"{a.Address}/{a.PrefixLength}").ToHashSet(StringComparer.Ordinal);

    public static IPAddress Ip(string s) => IPAddress.Parse(s);

    public async ValueTask DisposeAsync()
    {
        foreach (var a in _agents)
        {
            await a.DisposeAsync();
        }

        Site.Dispose();
        File.Delete(_kubeconfig);
    }
}

/// <summary>One agent's way to the API server, which a test can cut (as a firewall dropping its API traffic) and heal.</summary>
internal sealed class ApiCut : DelegatingHandler
{
    private volatile bool _cut;
    private volatile Func<HttpRequestMessage, bool> _which = _ => true;

    /// <summary>Cuts every request (and open stream) from now on, or only those <paramref name="which"/> picks.</summary>
    public void Cut(Func<HttpRequestMessage, bool>? which = null)
    {
        _which = which ?? (_ => true);
        _cut = true;
    }

    public void Heal() => _cut = false;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_cut && _which(request))
        {
            throw new HttpRequestException("the test cut this agent off from the API server");
        }

        var response = await base.SendAsync(request, cancellationToken);

        // Streams already open (watches) break too, as a dropped connection's would.
        var original = response.Content;
        var wrapped = new StreamContent(new CutStream(await original.ReadAsStreamAsync(cancellationToken), this, request));
        foreach (var h in original.Headers)
        {
            wrapped.Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        response.Content = wrapped;
        return response;
    }

    private bool Hits(HttpRequestMessage request) => _cut && _which(request);

    private sealed class CutStream(Stream inner, ApiCut cut, HttpRequestMessage request) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Check(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Check(0);
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var reading = inner.ReadAsync(buffer, poll.Token).AsTask();
            while (!reading.IsCompleted)
            {
                // A watch waits long for its next event: notice the cut while waiting.
                await Task.WhenAny(reading, Task.Delay(50, cancellationToken));
                if (cut.Hits(request))
                {
                    await poll.CancelAsync();
                    throw new IOException("the test cut this agent off from the API server");
                }
            }

            return Check(await reading);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Check(int n) => cut.Hits(request) ? throw new IOException("the test cut this agent off from the API server") : n;

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
