using System.Net.Sockets;
using System.Text;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Cli.Lab;

/// <summary>
/// The control socket: one command a connection (a line), answered with lines that end in
/// <c>ok</c> or <c>error: …</c>. Commands: <c>fail NODE freeze|kill|stop</c>, <c>heal NODE</c>, <c>down</c>.
/// NODE is a node's name, or <c>controller</c>.
/// </summary>
internal sealed partial class LabSupervisor
{
    private async Task ServeControlAsync(CancellationToken ct)
    {
        File.Delete(_home.Socket);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(_home.Socket));
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(_home.Socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        listener.Listen(8);
        while (!ct.IsCancellationRequested)
        {
            Socket c;
            try
            {
                c = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            using (c)
            {
                await using var stream = new NetworkStream(c, ownsSocket: false);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
                var line = await reader.ReadLineAsync(ct).ConfigureAwait(false) ?? string.Empty;
                _say.WriteLine($"{Now()} control: {line}");
                string answer;
                try
                {
                    answer = await ExecuteAsync(line.Split(' ', StringSplitOptions.RemoveEmptyEntries), ct).ConfigureAwait(false) + "\nok";
                }
                catch (Exception e) when (e is ArgumentException or LabException or InvalidOperationException or TimeoutException)
                {
                    answer = "error: " + e.Message;
                }

                _say.WriteLine($"{Now()} control: {answer.Replace('\n', ' ')}");
                await writer.WriteLineAsync(answer).ConfigureAwait(false);
            }
        }
    }

    private async Task<string> ExecuteAsync(string[] words, CancellationToken ct)
    {
        switch (words)
        {
            case ["down"]:
                RequestStop();
                return "the lab is coming down";
            case ["fail", "controller", var how]:
                return FailController(how);
            case ["fail", "apiserver", var how]:
                return FailApiServer(how);
            case ["heal", "apiserver"]:
                return await HealApiServerAsync(ct).ConfigureAwait(false);
            case ["fail", var node, var how]:
                return await FailAsync(node, how).ConfigureAwait(false);
            case ["heal", "controller"]:
                return _controller is { HasExited: false } ? "the controller is running" : "the controller is restarted within 200 ms";
            case ["heal", var node]:
                return await HealAsync(node, ct).ConfigureAwait(false);
            default:
                throw new ArgumentException($"unknown command \"{string.Join(' ', words)}\": fail NODE freeze|kill|stop|cut-api, heal NODE, down");
        }
    }

    private string FailController(string how)
    {
        if (_controller is not { HasExited: false } c)
        {
            throw new InvalidOperationException("the controller is not running");
        }

        var signal = how switch
        {
            "kill" => Signals.Kill,
            "stop" => Signals.Term,
            _ => throw new ArgumentException($"fail controller --how {how}: kill or stop (a new controller starts, as its Deployment would start one)"),
        };
        Signals.Send(Pid(c), signal);
        return $"controller pid {Pid(c)}: {(how == "kill" ? "SIGKILL" : "SIGTERM")}; a new one starts";
    }

    /// <summary>The API server goes away: frozen (SIGSTOP: connections hang) or killed (SIGKILL: connections refused).</summary>
    private string FailApiServer(string how)
    {
        if (_apiServer is not { HasExited: false } p || _apiServerState != "running")
        {
            throw new InvalidOperationException(_spec.ApiServer == "real"
                ? "fail apiserver works on the embedded API server only (the real one runs with etcd from tools/real-apiserver)"
                : $"the API server is not running ({_apiServerState}); `extip lab heal apiserver` brings it back");
        }

        switch (how)
        {
            case "freeze":
                Signals.Send(p.Id, Signals.Stop);
                _apiServerState = "frozen";
                return $"API server pid {p.Id} stopped (SIGSTOP): requests and watches hang";
            case "kill":
                Signals.Send(p.Id, Signals.Kill);
                p.WaitForExit();
                _apiServerState = "killed";
                return $"API server pid {p.Id} killed (SIGKILL): connections refused; `heal apiserver` starts it again from its data directory";
            default:
                throw new ArgumentException($"fail apiserver --how {how}: freeze or kill");
        }
    }

    private async Task<string> HealApiServerAsync(CancellationToken ct)
    {
        switch (_apiServerState)
        {
            case "frozen":
                Signals.Send(_apiServer!.Id, Signals.Cont);
                _apiServerState = "running";
                return $"API server pid {_apiServer.Id} continues (SIGCONT)";
            case "killed":
                await StartEmbeddedApiServerAsync(new Uri(_apiServerUrl!).Port, ct).ConfigureAwait(false);
                WriteState();
                return $"API server started again (pid {_apiServer!.Id}) on {_apiServerUrl}, from its data directory";
            default:
                return "the API server is running";
        }
    }

    /// <summary>The node's namespace and its agent process (null when it never had one).</summary>
    private (string Netns, AgentProcess? Agent) NodeAndAgent(string node)
    {
        if (!_fabric!.Nodes.TryGetValue(node, out var ns))
        {
            throw new ArgumentException($"no node \"{node}\" (nodes: {_spec.NodeNames[0]}…{_spec.NodeNames[^1]})");
        }

        lock (_gate)
        {
            return (ns, _agents.GetValueOrDefault(node));
        }
    }

    private async Task<string> FailAsync(string node, string how)
    {
        var (ns, agent) = NodeAndAgent(node);

        if (how == "cut-api")
        {
            ApiRelay? relay;
            lock (_gate)
            {
                relay = _relays.GetValueOrDefault(node);
            }

            if (relay is null)
            {
                throw new InvalidOperationException($"{node}: no agent has run there, so it has no way to the API server to cut");
            }

            relay.Cut();
            return $"{node}: its agent's API traffic dropped (its relay to the API server cut); its data traffic flows";
        }

        if (agent is null || agent.Process.HasExited || agent.State != "running")
        {
            throw new InvalidOperationException($"{node}: no running agent to fail (agent: {agent?.State ?? "none"}); `extip lab heal {node}` starts one");
        }

        string said;
        switch (how)
        {
            case "freeze":
                // The node dies silently: its agent stops where it is and no packet enters or leaves.
                Signals.Send(Pid(agent.Process), Signals.Stop);
                Site.Freeze(ns);
                agent.State = "frozen";
                said = $"{node}: agent pid {Pid(agent.Process)} stopped (SIGSTOP) and all of {ns}'s traffic dropped";
                break;
            case "hang":
                // A stuck agent on a live node: its traffic flows, the kernel still answers for
                // its addresses until their lifetimes (its Lease) run out.
                Signals.Send(Pid(agent.Process), Signals.Stop);
                agent.State = "hung";
                said = $"{node}: agent pid {Pid(agent.Process)} stopped (SIGSTOP); the node's traffic flows";
                break;
            case "link-down":
                // The cable pulled: the node's uplink has no carrier; its agent runs and renews.
                _fabric!.SetUplink(node, false);
                agent.State = "link-down";
                said = $"{node}: its uplink (eth0) lost its carrier (the router's port to it is down); its agent runs and renews its Lease";
                break;
            case "kill":
                Signals.Send(Pid(agent.Process), Signals.Kill);
                await agent.Process.WaitForExitAsync().ConfigureAwait(false);
                agent.State = "killed";
                said = $"{node}: agent pid {Pid(agent.Process)} killed (SIGKILL): its BGP sessions closed with it; the kernel removes the addresses it put there when their lifetime (its Lease) runs out, and the controller moves its claims then";
                break;
            case "stop":
                Signals.Send(Pid(agent.Process), Signals.Term);
                await agent.Process.WaitForExitAsync().ConfigureAwait(false);
                agent.State = "stopped";
                said = $"{node}: agent pid {Pid(agent.Process)} stopped cleanly (SIGTERM): handed its claims over to other nodes, withdrew its routes, removed its addresses, released its Lease";
                break;
            default:
                throw new ArgumentException($"fail {node} --how {how}: freeze, hang, kill, stop, cut-api or link-down");
        }

        WriteState();
        return said;
    }

    private async Task<string> HealAsync(string node, CancellationToken ct)
    {
        var (ns, agent) = NodeAndAgent(node);

        string said;
        ApiRelay? cut;
        lock (_gate)
        {
            cut = _relays.GetValueOrDefault(node) is { IsCut: true } r ? r : null;
        }

        if (cut is not null)
        {
            cut.Heal();
            if (agent is not null)
            {
                agent.ReadySince = DateTime.UtcNow;
            }

            said = $"{node}: its agent reaches the API server again";
        }
        else if (agent is { State: "frozen" } && !agent.Process.HasExited)
        {
            Site.Thaw(ns);
            agent.ReadySince = DateTime.UtcNow;
            Signals.Send(Pid(agent.Process), Signals.Cont);
            agent.State = "running";
            said = $"{node}: traffic flows again and agent pid {Pid(agent.Process)} continues (SIGCONT)";
        }
        else if (agent is { State: "link-down" } && !agent.Process.HasExited)
        {
            _fabric!.SetUplink(node, true);
            agent.ReadySince = DateTime.UtcNow;
            agent.State = "running";
            said = $"{node}: its uplink has its carrier again";
        }
        else if (agent is { State: "hung" } && !agent.Process.HasExited)
        {
            agent.ReadySince = DateTime.UtcNow;
            Signals.Send(Pid(agent.Process), Signals.Cont);
            agent.State = "running";
            said = $"{node}: agent pid {Pid(agent.Process)} continues (SIGCONT)";
        }
        else if (agent is not null && !agent.Process.HasExited)
        {
            said = $"{node}: its agent (pid {Pid(agent.Process)}) is running";
        }
        else
        {
            agent = StartAgent(node);
            said = $"{node}: agent started (pid {Pid(agent.Process)})";
        }

        WriteState();
        await WaitAgentsAsync([node], TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
        return said + "; ready";
    }
}
