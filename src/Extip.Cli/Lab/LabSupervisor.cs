using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Core.Pools;
using Extip.Kubernetes.Crds;
using Extip.Lab;
using Extip.Lab.Routers;
using Extip.Netlink;
using k8s;
using k8s.Models;

namespace Extip.Cli.Lab;

/// <summary>
/// The process that owns a running lab (<c>extip lab serve</c>, started detached by <c>lab up</c>):
/// it builds the site, runs the API server, the controller and the agents as child processes,
/// answers on the nodes as their "pods" do, and carries out <c>fail</c>, <c>heal</c> and
/// <c>down</c> sent over its control socket. The site's namespaces are named after its pid, so
/// when it dies without cleaning up, the next <c>up</c> or <c>down</c> sweeps what it left.
/// </summary>
internal sealed partial class LabSupervisor : IAsyncDisposable
{
    private readonly LabSpec _spec;
    private readonly LabHome _home;
    private readonly TextWriter _say;
    private readonly Dictionary<string, AgentProcess> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ApiRelay> _relays = new(StringComparer.Ordinal);
    private readonly List<Responder> _responders = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private Site? _site;
    private Fabric? _fabric;
    private Router? _router;
    private Process? _apiServer;
    private Process? _controller;
    private string? _apiServerUrl;
    private LabIdentities? _identities;
    private IReadOnlyDictionary<string, string> _agentTokens = new Dictionary<string, string>();
    private string _apiServerState = "running";
    private int _controllers;
    private LabContainers? _containers;

    /// <summary>In a lab run from the image: each container's podman process, and the process id of what runs in it.</summary>
    private readonly Dictionary<Process, Task<int>> _containerPids = [];

    public LabSupervisor(LabSpec spec, LabHome home, TextWriter say)
    {
        _spec = spec;
        _home = home;
        _say = say;
    }

    public IKubernetes Client { get; private set; } = null!;

    /// <summary>Cancelled when the lab is asked to come down.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Builds everything, step by step, saying what each step did and how long it took.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_home.LogDir);
        await Step("site", () =>
        {
            _site = Site.Create();

            // Everything this process starts from now on carries the site's mark (etcd and
            // kube-apiserver too, which start.sh starts in the background), so a sweep after a
            // crash finds them.
            Environment.SetEnvironmentVariable(Site.ProcessMark, _site.Prefix);
            _fabric = Fabric.Create(_site, client: true);
            foreach (var node in _spec.NodeNames)
            {
                var ns = _fabric.AddNode(node);
                _responders.Add(new Responder(ns, node, _spec.Port));
            }

            return Task.FromResult($"namespaces {_site.Prefix}*: nodes {_spec.NodeNames[0]}…{_spec.NodeNames[^1]} on a rack segment (198.51.100.0/25, 2001:db8:100::/64), "
                + $"a router, a client behind it (198.51.100.130); an HTTP responder on every node answers with its name");
        }).ConfigureAwait(false);

        if (_spec.Image is { } image)
        {
            await Step("image", () =>
            {
                LabContainers.Sweep();
                _containers = LabContainers.Load(image);
                return Task.FromResult($"{_containers.Image} from {image}; the controller and the agents run in containers (podman, {_containers.Runtime}) with the manifests' users and capabilities");
            }).ConfigureAwait(false);
        }

