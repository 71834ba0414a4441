using System.Diagnostics;
using System.Net;
using Extip.Cli.Lab;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using Extip.Lab;
using Extip.Netlink;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace Extip.Lab.Tests;

/// <summary>
/// Drives <c>extip lab</c> as a user does, as processes, with a lab home of its own
/// (<c>EXTIP_LAB_HOME</c>), and reads back what the kernel, the router and the API hold. On
/// dispose it takes the lab down and checks that nothing of it is left.
/// </summary>
internal sealed class LabDriver : IAsyncDisposable
{
    private readonly ITestOutputHelper _output;
    private IKubernetes? _client;

    public LabDriver(ITestOutputHelper output)
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("the lab tests need root (network namespaces, routing daemons); run them as root, as CI does");
        }

        _output = output;
        Home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-lab-test-{Guid.NewGuid():N}"));
    }

    public LabHome Home { get; }

    public LabState State => Home.Read() ?? throw new InvalidOperationException($"no lab state in {Home.StateFile}");

    public IKubernetes Client => _client ??= new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(State.Kubeconfig));

    /// <summary>Runs <c>extip ARGS</c> with this driver's lab home; its exit code and output (also logged).</summary>
    public async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "extip.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["EXTIP_LAB_HOME"] = Home.Dir;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var text = await stdout + await stderr;
        Log($"$ extip {string.Join(' ', args)} -> exit {p.ExitCode}\n{text}");
        return (p.ExitCode, text);
    }

    /// <summary>Runs <c>extip ARGS</c> and fails the test with its output when it does not exit 0.</summary>
    public async Task<string> MustAsync(params string[] args)
    {
        var (code, text) = await RunAsync(args);
        if (code != 0)
        {
            Assert.Fail($"extip {string.Join(' ', args)} exited {code}:\n{text}\n{Logs()}");
        }

        return text;
    }

    public void Log(string line)
    {
        try
        {
            _output.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Every component's log lines that contain one of <paramref name="needles"/> (the last <paramref name="max"/> of each log), for a failure's message.</summary>
    public string LogLines(IReadOnlyList<string> needles, int max = 40)
    {
        if (!Directory.Exists(Home.LogDir))
        {
            return string.Empty;
        }

        return string.Join('\n', Directory.GetFiles(Home.LogDir).Order(StringComparer.Ordinal).Select(f =>
            $"--- {Path.GetFileName(f)} ({string.Join(", ", needles)})\n" + string.Join('\n', File.ReadLines(f).Where(l => needles.Any(n => l.Contains(n, StringComparison.Ordinal))).TakeLast(max))));
    }

    /// <summary>The lab's own log and the tail of each component's, for a failure's message.</summary>
    public string Logs(int tail = 25)
    {
        var parts = new List<string>();
        if (File.Exists(Home.Log))
        {
            parts.Add("--- lab.log\n" + string.Join('\n', File.ReadLines(Home.Log).TakeLast(40)));
        }

        if (Directory.Exists(Home.LogDir))
        {
            foreach (var f in Directory.GetFiles(Home.LogDir).Order(StringComparer.Ordinal))
            {
                parts.Add($"--- {Path.GetFileName(f)}\n" + string.Join('\n', File.ReadLines(f).TakeLast(tail)));
            }
        }

        return string.Join('\n', parts);
    }

    /// <summary>The addresses the node's kernel holds on an interface.</summary>
    public HashSet<IPAddress> Kernel(string node, string iface)
    {
        using var nl = RtNetlink.Open(State.Node(node).Netns);
        var index = nl.Link(iface)?.Index ?? throw new InvalidOperationException($"{node} has no {iface}");
        return nl.Addresses().Where(a => a.InterfaceIndex == index).Select(a => a.Address).ToHashSet();
    }

    /// <summary>The nodes whose kernel holds the address on the interface.</summary>
    public IReadOnlyList<string> Holders(IPAddress address, string iface) =>
        [.. State.Nodes.Where(n => Kernel(n.Name, iface).Contains(address)).Select(n => n.Name)];

    /// <summary>The nodes the router's kernel routes the address to (ECMP next hops).</summary>
    public IReadOnlyList<string> RoutedTo(IPAddress address) =>
        [.. Fabric.NextHops(State.Router, address).Select(h => State.NodeOf(h) ?? h.ToString()).Order(StringComparer.Ordinal)];

    /// <summary><paramref name="count"/> connections from the client, one after the other: the node that answered each (null: none).</summary>
    public async Task<List<string?>> AskAsync(IPAddress address, int count)
    {
        var answers = new List<string?>();
        for (var i = 0; i < count; i++)
        {
            answers.Add(await Responder.AskAsync(State.Client, address, State.Spec.Port, TimeSpan.FromSeconds(2)));
        }

        return answers;
    }

    public async Task<IpClaim?> ClaimAsync(IPAddress address) => await LabObjects.ClaimAsync(Client, address, CancellationToken.None);

    public async Task<List<IpClaim>> ClaimsAsync()
    {
        var (items, _) = await Resources.Custom<IpClaim>(Client, IpClaim.Plural).ListAllAsync(CancellationToken.None);
        return items;
    }

    /// <summary>A LoadBalancer Service with no address asked for: the pool allocates one.</summary>
    public Task<V1Service> LoadBalancerAsync(string name) =>
        Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", Ports = [new V1ServicePort { Protocol = "TCP", Port = State.Spec.Port }] },
        }, "default");

    /// <summary>The Service's first ingress address, once it has one.</summary>
    public async Task<IPAddress> IngressAsync(string name) =>
        await UntilAsync(async () =>
        {
            var s = await Client.CoreV1.ReadNamespacedServiceAsync(name, "default");
            return s.Status?.LoadBalancer?.Ingress is [{ Ip: { } ip }, ..] ? IPAddress.Parse(ip) : null;
        }, a => a is not null, $"Service {name} getting an address") ?? throw new InvalidOperationException();

    /// <summary>Waits on observed state (no upper bound but a generous one that names what it waited for, with the lab's logs).</summary>
    public async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        var sw = Stopwatch.StartNew();
        T last;
        while (!done(last = await read()))
        {
            if (sw.Elapsed > TimeSpan.FromMinutes(3))
            {
                Assert.Fail($"{what}: not after {sw.Elapsed.TotalSeconds:F0} s (last seen: {Show(last)})\n{Logs()}");
            }

            await Task.Delay(20);
        }

        Log($"{what}: after {sw.Elapsed.TotalMilliseconds:F0} ms");
        return last;
    }

    public Task<T> Until<T>(Func<T> read, Func<T, bool> done, string what) => UntilAsync(() => Task.FromResult(read()), done, what);

    private static string Show<T>(T value) => value switch
    {
        null => "null",
        System.Collections.IEnumerable e and not string => "[" + string.Join(", ", e.Cast<object?>()) + "]",
        _ => value.ToString() ?? string.Empty,
    };

    public async ValueTask DisposeAsync()
    {
        var state = Home.Read();
        await RunAsync("lab", "down");
        if (state is null)
        {
            return;
        }

        // Nothing of the lab may be left: namespaces, processes, files.
        Assert.DoesNotContain(NetNs.List(), ns => ns.StartsWith(state.Prefix, StringComparison.Ordinal));
        Assert.DoesNotContain(Site.MarkedProcesses(), p => p.Site == state.Prefix);
        Assert.False(Directory.Exists($"/proc/{state.Pid}") && File.Exists($"/proc/{state.Pid}/environ"), $"the lab's supervisor (pid {state.Pid}) still runs");
        Assert.False(Directory.Exists(Home.Dir), $"{Home.Dir} is still there");
        Assert.False(Directory.Exists(Path.Combine(Site.WorkRoot, state.Prefix.TrimEnd('-'))), "the site's work folder is still there");
    }
}
