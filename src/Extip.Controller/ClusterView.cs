using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Extip.Controller;

/// <summary>
/// The informers the controller reads the cluster through. Its own resources are required: while
/// their CRDs are not served yet, the controller is not ready and waits for them (it never goes on
/// thinking there are no claims); EndpointSlices are optional (older servers lack discovery/v1).
/// </summary>
internal sealed class ClusterView
{
    public ClusterView(IKubernetes client, ControllerOptions options, ILoggerFactory logs)
    {
        Services = new Informer<V1Service>(Resources.Services(client), logs.CreateLogger("informer.services"), options.Time);
        Namespaces = new Informer<V1Namespace>(Resources.Namespaces(client), logs.CreateLogger("informer.namespaces"), options.Time);
        Nodes = new Informer<V1Node>(Resources.Nodes(client), logs.CreateLogger("informer.nodes"), options.Time);
        EndpointSlices = new Informer<V1EndpointSlice>(Resources.EndpointSlices(client), logs.CreateLogger("informer.endpointslices"), options.Time);
        Leases = new Informer<V1Lease>(Resources.Leases(client, options.Namespace), logs.CreateLogger("informer.leases"), options.Time);
        Pools = new Informer<IpPool>(Resources.Custom<IpPool>(client, IpPool.Plural), logs.CreateLogger("informer.ippools"), options.Time) { Required = true };
        Claims = new Informer<IpClaim>(Resources.Custom<IpClaim>(client, IpClaim.Plural), logs.CreateLogger("informer.ipclaims"), options.Time) { Required = true };
        IpNodes = new Informer<IpNode>(Resources.Custom<IpNode>(client, IpNode.Plural), logs.CreateLogger("informer.ipnodes"), options.Time) { Required = true };
        Peers = new Informer<BgpPeer>(Resources.Custom<BgpPeer>(client, BgpPeer.Plural), logs.CreateLogger("informer.bgppeers"), options.Time);
    }

    /// <summary>BGPPeers: the controller writes their status.</summary>
    public Informer<BgpPeer> Peers { get; }

    public Informer<V1Service> Services { get; }

    public Informer<V1Namespace> Namespaces { get; }

    public Informer<V1Node> Nodes { get; }

    public Informer<V1EndpointSlice> EndpointSlices { get; }

    public Informer<V1Lease> Leases { get; }

    public Informer<IpPool> Pools { get; }

    public Informer<IpClaim> Claims { get; }

    /// <summary>The agents' IPNodes: the controller labels each with its view of the agent's liveness.</summary>
    public Informer<IpNode> IpNodes { get; }

    public IEnumerable<Task> Run(CancellationToken ct) =>
    [
        Services.RunAsync(ct), Namespaces.RunAsync(ct), Nodes.RunAsync(ct), EndpointSlices.RunAsync(ct),
        Leases.RunAsync(ct), Pools.RunAsync(ct), Claims.RunAsync(ct), IpNodes.RunAsync(ct), Peers.RunAsync(ct),
    ];

    public Task ReadyAsync(CancellationToken ct) => Task.WhenAll(
        Services.ReadyAsync(ct), Namespaces.ReadyAsync(ct), Nodes.ReadyAsync(ct), EndpointSlices.ReadyAsync(ct),
        Leases.ReadyAsync(ct), Pools.ReadyAsync(ct), Claims.ReadyAsync(ct), IpNodes.ReadyAsync(ct), Peers.ReadyAsync(ct));

    public bool IsReady => Services.IsReady && Namespaces.IsReady && Nodes.IsReady && EndpointSlices.IsReady && Leases.IsReady && Pools.IsReady && Claims.IsReady && IpNodes.IsReady && Peers.IsReady;

    public IReadOnlyDictionary<string, string> NamespaceLabels(string ns) =>
        Namespaces.Get(ns)?.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>();
}