        await Step("API server", () => StartApiServerAsync(ct)).ConfigureAwait(false);
        await Step("cluster objects", () => ApplyClusterAsync(ct)).ConfigureAwait(false);
        await Step("router", () => StartRouterAsync(ct)).ConfigureAwait(false);
        await Step("controller", () =>
        {
            StartController();
            return Task.FromResult($"extip controller (leader election, Lease in extip-system); log {Path.Combine(_home.LogDir, "controller.log")}");
        }).ConfigureAwait(false);
        await Step("agents", async () =>
        {
            foreach (var node in _spec.AgentNodes)
            {
                StartAgent(node);
            }

            await WaitAgentsAsync(_spec.AgentNodes, TimeSpan.FromSeconds(90), ct).ConfigureAwait(false);
            return _spec.Agents == 0 ? "no agents (--agents 0)"
                : $"extip agent on {string.Join(", ", _spec.AgentNodes)} (Lease {_spec.LeaseSeconds.ToString(CultureInfo.InvariantCulture)} s)"
                  + (_spec.Mode == AnnounceMode.BGP ? $"; BGP sessions with the router Established{(_spec.Bfd ? ", BFD up" : string.Empty)}" : string.Empty);
        }).ConfigureAwait(false);
        WriteState();
    }

    /// <summary>Runs the lab until <c>down</c> or a signal; the controller is restarted when it exits, as its Deployment would.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        var control = ServeControlAsync(stop.Token);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(200, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (_controller is { HasExited: true } c && !stop.IsCancellationRequested)
            {
                _say.WriteLine($"{Now()} controller exited (code {c.ExitCode}); starting a new one");
                StartController();
                WriteState();
            }
        }

        await control.ConfigureAwait(false);
    }

    public void RequestStop()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // A signal handled as the lab was already coming down.
        }
    }

    private async Task Step(string what, Func<Task<string>> step)
    {
        var sw = Stopwatch.StartNew();
        var said = await step().ConfigureAwait(false);
        _say.WriteLine($"  ✓ {what}: {said} ({sw.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s)");
        _say.Flush();
    }

    private async Task<string> StartApiServerAsync(CancellationToken ct)
    {
        _identities = LabIdentities.InDirectory(Path.Combine(_site!.WorkDir, "identities"));
        if (_spec.ApiServer == "real")
        {
            var script = Path.Combine(RepoRoot(), "tools", "real-apiserver", "start.sh");
            var dir = Path.Combine(_site!.WorkDir, "kube-apiserver");
            var port = Checkout.RealApiServerPort().ToString(CultureInfo.InvariantCulture);
            var output = await Task.Run(() => Shell.Run("env", [$"AUTHORIZATION_MODE=RBAC", $"EXTRA_TOKENS={_identities.TokenFile}", "bash", script, dir, port]), ct).ConfigureAwait(false);
            File.Copy(output.Trim().Split('\n')[^1].Trim(), _home.Kubeconfig, overwrite: true);
            _apiServerUrl = $"https://127.0.0.1:{port}";
        }
        else
        {
            await StartEmbeddedApiServerAsync(0, ct).ConfigureAwait(false);
        }

        Client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(_home.Kubeconfig));
        _apiServerUrl ??= Client.BaseUri.ToString().TrimEnd('/');
        return $"{(_spec.ApiServer == "real" ? "kube-apiserver v1.20 (real, with etcd)" : "extip's embedded API server")} at {_apiServerUrl}, RBAC on; kubeconfig {_home.Kubeconfig} (admin)";
    }

    /// <summary>The embedded API server as a process, its objects in the site's folder (so that a restart finds them).</summary>
    private async Task StartEmbeddedApiServerAsync(int port, CancellationToken ct)
    {
        File.Delete(_home.Kubeconfig);
        _apiServer = StartSelf("apiserver", ["apiserver", "--listen", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--kubeconfig-out", _home.Kubeconfig, "--data-dir", Path.Combine(_site!.WorkDir, "apiserver"),
            "--authorization", "RBAC", "--token-file", _identities!.TokenFile]);
        _apiServerState = "running";
        var sw = Stopwatch.StartNew();
        while (!File.Exists(_home.Kubeconfig))
        {
            if (_apiServer.HasExited || sw.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new LabException($"the API server did not start; see {Path.Combine(_home.LogDir, "apiserver.log")}");
            }

            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }

    private async Task<string> ApplyClusterAsync(CancellationToken ct)
    {
        await CrdInstaller.InstallAsync(Client, ct).ConfigureAwait(false);
        await LabObjects.EnsureNamespaceAsync(Client, Extip.Kubernetes.Models.ExtipApi.DefaultNamespace, ct).ConfigureAwait(false);
        var rbac = await LabIdentities.ApplyRbacAsync(Client, Path.Combine(RepoRoot(), "deploy", "base"), ct).ConfigureAwait(false);
        foreach (var node in _spec.NodeNames)
        {
            await LabObjects.CreateNodeAsync(Client, node, _fabric!.V4(node), _fabric.V6(node), ct).ConfigureAwait(false);
        }

        _agentTokens = await LabIdentities.AgentTokensAsync(Client, _spec.NodeNames, ct).ConfigureAwait(false);

        var pool = await LabObjects.CreatePoolAsync(Client, _spec, ct).ConfigureAwait(false);
        var peers = _spec.Mode == AnnounceMode.BGP
            ? await LabObjects.CreatePeersAsync(Client, _spec, ct).ConfigureAwait(false)
            : "no BGPPeers (mode " + _spec.Mode + ")";
        return $"CRDs, namespace extip-system, the manifests' RBAC ({rbac} objects), pod-bound agent tokens, Nodes {_spec.NodeNames[0]}…{_spec.NodeNames[^1]}, {pool}, {peers}";
    }

    private async Task<string> StartRouterAsync(CancellationToken ct)
    {
        var families = _spec.Ipv6 ? new[] { true, false } : [true];
        var neighbors = _spec.NodeNames.SelectMany(n => families.Select(v4 => v4 ? _fabric!.V4(n) : _fabric!.V6(n)))
            .Select(a => new BgpNeighbor { Address = a, As = LabObjects.NodeAs, Bfd = _spec.Bfd, HoldTime = _spec.HoldTime, Passive = true })
            .ToList();
        _router = Router.Create(_spec.Router, _site!, _fabric!.Router, new RouterConfig { RouterId = Fabric.RouterV4, As = LabObjects.RouterAs, Neighbors = neighbors });
        await _router.StartAsync(ct).ConfigureAwait(false);
        _router.RunInRealTime();
        switch (_spec.Mode)
        {
            case AnnounceMode.L2:
                // The pool's prefix is on the rack segment: the router asks for each address with ARP/NDP.
                Shell.Run("ip", "-n", _fabric.Router, "route", "add", LabObjects.PoolV4, "dev", "br0");
                if (_spec.Ipv6)
                {
                    Shell.Run("ip", "-n", _fabric.Router, "-6", "route", "add", LabObjects.PoolV6, "dev", "br0");
                }

                return $"{_spec.Router} in {_fabric.Router} (AS {LabObjects.RouterAs}); {LabObjects.PoolV4} is on its rack segment (L2: ARP/NDP finds the holder)";
            case AnnounceMode.Local:
                // Local mode announces nothing: the operator routes the pool by hand, as before extip.
                var via = _spec.AgentNodes.SelectMany(n => new[] { "nexthop", "via", _fabric.V4(n).ToString() }).ToArray();
                if (via.Length > 0)
                {
                    Shell.Run("ip", ["-n", _fabric.Router, "route", "add", LabObjects.PoolV4, .. via]);
                }

                return $"{_spec.Router} in {_fabric.Router}; Local mode: {LabObjects.PoolV4} routed by hand to the agents' nodes";
            default:
                return $"{_spec.Router} in {_fabric.Router}, AS {LabObjects.RouterAs}, {neighbors.Count} neighbours"
                    + (_spec.Bfd ? $" with BFD ({_router.Config.BfdInterval.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms x {_router.Config.BfdMultiplier})" : " without BFD")
                    + $", hold time {_spec.HoldTime} s, ECMP into its kernel";
        }
    }

    private void StartController()
    {
        var n = Interlocked.Increment(ref _controllers);
        // The admission webhook on loopback, where the lab's API server (embedded or real) reaches it.
        var kubeconfig = LabIdentities.As(_home.Kubeconfig, _identities!.ControllerToken, Path.Combine(_home.Dir, "kubeconfig-controller"));
        if (_containers is not null)
        {
            // The controller's container runs as 65532, as its Deployment's does: its credentials are its own.
            Shell.Run("chown", "65532:65532", kubeconfig);
        }

        string[] args = ["controller", "--kubeconfig", kubeconfig, "--id", $"lab-controller-{n}", "--mask", "32", "--iface", "lo", "--webhook", "127.0.0.1:0"];
        _controller = StartSelf("controller", _spec.HoldDownSeconds is { } hold ? [.. args, "--hold-down", hold.ToString(CultureInfo.InvariantCulture)] : args,
            container: ("host", LabContainers.ControllerSecurity, [kubeconfig]));
    }

    /// <summary>
    /// The node's kubeconfig: the lab's, with the server reached through the node's own
    /// <see cref="ApiRelay"/>, which <c>fail NODE --how cut-api</c> cuts.
    /// </summary>
    private string NodeKubeconfig(string node)
    {
        var api = new Uri(_apiServerUrl!);
        ApiRelay relay;
        lock (_gate)
        {
            if (!_relays.TryGetValue(node, out relay!))
            {
                // An agent in a container lives in its node's namespace and reaches the relay there.
                relay = new ApiRelay(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(api.Host), api.Port), listenIn: _containers is null ? null : _fabric!.Nodes[node]);
                _relays[node] = relay;
            }
        }

        var path = Path.Combine(_home.Dir, $"kubeconfig-{node}");
        LabIdentities.As(_home.Kubeconfig, _agentTokens[node], path);
        var text = File.ReadAllText(path).Replace($"{api.Host}:{api.Port.ToString(CultureInfo.InvariantCulture)}", $"127.0.0.1:{relay.Port.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal);
        Extip.ApiServer.Storage.PrivateFiles.WriteAllText(path, text);
        return path;
    }

    /// <summary>Starts an agent process for the node (replacing a dead one).</summary>
    private AgentProcess StartAgent(string node)
    {
        var ns = _fabric!.Nodes[node];
        // From the image the agent runs inside its node's namespace (hostNetwork), not driving it from outside.
        string[] where = _containers is null ? ["--netns", ns] : [];
        var p = StartSelf($"agent-{node}",
        [
            "agent", "--node", node, "--kubeconfig", NodeKubeconfig(node), .. where,
            "--lease-duration", _spec.LeaseSeconds.ToString(CultureInfo.InvariantCulture),
            "--renew-interval", _spec.RenewSeconds.ToString(CultureInfo.InvariantCulture),
            .. (string[])(_spec.NoHandover ? ["--handover-timeout", "0", "--drain-timeout", "0"] : []),
            .. (string[])(_spec.NoChain ? ["--no-chain-connections"] : []),
            .. (string[])(_spec.WithdrawDelaySeconds is { } delay ? ["--withdraw-delay", delay.ToString(CultureInfo.InvariantCulture)] : []),
        ], container: (ns, LabContainers.AgentSecurity, [Path.Combine(_home.Dir, $"kubeconfig-{node}")]));
        var agent = new AgentProcess(node, p);
        lock (_gate)
        {
            _agents[node] = agent;
        }

        return agent;
    }

    /// <summary>Waits until every node's IPNode says Ready and, in BGP mode, the router has its sessions Established.</summary>
    private async Task WaitAgentsAsync(IReadOnlyList<string> nodes, TimeSpan timeout, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        foreach (var node in nodes)
        {
            while (!await AgentReadyAsync(node, ct).ConfigureAwait(false))
            {
                if (_agents[node].Process.HasExited)
                {
                    throw new LabException($"the agent on {node} exited (code {_agents[node].Process.ExitCode}); see {Path.Combine(_home.LogDir, $"agent-{node}.log")}");
                }

                if (sw.Elapsed > timeout)
                {
                    throw new LabException($"the agent on {node} was not ready within {timeout.TotalSeconds} s; see {Path.Combine(_home.LogDir, $"agent-{node}.log")}");
                }

                await Task.Delay(50, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> AgentReadyAsync(string node, CancellationToken ct)
    {
        if (!await LabObjects.NodeReadyAsync(Client, node, ct).ConfigureAwait(false))
        {
            return false;
        }

        // A killed agent's Ready status is still there: the new process must have renewed its
        // Lease (it does once it can act). One machine, one clock: the times compare.
        try
        {
            var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync(Extip.Kubernetes.Models.ExtipApi.AgentLeasePrefix + node, Extip.Kubernetes.Models.ExtipApi.DefaultNamespace, cancellationToken: ct).ConfigureAwait(false);
            if (lease.Spec?.HolderIdentity != node || lease.Spec.RenewTime is not { } renewed || renewed.ToUniversalTime() < _agents[node].ReadySince)
            {
                return false;
            }
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        if (_spec.Mode != AnnounceMode.BGP)
        {
            return true;
        }

        foreach (var a in _spec.Ipv6 ? new[] { _fabric!.V4(node), _fabric.V6(node) } : [_fabric!.V4(node)])
        {
            if (await _router!.PeerAsync(a, ct).ConfigureAwait(false) is not { Established: true })
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An extip command as a child process of the site, its output in the lab's log folder.</summary>
    private Process StartSelf(string log, IReadOnlyList<string> args, (string Network, string[] Security, string[] Files)? container = null)
    {
        var writer = new StreamWriter(Path.Combine(_home.LogDir, log + ".log"), append: true) { AutoFlush = true };
        var (file, prefix) = SelfCommand();
        string? name = null;
        IReadOnlyList<string> command = [.. prefix, .. args];
        // The API server stands in for the cluster's: it runs from this build, as do the routers.
        if (_containers is not null && container is { } c)
        {
            // Its credentials, and the site's folder (where a real API server's CA certificate is).
            (file, var a, name) = _containers.Command(_site!.Prefix, log, c.Network, c.Security, [.. c.Files, _site.WorkDir], args);
            command = a;
        }

        var p = _site!.Start(null, file, command, RuntimeTuning.For(args.FirstOrDefault()), output: line =>
        {
            lock (writer)
            {
                writer.WriteLine(line);
            }
        });
        p.EnableRaisingEvents = true;
        p.Exited += (_, _) =>
        {
            lock (writer)
            {
                writer.Dispose();
            }
        };
        if (name is not null)
        {
            lock (_gate)
            {
                _containerPids[p] = LabContainers.PidAsync(name, p, TimeSpan.FromSeconds(60), CancellationToken.None);
            }
        }

        return p;
    }

    /// <summary>The process id of what <paramref name="p"/> runs: itself, or in a lab from the image, the container's process.</summary>
    private int Pid(Process p)
    {
        Task<int>? pid;
        lock (_gate)
        {
            _containerPids.TryGetValue(p, out pid);
        }

        return pid?.GetAwaiter().GetResult() ?? p.Id;
    }

    /// <summary>How to run this same extip: the dotnet host and the CLI's assembly.</summary>
    public static (string File, string[] Prefix) SelfCommand()
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var dll = Path.Combine(AppContext.BaseDirectory, "extip.dll");
        return Path.GetFileNameWithoutExtension(host) == "dotnet" ? (host, [dll]) : (host, []);
    }

    /// <summary>The source checkout the CLI was built from (for tools/real-apiserver).</summary>
    private static string RepoRoot() =>
        Checkout.Root() ?? throw new LabException("cannot find the extip checkout (tools/real-apiserver) above " + AppContext.BaseDirectory);

    private static string Now() => DateTime.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private void WriteState()
    {
        List<LabNode> nodes;
        lock (_gate)
        {
            nodes = [.. _spec.NodeNames.Select(n => new LabNode(n, _fabric!.Nodes[n], _fabric.V4(n).ToString(), _fabric.V6(n).ToString())
            {
                Agent = !_agents.TryGetValue(n, out var a) ? "none" : a.Process.HasExited && a.State == "running" ? "exited" : a.State,
                AgentPid = _agents.TryGetValue(n, out var b) && !b.Process.HasExited ? Pid(b.Process) : null,
            })];
        }

        _home.Write(new LabState
        {
            Pid = Environment.ProcessId,
            Prefix = _site!.Prefix,
            Spec = _spec,
            Kubeconfig = _home.Kubeconfig,
            Router = _fabric!.Router,
            Client = _fabric.Client!,
            Nodes = nodes,
            ControllerPid = _controller is { HasExited: false } c ? Pid(c) : null,
            ApiServerUrl = _apiServerUrl,
            ApiServer = _apiServerState,
        });
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();

        // Agents first, as a node drain would: routes withdrawn, addresses removed, Leases released.
        List<AgentProcess> agents;
        lock (_gate)
        {
            agents = [.. _agents.Values];
        }

        foreach (var a in agents.Where(a => !a.Process.HasExited))
        {
            if (a.State == "frozen")
            {
                Site.Thaw(_fabric!.Nodes[a.Node]);
                Signals.Send(Pid(a.Process), Signals.Cont);
            }
            else if (a.State == "hung")
            {
                Signals.Send(Pid(a.Process), Signals.Cont);
            }

            Signals.Send(Pid(a.Process), Signals.Term);
        }

        await Task.WhenAll(agents.Select(a => a.Process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token)
            .ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
        foreach (var r in _responders)
        {
            await r.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var relay in _relays.Values)
        {
            await relay.DisposeAsync().ConfigureAwait(false);
        }

        if (_router is not null)
        {
            await _router.DisposeAsync().ConfigureAwait(false);
        }

        if (_containers is not null && _site is not null)
        {
            // Killing podman leaves its container running: the controller is stopped in it, and
            // whatever of the site's is left is removed.
            if (_controller is { HasExited: false } c)
            {
                Signals.Send(Pid(c), Signals.Term);
                await c.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }

            LabContainers.Sweep(_site.Prefix);
        }

        if (_spec.ApiServer == "real" && _site is not null)
        {
            Shell.Run("bash", [Path.Combine(RepoRoot(), "tools", "real-apiserver", "stop.sh"), Path.Combine(_site.WorkDir, "kube-apiserver")], check: false);
        }

        _site?.Dispose();
        _stopping.Dispose();
    }

    /// <summary>An agent process the lab started, and what was last done to it.</summary>
    private sealed class AgentProcess(string node, Process process)
    {
        public string Node { get; } = node;

        public Process Process { get; } = process;

        /// <summary>running, frozen, stopped (SIGTERM), killed (SIGKILL).</summary>
        public string State { get; set; } = "running";

        /// <summary>Its Lease must be renewed after this to count as ready: its start, or its thaw (a killed or frozen one's Lease is still there).</summary>
        public DateTime ReadySince { get; set; } = DateTime.UtcNow;
    }
}
