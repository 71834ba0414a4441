using System.Collections.Concurrent;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using Extip.Testing.Cluster;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>Restart safety and convergence under the API server's injected faults.</summary>
public sealed class RestartAndFaultTests
{
    private static V1Service Svc(string name, bool v6) => LoadBalancerWith(name, v6);

    private static V1Service LoadBalancerWith(string name, bool v6)
    {
        var s = LoadBalancer(name);
        s.Spec.IpFamilies = [v6 ? "IPv6" : "IPv4"];
        return s;
    }

    /// <summary>Every ingress ever seen per Service, from a watch: an address may appear, never change.</summary>
    private sealed class IngressRecorder
    {
        public ConcurrentDictionary<string, string> First { get; } = new();

        public ConcurrentBag<string> Violations { get; } = [];

        public async Task RunAsync(IKubernetes client, string ns, CancellationToken ct)
        {
            string? rv = null;
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await foreach (var (type, svc) in client.CoreV1.WatchListNamespacedServiceAsync(ns, resourceVersion: rv, cancellationToken: ct))
                    {
                        rv = svc.Metadata.ResourceVersion;
                        var name = svc.Metadata.Name;
                        if (type == WatchEventType.Deleted)
                        {
                            First.TryRemove(name, out _);
                            continue;
                        }

                        var ip = svc.Status?.LoadBalancer?.Ingress?.FirstOrDefault()?.Ip;
                        if (ip is null)
                        {
                            continue;
                        }

                        var first = First.GetOrAdd(name, ip);
                        if (first != ip)
                        {
                            Violations.Add($"{name}: {first} became {ip}");
                        }
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException or KubernetesException or k8s.Autorest.HttpOperationException)
                {
                    rv = null;
                }
            }
        }
    }

    [Fact]
    public async Task ControllerKilledAndRestartedDuringChurn_NeverChangesOrRepeatsAnAddress()
    {
        await using var env = await EmbeddedAsync();
        await env.Agents.StartAsync("k8s1", "k8s2", "k8s3");
        var options = env.Options() with { LeaderElection = false, Distribution = Core.Pools.Distribution.Balance };
        var controller = await env.StartControllerAsync(options);
        await env.PoolAsync("v4", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]);
        await env.PoolAsync("v6", ["2001:db8::/112"]);
        var ns = await env.NamespaceAsync("churn");
        using var stop = new CancellationTokenSource();
        var recorder = new IngressRecorder();
        var watching = recorder.RunAsync(env.Client, ns, stop.Token);

        var deleted = new HashSet<string>();
        for (var i = 0; i < 1000; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(Svc($"s{i}", i % 2 == 1), ns);
            if (i % 10 == 9)
            {
                await env.DeleteServiceAsync(ns, $"s{i - 5}");
                deleted.Add($"s{i - 5}");
            }

            if (i is 250 or 600)
            {
                await env.KillAsync(controller);
                controller = await env.StartControllerAsync(options);
            }
        }

        var live = Enumerable.Range(0, 1000).Select(i => $"s{i}").Where(n => !deleted.Contains(n)).ToList();
        var services = await EventuallyAsync(
            async () => (await env.Client.CoreV1.ListNamespacedServiceAsync(ns)).Items,
            items => items.Count == live.Count && items.All(s => s.Status?.LoadBalancer?.Ingress?.Count == 1),
            TimeSpan.FromSeconds(60), "every Service has an address");
        var addresses = services.Select(s => s.Status.LoadBalancer.Ingress[0].Ip).ToList();
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        var want = addresses.Order(StringComparer.Ordinal).ToList();
        await EventuallyAsync(env.ClaimsAsync, c => c.All(x => x.Spec.Nodes.Count == 1) && c.Select(x => x.Spec.Address).Order(StringComparer.Ordinal).SequenceEqual(want),
            TimeSpan.FromSeconds(60), "a claim per held address, and no other");
        await stop.CancelAsync();
        await watching;
        Assert.Empty(recorder.Violations);
        foreach (var s in services)
        {
            Assert.Equal(recorder.First[s.Metadata.Name], s.Status.LoadBalancer.Ingress[0].Ip);
        }
    }

    [Fact]
    public async Task StartedBeforeTheApiServerAndTheCrds_NotReadyUntilBoth_ThenAssigns()
    {
        // A port nobody listens on yet: the controller starts first.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var client = new Extip.Kubernetes.Client.ExtipKubernetes(new KubernetesClientConfiguration { Host = $"https://127.0.0.1:{port}/", AccessToken = "restart-test-token", SkipTlsVerify = true });
        var options = new ControllerOptions { LeaderElection = false, Namespace = "extip-system", Workers = 2 };
        await using var controller = new ExtipController(client, options);
        await controller.StartAsync();
        Assert.False(controller.IsReady);

        // The API server comes, without the CRDs: still not ready, and no "going on without".
        await using var server = new Extip.ApiServer.EmbeddedApiServer(new Extip.ApiServer.Http.ApiServerOptions { Listen = $"127.0.0.1:{port}", Token = "restart-test-token" });
        await server.StartAsync();
        await EventuallyAsync(async () => (await client.CoreV1.ListNamespacedSecretAsync("extip-system")).Items.Select(x => x.Metadata.Name).ToList(),
            names => names.Contains(ExtipApi.PeerKeySecret), TimeSpan.FromSeconds(30), "the namespace and the heartbeat key, once the API server answers");
        Assert.False(controller.IsReady);

        await Extip.Kubernetes.Crds.CrdInstaller.InstallAsync(client, CancellationToken.None);
        await client.CustomObjects.CreateClusterCustomObjectAsync(
            new IpPool { Metadata = new V1ObjectMeta { Name = "late" }, Spec = new IpPoolSpecModel { Addresses = ["192.0.2.0/28"] } }, ExtipApi.Group, ExtipApi.Version, IpPool.Plural);
        await client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), "default");
        var ingress = await EventuallyAsync(async () => (await client.CoreV1.ReadNamespacedServiceAsync("web", "default")).Status?.LoadBalancer?.Ingress?.Select(i => i.Ip).ToList() ?? [],
            i => i.Count == 1, TimeSpan.FromSeconds(30), "an address once the CRDs are served");
        Assert.Equal(["192.0.2.0"], ingress);
        Assert.True(controller.IsReady);
    }

    [Fact]
    public async Task ServiceCreatedWhileNoControllerRuns_IsReportedAsAssignedAfterStart()
    {
        await using var env = await EmbeddedAsync();
        await env.Agents.StartAsync("k8s1");
        await env.PoolAsync("default", ["192.0.2.0/28"]);
        var ns = await env.NamespaceAsync("early");
        await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("before"), ns);
        var controller = await env.StartControllerAsync();
        Assert.Equal(["192.0.2.0"], await EventuallyAsync(() => env.IngressAsync(ns, "before"), i => i.Count == 1, what: "ingress"));
        var events = await EventuallyAsync(() => env.EventsAsync(ns, "before"), e => e.Any(x => x.Reason == "AddressAssigned"), what: "AddressAssigned event");
        Assert.Contains(events, e => e.Message == "Assigned 192.0.2.0 (pool default)");
        Assert.Contains("extip_allocations_total{pool=\"default\"} 1", await controller.Metrics.RenderAsync(), StringComparison.Ordinal);

        // A restart does not report it again: the Service already shows the address.
        await env.KillAsync(controller);
        controller = await env.StartControllerAsync();
        await EventuallyAsync(controller.Metrics.RenderAsync, m => m.Contains("extip_reconcile_total{kind=\"service\",result=\"ok\"}", StringComparison.Ordinal), what: "reconciled after restart");
        Assert.DoesNotContain("extip_allocations_total{pool=", await controller.Metrics.RenderAsync(), StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(await env.EventsAsync(ns, "before"), e => e.Reason == "AddressAssigned").Count);
    }

    public static TheoryData<string> Faults => ["drop-watches", "compact", "conflicts", "server-errors", "latency"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Controller_ConvergesUnderFault(string fault)
    {
        await using var env = await EmbeddedAsync();
        var faults = env.Server!.Faults;
        await env.Agents.StartAsync("k8s1", "k8s2");
        await env.StartControllerAsync();
        await env.PoolAsync("default", ["192.0.2.0/26"]);
        var ns = await env.NamespaceAsync("faulty");
        switch (fault)
        {
            case "conflicts":
                faults.FailNext(15, 409, verb: "patch", resource: "services");
                break;
            case "server-errors":
                faults.FailNext(10, 500, verb: "patch");
                faults.FailNext(5, 503, verb: "create", resource: "ipclaims");
                break;
            case "latency":
                faults.Latency = TimeSpan.FromMilliseconds(150);
                break;
        }

        for (var i = 0; i < 30; i++)
        {
            await env.Client.CoreV1.CreateNamespacedServiceAsync(LoadBalancer($"s{i}"), ns);
            if (fault == "drop-watches" && i % 5 == 0)
            {
                faults.DropWatches();
            }

            if (fault == "compact" && i % 5 == 0)
            {
                faults.DropWatches();
                faults.Compact();
            }
        }

        var services = await EventuallyAsync(
            async () => (await env.Client.CoreV1.ListNamespacedServiceAsync(ns)).Items,
            items => items.Count == 30 && items.All(s => s.Status?.LoadBalancer?.Ingress?.Count == 1),
            TimeSpan.FromSeconds(60), $"every Service has an address under {fault}");
        Assert.Equal(30, services.Select(s => s.Status.LoadBalancer.Ingress[0].Ip).Distinct().Count());
        await EventuallyAsync(env.ClaimsAsync, c => c.Count == 30 && c.All(x => x.Spec.Nodes.Count == 2), TimeSpan.FromSeconds(60), $"claims under {fault}");
        faults.Clear();
    }
}
