using Microsoft.Extensions.Logging;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Extip.ApiServer;
using Extip.ApiServer.Http;
using Extip.Kubernetes.Crds;
using Extip.Kubernetes.Models;
using Extip.Controller;
using Extip.Testing.Fixtures;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Testing.Cluster;

/// <summary>
/// One test's world: an API server (a fresh embedded one, or the shared real one emptied of
/// extip objects), the CRDs, simulated agents and controllers, torn down at the end.
/// </summary>
public sealed class TestEnv : IAsyncDisposable
{
    // The test's env, for the log dump in timeouts. A holder set synchronously flows to the
    // test's own async context; a value set inside an awaited factory would not.
    private static readonly AsyncLocal<StrongBox<TestEnv?>> CurrentEnv = new();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<TestEnv, string> Live = new();
    private readonly List<ExtipController> _controllers = [];
    private readonly RecordingLogger _log = new();
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _logs;

    private TestEnv(IKubernetes client, EmbeddedApiServer? server, string ns)
    {
        Client = client;
        Server = server;
        Namespace = ns;
        Agents = new FakeAgents(client, ns);
        Live[this] = ns;
        _logs = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(_log).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug));
    }

    public IKubernetes Client { get; }

    /// <summary>Logs of this test's components (controllers, in-process agents), shown when a wait times out.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory Logs => _logs;

    /// <summary>This test's recorded log lines.</summary>
    public string DumpLog() => _log.Dump();

    /// <summary>Adds a line to the log shown on timeouts (output of processes the test started).</summary>
    public void Log(string line) => _log.Add(line);

    /// <summary>The embedded server, or null against the real one.</summary>
    public EmbeddedApiServer? Server { get; }

    /// <summary>The controller namespace (Leases) of this test.</summary>
    public string Namespace { get; }

    public FakeAgents Agents { get; }

    /// <summary>An embedded API server, with the CRDs installed unless <paramref name="crds"/> is false (a test installs them later).</summary>
    public static Task<TestEnv> EmbeddedAsync(bool crds = true) => Track(EmbeddedCoreAsync(crds));

    private static async Task<TestEnv> EmbeddedCoreAsync(bool crds)
    {
        var server = new EmbeddedApiServer(new ApiServerOptions());
        await server.StartAsync();
        var client = new Extip.Kubernetes.Client.ExtipKubernetes(new KubernetesClientConfiguration { Host = server.Url.ToString(), AccessToken = server.Token, SslCaCerts = server.Authority() });
        var env = new TestEnv(client, server, "extip-system");
        await env.PrepareAsync(crds);
        return env;
    }

    /// <summary>Another client of the embedded server, its requests passed through <paramref name="handlers"/>.</summary>
    public IKubernetes ClientThrough(params DelegatingHandler[] handlers)
    {
        var server = Server ?? throw new InvalidOperationException("only against the embedded API server");
        return new Extip.Kubernetes.Client.ExtipKubernetes(new KubernetesClientConfiguration { Host = server.Url.ToString(), AccessToken = server.Token, SslCaCerts = server.Authority() }, handlers);
    }

    /// <summary>The shared real server: CRDs installed, leftovers of earlier tests removed.</summary>
    public static Task<TestEnv> RealAsync(ClusterFixture fixture) => Track(RealCoreAsync(fixture));

    private static Task<TestEnv> Track(Task<TestEnv> creating)
    {
        var box = new StrongBox<TestEnv?>();
        CurrentEnv.Value = box;
        return Set();

        async Task<TestEnv> Set() => box.Value = await creating;
    }

    private static async Task<TestEnv> RealCoreAsync(ClusterFixture fixture)
    {
        var env = new TestEnv(fixture.Client, null, $"extip-{Guid.NewGuid().ToString("N")[..6]}");
        await env.PrepareAsync();
        foreach (var plural in new[] { IpClaim.Plural, IpPool.Plural, IpNode.Plural })
        {
            await env.Client.CustomObjects.DeleteCollectionClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, plural);
        }

        // Earlier tests' Services would take addresses from this test's pools: remove them (a
        // namespace deletion would not, without kube-controller-manager).
        foreach (var svc in (await env.Client.CoreV1.ListServiceForAllNamespacesAsync()).Items.Where(s => s.Metadata.Name != "kubernetes"))
        {
            await env.DeleteServiceAsync(svc.Metadata.NamespaceProperty, svc.Metadata.Name);
        }

        return env;
    }

    private async Task PrepareAsync(bool crds = true)
    {
        if (crds)
        {
            await CrdInstaller.InstallAsync(Client, CancellationToken.None);
        }

        try
        {
            await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } });
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }

    public ControllerOptions Options(string id = "c1") => new()
    {
        Namespace = Namespace,
        Identity = id,
        LeaseDuration = TimeSpan.FromSeconds(3),
        RenewDeadline = TimeSpan.FromSeconds(2),
        RetryPeriod = TimeSpan.FromMilliseconds(500),
        Workers = 4,

        // Damping at the tests' pace (their Leases are short too): exercised everywhere, cheap.
        HoldDown = new HoldDownOptions { Base = TimeSpan.FromMilliseconds(300), Max = TimeSpan.FromSeconds(2) },
        RebalanceStep = TimeSpan.FromMilliseconds(200),
    };

    public async Task<ExtipController> StartControllerAsync(ControllerOptions? options = null)
    {
        var c = new ExtipController(Client, options ?? Options(), _logs);
        await c.StartAsync();
        _controllers.Add(c);
        return c;
    }

    /// <summary>Stops a controller abruptly, as a killed process (its Lease is not released).</summary>
    public async Task KillAsync(ExtipController c)
    {
        _controllers.Remove(c);
        await c.DisposeAsync();
    }

    public async Task<string> NamespaceAsync(string name, Dictionary<string, string>? labels = null)
    {
        try
        {
            await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name, Labels = labels } });
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }

        return name;
    }

    public Task PoolAsync(string name, string[] addresses, Action<IpPoolSpecModel>? configure = null)
    {
        var pool = new IpPool { Metadata = new V1ObjectMeta { Name = name }, Spec = new IpPoolSpecModel { Addresses = [.. addresses] } };
        configure?.Invoke(pool.Spec);
        return Client.CustomObjects.CreateClusterCustomObjectAsync(pool, ExtipApi.Group, ExtipApi.Version, IpPool.Plural);
    }

    public static V1Service LoadBalancer(string name, params int[] ports) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Annotations = new Dictionary<string, string>() },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            Selector = new Dictionary<string, string> { ["app"] = name },
            Ports = (ports.Length == 0 ? [80] : ports).Select(p => new V1ServicePort { Name = $"p{p}", Port = p, Protocol = "TCP" }).ToList(),
        },
    };

    /// <summary>v1.20 answers a Service deletion with a Status where the client expects a Service; the deletion happened.</summary>
    public async Task DeleteServiceAsync(string ns, string name)
    {
        try
        {
            await Client.CoreV1.DeleteNamespacedServiceAsync(name, ns);
        }
        catch (JsonException)
        {
        }
    }

    /// <summary>
    /// Waits until the API server's clock shows a later creation second than <paramref name="created"/>
    /// (creation times have one-second resolution), so that what the test creates next is younger:
    /// between two explicit requests for one address the older Service wins, and in the same second
    /// the lower UID does. Waits on observed state: probe ConfigMaps in <paramref name="ns"/>.
    /// </summary>
    public async Task YoungerThanAsync(DateTime? created, string ns)
    {
        var probe = 0;
        await EventuallyAsync(
            async () => (await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = $"clock-{Guid.NewGuid():N}-{probe++}" } }, ns)).Metadata.CreationTimestamp,
            t => t > created, what: "a later second on the API server's clock");
    }

    public async Task<List<IpClaim>> ClaimsAsync()
    {
        var o = await Client.CustomObjects.ListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpClaim.Plural);
        return KubernetesJson.Deserialize<ResourceList<IpClaim>>(((JsonElement)o).GetRawText()).Items.ToList();
    }

    /// <summary>Writes an IPNode as its agent does: creates it bare, then merge-patches its status subresource.</summary>
    public async Task IpNodeAsync(string node, IpNodeStatusModel status)
    {
        try
        {
            await Client.CustomObjects.CreateClusterCustomObjectAsync(new IpNode { Metadata = new V1ObjectMeta { Name = node } }, ExtipApi.Group, ExtipApi.Version, IpNode.Plural);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }

        var patch = JsonSerializer.Serialize(new { status });
        await Client.CustomObjects.PatchClusterCustomObjectStatusAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpNode.Plural, node);
    }

    public async Task<IpNode> IpNodeAsync(string node)
    {
        var o = await Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpNode.Plural, node);
        return KubernetesJson.Deserialize<IpNode>(((JsonElement)o).GetRawText());
    }

    public async Task<IpPool> PoolStatusAsync(string name)
    {
        var o = await Client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpPool.Plural, name);
        return KubernetesJson.Deserialize<IpPool>(((JsonElement)o).GetRawText());
    }

    public async Task<List<string>> IngressAsync(string ns, string name) =>
        ((await Client.CoreV1.ReadNamespacedServiceAsync(name, ns)).Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip).ToList();

    public async Task<List<Corev1Event>> EventsAsync(string ns, string name) =>
        (await Client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: $"involvedObject.name={name}")).Items.ToList();

    /// <summary>
    /// Reads, edits and writes back, as kubectl edit does: when the controller wrote the object in
    /// between (a status, an annotation), the write answers 409 Conflict and the edit starts again
    /// from the object as it is now.
    /// </summary>
    public static async Task<T> UpdateAsync<T>(Func<Task<T>> readModifyWrite)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await readModifyWrite();
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict && attempt < 20)
            {
            }
        }
    }

    /// <summary>Polls until the condition holds (returns its value) or fails the test with what it last saw.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string what = "condition")
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        T last;
        Exception? error = null;
        while (true)
        {
            try
            {
                last = await probe();
                if (done(last))
                {
                    return last;
                }
            }
            catch (HttpOperationException e)
            {
                last = default!;
                error = e;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not hold in time; last seen: {JsonSerializer.Serialize(last)}\ncontroller log:\n{LogDump()}", error);
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The test's own controller log when known; else every live test's, each under its name.</summary>
    private static string LogDump() =>
        CurrentEnv.Value?.Value is { } env
            ? env._log.Dump()
            : string.Join("\n", Live.Keys.Select(e => $"--- env {e.GetHashCode():x8}\n{e._log.Dump()}"));

    public async ValueTask DisposeAsync()
    {
        Live.TryRemove(this, out _);
        _logs.Dispose();
        await Agents.DisposeAsync();
        foreach (var c in _controllers)
        {
            await c.DisposeAsync();
        }

        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}
