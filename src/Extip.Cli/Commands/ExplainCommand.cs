using System.CommandLine;
using Extip.Controller;
using Extip.Cli.Lab;
using Extip.Controller.Explain;
using Extip.Lab;
using k8s.Autorest;

namespace Extip.Cli.Commands;

/// <summary>
/// <c>extip explain SERVICE</c> (also <c>kubectl extip explain</c>): why a Service has the address
/// it has, or none; where it lives and why there. Reads only the Kubernetes API.
/// </summary>
internal static class ExplainCommand
{
    public static Command Build()
    {
        var service = new Argument<string>("service") { Description = "The Service: NAME (in --namespace) or NAMESPACE/NAME." };
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = $"kubeconfig file; default: in-cluster config inside a Pod, $KUBECONFIG, the lab's ({ClusterConnection.LabKubeconfig}) when it exists, ~/.kube/config." };
        var ns = new Option<string>("--namespace", "-n") { Description = "Namespace of the Service.", DefaultValueFactory = _ => "default" };
        var output = new Option<string>("--output", "-o") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        var lbClass = new Option<string>("--lb-class") { Description = "The controller's loadBalancerClass (its --lb-class).", DefaultValueFactory = _ => Kubernetes.Models.ExtipApi.DefaultLoadBalancerClass };
        var cmd = new Command("explain", "Explains one Service: which pools serve it and which was chosen, its addresses' claims, which nodes may hold them and why not the others, what their agents report, and the first thing to look at.")
        {
            service, kubeconfig, ns, output, lbClass,
        };
        cmd.SetAction(async (r, ct) =>
        {
            var format = r.GetValue(output);
            if (format is not ("text" or "json"))
            {
                await Console.Error.WriteLineAsync($"{ClusterConnection.CommandName} explain: --output {format}: expected text or json").ConfigureAwait(false);
                return 2;
            }

            var target = r.GetValue(service)!;
            var slash = target.IndexOf('/', StringComparison.Ordinal);
            var (space, name) = slash > 0 ? (target[..slash], target[(slash + 1)..]) : (r.GetValue(ns)!, target);
            ServiceExplanation explanation;
            try
            {
                var client = ClusterConnection.Connect(r.GetValue(kubeconfig), labFallback: true);
                explanation = await ExplainLoader.LoadAsync(client, space, name, new ControllerOptions { LoadBalancerClass = r.GetValue(lbClass)! }, ct).ConfigureAwait(false);
            }
            catch (KeyNotFoundException e)
            {
                await Console.Error.WriteLineAsync($"{ClusterConnection.CommandName} explain: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            catch (Exception e) when (e is HttpRequestException or HttpOperationException or k8s.Exceptions.KubeConfigException)
            {
                await Console.Error.WriteLineAsync($"{ClusterConnection.CommandName} explain: cannot read the cluster: {e.Message}").ConfigureAwait(false);
                return 1;
            }

            if (Lab(r.GetValue(kubeconfig)) is { } lab)
            {
                explanation = explanation with { Network = LabNetwork(lab, explanation) };
            }

            await Console.Out.WriteAsync(format == "json" ? ExplainText.ToJson(explanation) + "\n" : ExplainText.Render(explanation)).ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }

    /// <summary>The running lab, when the explanation was read from its API server.</summary>
    private static LabState? Lab(string? kubeconfig)
    {
        var lab = LabHome.Default.Running();
        var used = kubeconfig
            ?? (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } env ? env : null)
            ?? (k8s.KubernetesClientConfiguration.IsInCluster() ? null : ClusterConnection.LabKubeconfig);
        return lab is not null && used is not null && Path.GetFullPath(used) == Path.GetFullPath(lab.Kubeconfig) ? lab : null;
    }

    /// <summary>In the lab: what its router does with each address (BGP: its route; L2: its neighbour entry).</summary>
    internal static IReadOnlyList<string> LabNetwork(LabState lab, ServiceExplanation explanation)
    {
        var lines = new List<string>();
        try
        {
            foreach (var a in explanation.Addresses)
            {
                if (!System.Net.IPAddress.TryParse(a.Address, out var ip))
                {
                    continue;
                }

                var hops = Fabric.NextHops(lab.Router, ip);
                if (hops.Count > 0)
                {
                    lines.Add($"the lab's router routes {ip} to {string.Join(", ", hops.Select(h => lab.NodeOf(h) ?? h.ToString()))}");
                }
                else if (a.Mode == "L2" && Fabric.Neighbour(lab.Router, ip) is { } n)
                {
                    var node = lab.Nodes.FirstOrDefault(x => string.Equals(Fabric.Mac(x.Netns, "eth0"), n.Mac, StringComparison.OrdinalIgnoreCase));
                    lines.Add($"the lab's router reaches {ip} at {node?.Name ?? "no node of the lab"} ({n.Mac}, {n.State})");
                }
                else
                {
                    lines.Add(a.Mode == "L2" ? $"the lab's router has no neighbour entry for {ip}" : $"the lab's router has no route to {ip}");
                }
            }
        }
        catch (Exception e) when (e is Extip.Netlink.NetlinkException or LabException or UnauthorizedAccessException or IOException or InvalidOperationException)
        {
            lines.Add($"the lab's router could not be read ({e.Message}; it needs root)");
        }

        return lines;
    }
}
