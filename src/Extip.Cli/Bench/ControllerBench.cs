using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench controller</c>: <c>extip apiserver</c> and <c>extip controller</c> (balance
/// distribution) run as their own processes; this one simulates A live agents renewing Leases,
/// creates N LoadBalancer Services, and follows Services and IPClaims by watch until every
/// Service shows an address and every address has a claim on a live node. Then one agent stops
/// renewing, and failover is timed from its Lease's expiry until none of its claims names it.
/// </summary>
internal static class ControllerBench
{
    private const string AgentNs = "extip-system";
    private const int LeaseSeconds = 3;

    /// <summary>The controller's default: an agent counts live this long past its Lease (the kernel removes a hung agent's addresses by then).</summary>
    private const double FenceMarginSeconds = 0.75;

    public static async Task<int> RunAsync(int services, int agents, int inFlight, TextWriter output, CancellationToken ct)
    {
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"extip-bench-ctl-{Environment.ProcessId}.kubeconfig");
        await using var api = BenchProcess.Start("apiserver", "--listen", "127.0.0.1:0", "--kubeconfig-out", kubeconfig);
        await api.WaitForAsync("kubeconfig written", ct);
        var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(kubeconfig));
        await using var controller = BenchProcess.Start("controller", "--kubeconfig", kubeconfig, "--install-crds", "--distribution", "balance", "--namespace", AgentNs, "--fence-margin", FenceMarginSeconds.ToString(CultureInfo.InvariantCulture));
        controller.DrainOutput();
        await WaitServedAsync(client, ct);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var lastRenew = new ConcurrentDictionary<string, DateTime>();
        var nodes = Enumerable.Range(1, agents).Select(i => $"k8s{i}").ToList();
        var agentStops = nodes.ToDictionary(n => n, _ => CancellationTokenSource.CreateLinkedTokenSource(stop.Token));
        var agentTasks = nodes.Select(n => RenewLoopAsync(client, n, lastRenew, agentStops[n].Token)).ToList();
        await client.CustomObjects.CreateClusterCustomObjectAsync(new IpPool { Metadata = new V1ObjectMeta { Name = "bench" }, Spec = new IpPoolSpecModel { Addresses = ["198.18.0.0/15"] } },
            ExtipApi.Group, ExtipApi.Version, IpPool.Plural, cancellationToken: ct);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "bench" } }, cancellationToken: ct);

        var ingress = new ConcurrentDictionary<string, string>();
        var claims = new ConcurrentDictionary<string, string[]>();
        var followers = new[] { FollowServicesAsync(client, ingress, stop.Token), FollowClaimsAsync(client, claims, stop.Token) };
        await Task.Delay(500, ct);

        var sw = Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < services)
            {
                await client.CoreV1.CreateNamespacedServiceAsync(new V1Service
                {
                    Metadata = new V1ObjectMeta { Name = string.Create(CultureInfo.InvariantCulture, $"svc-{i}") },
                    Spec = new V1ServiceSpec { Type = "LoadBalancer", AllocateLoadBalancerNodePorts = false, Selector = new Dictionary<string, string> { ["app"] = "bench" }, Ports = [new V1ServicePort { Port = 443, Protocol = "TCP" }] },
                }, "bench", cancellationToken: ct);
            }
        }));
        var created = sw.Elapsed.TotalSeconds;
        var allAssigned = await WaitAsync(() => ingress.Count == services && claims.Count == services && claims.Values.All(n => n.Length == 1), TimeSpan.FromSeconds(300), ct);
        var assignedSeconds = sw.Elapsed.TotalSeconds;

        // Failover: k8s1 stops renewing; time from its Lease expiring until no claim names it.
        var victim = nodes[0];
        var held = claims.Values.Count(n => n.Contains(victim));
        await agentStops[victim].CancelAsync();
        var expiry = lastRenew[victim].AddSeconds(LeaseSeconds);
        var moved = await WaitAsync(() => claims.Values.All(n => !n.Contains(victim) && n.Length == 1), TimeSpan.FromSeconds(120), ct);
        var failoverMs = (DateTime.UtcNow - expiry).TotalMilliseconds;
        var rss = controller.PeakRssMb();
        var cpu = controller.CpuSeconds();
        var apiCpu = api.CpuSeconds();
        await stop.CancelAsync();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{services} Services created in {created:F1} s; all assigned (ingress and a claim on a live node) after {assignedSeconds:F1} s; {agents} agents; failover of {held} claims {failoverMs:F0} ms after the Lease expired ({failoverMs - (FenceMarginSeconds * 1000):F0} ms after the fence margin of {FenceMarginSeconds * 1000:F0} ms); controller peak RSS {rss} MB, CPU {cpu:F1} s; API server CPU {apiCpu:F1} s"));
        BenchResult.Print(output, new()
        {
            ["bench"] = "controller",
            ["services"] = services,
            ["agents"] = agents,
            ["secondsToAllAssigned"] = Math.Round(assignedSeconds, 2),
            ["failoverMs"] = Math.Round(failoverMs),
            ["fenceMarginMs"] = FenceMarginSeconds * 1000,
            ["failoverMsAfterMargin"] = Math.Round(failoverMs - (FenceMarginSeconds * 1000)),
            ["failoverClaims"] = held,
            ["peakRssMb"] = rss,
            ["complete"] = allAssigned && moved,
        });
        File.Delete(kubeconfig);
        foreach (var a in agentStops.Values)
        {
            a.Dispose();
        }

        return allAssigned && moved ? 0 : 1;
    }

    private static async Task RenewLoopAsync(IKubernetes client, string node, ConcurrentDictionary<string, DateTime> lastRenew, CancellationToken ct)
    {
        var name = ExtipApi.AgentLeasePrefix + node;
        V1Lease? lease = null;
        while (!ct.IsCancellationRequested)
        {
            var now = DateTime.UtcNow;
            try
            {
                if (lease is null)
                {
                    lease = await client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
                    {
                        Metadata = new V1ObjectMeta { Name = name },
                        Spec = new V1LeaseSpec { HolderIdentity = node, LeaseDurationSeconds = LeaseSeconds, RenewTime = now, AcquireTime = now },
                    }, AgentNs, cancellationToken: ct);
                }
                else
                {
                    lease.Spec.RenewTime = now;
                    lease = await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, name, AgentNs, cancellationToken: ct);
                }

                lastRenew[node] = now;
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(name, AgentNs, cancellationToken: ct);
            }
        }
    }

    private static async Task FollowServicesAsync(IKubernetes client, ConcurrentDictionary<string, string> ingress, CancellationToken ct)
    {
        try
        {
            await foreach (var (_, svc) in client.CoreV1.WatchListNamespacedServiceAsync("bench", cancellationToken: ct))
            {
                if (svc.Status?.LoadBalancer?.Ingress?.FirstOrDefault()?.Ip is { } ip)
                {
                    ingress[svc.Metadata.Name] = ip;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task FollowClaimsAsync(IKubernetes client, ConcurrentDictionary<string, string[]> claims, CancellationToken ct)
    {
        try
        {
            await foreach (var (type, o) in client.CustomObjects.WatchListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, cancellationToken: ct))
            {
                var claim = KubernetesJson.Deserialize<IpClaim>(((JsonElement)o).GetRawText());
                if (type == WatchEventType.Deleted)
                {
                    claims.TryRemove(claim.Metadata.Name, out _);
                }
                else
                {
                    claims[claim.Metadata.Name] = [.. claim.Spec.Nodes];
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal static async Task<bool> WaitAsync(Func<bool> done, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(10, ct);
        }

        return true;
    }

    internal static async Task WaitServedAsync(IKubernetes client, CancellationToken ct)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                await client.CustomObjects.ListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpPool.Plural, limit: 1, cancellationToken: ct);
                return;
            }
            catch (HttpOperationException)
            {
                await Task.Delay(100, ct);
            }
        }
    }
}
