using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Cli.Lab;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Cli.Bench;

/// <summary>
/// The L2 failover reference: keepalived (VRRP) on k8s1 (priority 150, master) and k8s2 (100)
/// of a running lab, a virtual address on the rack segment, <c>advert_int 1</c> as its docs and
/// most guides set it. The nodes' responders answer on it too.
/// </summary>
internal sealed class Keepalived : IAsyncDisposable
{
    public static readonly IPAddress Vip = IPAddress.Parse("203.0.113.200");

    private readonly LabState _state;
    private readonly Dictionary<string, Process> _daemons = new(StringComparer.Ordinal);

    private Keepalived(LabState state) => _state = state;

    public static async Task<Keepalived> StartAsync(LabState state, CancellationToken ct)
    {
        var k = new Keepalived(state);
        var dir = Path.Combine(Site.WorkRoot, state.Prefix.TrimEnd('-'), "keepalived");
        Directory.CreateDirectory(dir);
        foreach (var (node, priority) in new[] { ("k8s1", 150), ("k8s2", 100) })
        {
            var conf = Path.Combine(dir, $"{node}.conf");
            await File.WriteAllTextAsync(conf, $$"""
                global_defs {
                  router_id {{node}}
                }
                vrrp_instance extip_bench {
                  state BACKUP
                  interface eth0
                  virtual_router_id 51
                  priority {{priority.ToString(CultureInfo.InvariantCulture)}}
                  advert_int 1
                  virtual_ipaddress {
                    {{Vip}}/32 dev eth0
                  }
                }
                """, ct).ConfigureAwait(false);
            var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "netns", "exec", state.Node(node).Netns, "keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", conf,
                "-p", Path.Combine(dir, $"{node}.pid"), "-r", Path.Combine(dir, $"{node}-vrrp.pid") })
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment[Site.ProcessMark] = state.Prefix;
            var p = Process.Start(psi) ?? throw new LabException("could not start keepalived");
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            k._daemons[node] = p;
        }

        return k;
    }

    /// <summary>The node dies silently: keepalived stopped where it is, the namespace's traffic dropped.</summary>
    public string Freeze(string node)
    {
        foreach (var pid in Pids(node))
        {
            Signals.Send(pid, Signals.Stop);
        }

        Site.Freeze(_state.Node(node).Netns);
        return $"{node}: keepalived stopped and its traffic dropped";
    }

    public void Thaw(string node)
    {
        Site.Thaw(_state.Node(node).Netns);
        foreach (var pid in Pids(node))
        {
            Signals.Send(pid, Signals.Cont);
        }
    }

    /// <summary>keepalived's processes in the node's namespace (the parent and its VRRP child).</summary>
    private IEnumerable<int> Pids(string node) =>
        Shell.Run("ip", ["netns", "pids", _state.Node(node).Netns], check: false)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture))
            .Where(pid => File.Exists($"/proc/{pid}/comm") && File.ReadAllText($"/proc/{pid}/comm").Trim() == "keepalived");

    public ValueTask DisposeAsync()
    {
        foreach (var (node, p) in _daemons)
        {
            Thaw(node);
            Site.Kill(p.Id);
            foreach (var pid in Pids(node))
            {
                Site.Kill(pid);
            }

            p.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
