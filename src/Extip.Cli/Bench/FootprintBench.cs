using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Extip.Kubernetes.Models;
using Extip.Lab;
using Extip.Netlink;
using k8s;
using k8s.Models;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench footprint</c>: what extip's image costs a cluster. The image is built
/// (scripts/build-image.sh) and its own binary runs as the controller and as an agent (on a node
/// namespace of its own) against the embedded API server: time from process start to /readyz,
/// resident memory idle, the agent's after a life of claims (rounds of Services created and
/// deleted, all on its node), and the controller's with N Services assigned: 10 s (the agent) and
/// 5 s (the controller) after the burst, and again a minute after it.
/// </summary>
internal static class FootprintBench
{
    private const string AgentNs = "extip-system";

    /// <summary>When the steady figures are taken: this long after the agent's life, and after the last of the controller's Services is allocated.</summary>
    private static readonly TimeSpan SteadyAfter = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(int services, int claims, int rounds, bool prebuilt, IReadOnlyDictionary<string, string> daemonEnv, TextWriter output, CancellationToken ct)
    {
        var root = Checkout.Root() ?? throw new InvalidOperationException("bench footprint builds the image from the checkout; none above " + AppContext.BaseDirectory);
        string built;
        if (prebuilt)
        {
            var last = Path.Combine(root, ".build", "image", "build.json");
            built = File.Exists(last) ? File.ReadAllText(last).Trim() : throw new InvalidOperationException($"--prebuilt: {last} does not exist; run scripts/build-image.sh first");
            output.WriteLine($"measuring the image built last: {built}");
        }
        else
        {
            output.WriteLine("building the image (scripts/build-image.sh)…");
            built = Shell.Run("bash", [Path.Combine(root, "scripts", "build-image.sh")]).Trim().Split('\n')[^1];
        }

        using var image = JsonDocument.Parse(built);
        var imageMb = image.RootElement.GetProperty("sizeMb").GetDouble();
        var compressedMb = image.RootElement.GetProperty("compressedMb").GetDouble();
        var binary = Path.Combine(root, ".build", "image", "rootfs", "app", "extip");

        var kubeconfig = Path.Combine(Path.GetTempPath(), $"extip-bench-footprint-{Environment.ProcessId}.kubeconfig");
        await using var api = BenchProcess.Start("apiserver", "--listen", "127.0.0.1:0", "--kubeconfig-out", kubeconfig);
        await api.WaitForAsync("kubeconfig written", ct);
        var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(kubeconfig));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };

        // The controller, from the image's binary.
        var ctlPort = FreePort();
        var sw = Stopwatch.StartNew();
        await using var controller = BenchProcess.StartFile(binary, daemonEnv, "controller", "--kubeconfig", kubeconfig, "--install-crds", "--namespace", AgentNs, "--metrics", $"127.0.0.1:{ctlPort}");
        var controllerReady = await ReadyAsync(http, ctlPort, controller, sw, ct);
        await ControllerBench.WaitServedAsync(client, ct);
        await Task.Delay(TimeSpan.FromSeconds(10), ct);
        var controllerIdle = controller.RssMb();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"controller: /readyz after {controllerReady:F2} s; {controllerIdle} MB resident idle ({controller.RssBreakdown()})"));

        // An agent on a node namespace of its own; every claim (Local, All) lands on it.
        using var site = Site.Create();
        var ns = site.AddNamespace("k8s1");
        await client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "k8s1" } }, cancellationToken: ct);
        await client.CustomObjects.CreateClusterCustomObjectAsync(new IpPool
        {
            Metadata = new V1ObjectMeta { Name = "node" },
            Spec = new IpPoolSpecModel
            {
                Addresses = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"],
                Announce = new AnnounceModel { Mode = "Local", Interface = "lo", Distribution = "All" },
                ServiceAllocation = new ServiceAllocationModel { Namespaces = ["life"] },
            },
        }, ExtipApi.Group, ExtipApi.Version, IpPool.Plural, cancellationToken: ct);
        var agentPort = FreePort();
        sw.Restart();
        await using var agent = BenchProcess.StartFile(binary, daemonEnv, "agent", "--node", "k8s1", "--kubeconfig", kubeconfig, "--netns", ns, "--namespace", AgentNs, "--metrics", $"127.0.0.1:{agentPort}");
        var agentReady = await ReadyAsync(http, agentPort, agent, sw, ct);
        await Task.Delay(TimeSpan.FromSeconds(10), ct);
        var agentIdle = agent.RssMb();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"agent: /readyz after {agentReady:F2} s; {agentIdle} MB resident idle ({agent.RssBreakdown()})"));

        // Its life: rounds of Services whose addresses it puts on its node and takes off again
        // (redeployed under the same names: a deleted Service's address is kept for its name for
        // ten minutes, so new names would exhaust the pool).
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "life" } }, cancellationToken: ct);
        var perRound = Math.Max(1, claims / rounds);
        using var nl = RtNetlink.Open(ns);
        for (var r = 0; r < rounds; r++)
        {
            await CreateServicesAsync(client, "life", "app-", perRound, ct);
            var on = await ControllerBench.WaitAsync(() => Held(nl) >= perRound, TimeSpan.FromSeconds(300), ct);
            await client.CoreV1.DeleteCollectionNamespacedServiceAsync("life", cancellationToken: ct);
            var off = await ControllerBench.WaitAsync(() => Held(nl) == 0, TimeSpan.FromSeconds(300), ct)
                && await ControllerBench.WaitAsync(() => client.CoreV1.ListNamespacedService("life").Items.Count == 0, TimeSpan.FromSeconds(60), ct);
            if (!on || !off)
            {
                throw new InvalidOperationException($"round {r}: the agent's node did not follow the claims ({Held(nl)} addresses)");
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(10), ct);
        var agentAfter = agent.RssMb();
        var agentPeak = agent.PeakRssMb();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"agent: {rounds * perRound} claims over its life; {agentAfter} MB resident 10 s after ({agent.RssBreakdown()}; peak {agentPeak} MB)"));

        // Once quiet a daemon gives back what the burst grew (IdleTrim: within two of its
        // 10-second looks): the figure a minute after is the steady one.
        await Task.Delay(SteadyAfter - TimeSpan.FromSeconds(10), ct);
        var agentSteady = agent.RssMb();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"agent: {agentSteady} MB resident a minute after its life ({agent.RssBreakdown()})"));
        Signals.Send(agent.Id, Signals.Term);

        // The controller with N Services (API objects only: no agent holds them).
        await client.CustomObjects.CreateClusterCustomObjectAsync(new IpPool { Metadata = new V1ObjectMeta { Name = "many" }, Spec = new IpPoolSpecModel { Addresses = ["198.18.0.0/15"] } },
            ExtipApi.Group, ExtipApi.Version, IpPool.Plural, cancellationToken: ct);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "many" } }, cancellationToken: ct);
        await CreateServicesAsync(client, "many", "s", services, ct);
        var assigned = await ControllerBench.WaitAsync(() => Assigned(http, ctlPort) >= services, TimeSpan.FromSeconds(600), ct);
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        var controllerMany = controller.RssMb();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"controller: {services} Services, {(assigned ? "all" : "not all")} allocated; {controllerMany} MB resident 5 s after ({controller.RssBreakdown()}; peak {controller.PeakRssMb()} MB)"));
        await Task.Delay(SteadyAfter - TimeSpan.FromSeconds(5), ct);
        var controllerSteady = controller.RssMb();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"controller: {controllerSteady} MB resident a minute after ({controller.RssBreakdown()})"));
        File.Delete(kubeconfig);

        BenchResult.Print(output, new()
        {
            ["bench"] = "footprint",
            ["imageMb"] = imageMb,
            ["imageCompressedMb"] = compressedMb,
            ["agentRssMb"] = agentIdle,
            ["agentRssMbAfterHour"] = agentAfter,
            ["agentRssMbMinuteAfterLife"] = agentSteady,
            ["agentLifeClaims"] = rounds * perRound,
            ["controllerIdleRssMb"] = controllerIdle,
            ["controllerRssMb10k"] = controllerMany,
            ["controllerRssMb10kMinuteAfter"] = controllerSteady,
            ["controllerServices"] = services,
            ["agentReadySeconds"] = Math.Round(agentReady, 2),
            ["controllerReadySeconds"] = Math.Round(controllerReady, 2),
            ["complete"] = assigned,
        });
        return assigned ? 0 : 1;
    }

    private static int Held(RtNetlink nl) => nl.Addresses(AddressFamily.InterNetwork).Count(a => a.Protocol != 0 && !IPAddress.IsLoopback(a.Address));

    /// <summary>Addresses the controller has given Services, from its own metrics.</summary>
    private static double Assigned(HttpClient http, int port)
    {
        try
        {
            var text = http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")).GetAwaiter().GetResult();
            return text.Split('\n').Where(l => l.StartsWith("extip_pool_in_use{pool=\"many\"", StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static async Task CreateServicesAsync(IKubernetes client, string ns, string prefix, int count, CancellationToken ct)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await client.CoreV1.CreateNamespacedServiceAsync(new V1Service
                {
                    Metadata = new V1ObjectMeta { Name = string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}") },
                    Spec = new V1ServiceSpec { Type = "LoadBalancer", AllocateLoadBalancerNodePorts = false, Ports = [new V1ServicePort { Port = 443, Protocol = "TCP" }] },
                }, ns, cancellationToken: ct);
            }
        }));
    }

    /// <summary>Seconds from the process's start until its /readyz answers 200.</summary>
    private static async Task<double> ReadyAsync(HttpClient http, int port, BenchProcess p, Stopwatch sinceStart, CancellationToken ct)
    {
        while (true)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException("the process exited before it was ready");
            }

            try
            {
                using var r = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/readyz"), ct);
                if (r.IsSuccessStatusCode)
                {
                    return sinceStart.Elapsed.TotalSeconds;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }

            if (sinceStart.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new InvalidOperationException("not ready within 120 s");
            }

            await Task.Delay(10, ct);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
