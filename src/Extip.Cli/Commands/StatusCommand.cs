using System.CommandLine;
using System.Net;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using Extip.Kubernetes.Status;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Spectre.Console;

namespace Extip.Cli.Commands;

/// <summary>
/// <c>extip status</c> (also <c>kubectl extip status</c>): per node its interfaces and addresses,
/// extip's with their claim, mode and state; per Service its addresses and nodes; BGP sessions;
/// pools. Reads only the Kubernetes API, so it works on any cluster extip runs on.
/// </summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = $"kubeconfig file; default: in-cluster config inside a Pod, $KUBECONFIG, the lab's ({ClusterConnection.LabKubeconfig}) when it exists, ~/.kube/config." };
        var output = new Option<string>("--output", "-o") { Description = "table, wide or json.", DefaultValueFactory = _ => "table" };
        var ns = new Option<string>("--namespace", "-n") { Description = "Namespace of the agents' Leases (the controller's).", DefaultValueFactory = _ => Extip.Kubernetes.Models.ExtipApi.DefaultNamespace };
        var cmd = new Command("status", "Shows per node its interfaces and extip's addresses, per Service its addresses and nodes, the BGP sessions and the pools.") { kubeconfig, output, ns };
        cmd.SetAction(async (r, ct) =>
        {
            var format = r.GetValue(output);
            if (format is not ("table" or "wide" or "json"))
            {
                await Console.Error.WriteLineAsync($"{ClusterConnection.CommandName} status: --output {format}: expected table, wide or json").ConfigureAwait(false);
                return 2;
            }

            StatusReport report;
            try
            {
                var client = ClusterConnection.Connect(r.GetValue(kubeconfig), labFallback: true);
                report = await LoadAsync(client, r.GetValue(ns)!, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or HttpOperationException or k8s.Exceptions.KubeConfigException)
            {
                await Console.Error.WriteLineAsync($"{ClusterConnection.CommandName} status: cannot read the cluster: {Describe(e)}").ConfigureAwait(false);
                return 1;
            }

            if (format == "json")
            {
                await Console.Out.WriteLineAsync(StatusJson.Serialize(report)).ConfigureAwait(false);
            }
            else
            {
                StatusText.Render(AnsiConsole.Console, report, wide: format == "wide");
            }

            return 0;
        });
        return cmd;
    }

    /// <summary>Reads what the report needs; Leases it may not read (RBAC) leave liveness unknown rather than failing.</summary>
    public static async Task<StatusReport> LoadAsync(IKubernetes client, string leaseNamespace, CancellationToken ct)
    {
        var nodes = Resources.Custom<IpNode>(client, IpNode.Plural).ListAllAsync(ct);
        var claims = Resources.Custom<IpClaim>(client, IpClaim.Plural).ListAllAsync(ct);
        var pools = Resources.Custom<IpPool>(client, IpPool.Plural).ListAllAsync(ct);
        var peers = Resources.Custom<BgpPeer>(client, BgpPeer.Plural).ListAllAsync(ct);
        var services = Resources.Services(client).ListAllAsync(ct);
        var leases = LeasesAsync(client, leaseNamespace, ct);
        await Task.WhenAll(nodes, claims, pools, peers, services, leases).ConfigureAwait(false);
        return StatusReport.Build(
            (await nodes.ConfigureAwait(false)).Items,
            (await claims.ConfigureAwait(false)).Items,
            (await services.ConfigureAwait(false)).Items,
            (await pools.ConfigureAwait(false)).Items,
            (await peers.ConfigureAwait(false)).Items,
            await leases.ConfigureAwait(false),
            DateTime.UtcNow);
    }

    private static async Task<List<V1Lease>?> LeasesAsync(IKubernetes client, string ns, CancellationToken ct)
    {
        try
        {
            return (await Resources.Leases(client, ns).ListAllAsync(ct).ConfigureAwait(false)).Items;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            return null;
        }
    }

    private static string Describe(Exception e) =>
        e is HttpOperationException h ? $"{(int)h.Response.StatusCode} {h.Response.ReasonPhrase}: {h.Response.Content}" : e.Message;
}
