using System.Net;
using System.Text.Json;
using Extip.Core.Pools;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Cli.Lab;

/// <summary>
/// The Kubernetes objects of the lab: its Nodes, the seed's pool and peers, and the seed's Service
/// (the article's <c>frontend</c> with <c>externalIPs</c>, 203.0.113.1 standing for its 200.1.1.1).
/// </summary>
internal static class LabObjects
{
    public const uint RouterAs = 64500;
    public const uint NodeAs = 64512;
    public const string PoolName = "seed";
    public const string PoolV4 = "203.0.113.0/24";
    public const string PoolV6 = "2001:db8:1000::/120";
    public const string ServiceName = "frontend";
    public const string ServiceNamespace = "default";
    public static readonly IPAddress SeedV4 = IPAddress.Parse("203.0.113.1");
    public static readonly IPAddress SeedV6 = IPAddress.Parse("2001:db8:1000::1");

    /// <summary>The seed's claim name for an address (203.0.113.1 → 203-0-113-1).</summary>
    public static string ClaimName(IPAddress a) => Extip.Core.Addresses.Address.FromIPAddress(a).ToName();

    public static async Task EnsureNamespaceAsync(IKubernetes client, string name, CancellationToken ct)
    {
        try
        {
            // kubernetes.io/metadata.name: v1.21+ sets it; on v1.20 deploy/base does, and extip's webhook selects by it.
            var labels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = name };
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name, Labels = labels } }, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }

    /// <summary>A Node object for a lab node, with its rack addresses, as the kubelet would register it.</summary>
    public static Task CreateNodeAsync(IKubernetes client, string name, IPAddress v4, IPAddress v6, CancellationToken ct) =>
        client.CoreV1.CreateNodeAsync(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["kubernetes.io/hostname"] = name, ["kubernetes.io/os"] = "linux" } },
            Status = new V1NodeStatus
            {
                Addresses = [new V1NodeAddress { Type = "InternalIP", Address = v4.ToString() }, new V1NodeAddress { Type = "InternalIP", Address = v6.ToString() }, new V1NodeAddress { Type = "Hostname", Address = name }],
            },
        }, cancellationToken: ct);

    /// <summary>The seed's pool: the mask (32) and the interface, the distribution, the mode; <c>externalIPs</c> allowed, as the seed uses them.</summary>
    public static async Task<string> CreatePoolAsync(IKubernetes client, LabSpec spec, CancellationToken ct)
    {
        var iface = spec.Mode == AnnounceMode.L2 ? "eth0" : "lo";
        var addresses = spec.Ipv6 ? new List<string> { PoolV4, PoolV6 } : [PoolV4];
        await client.CustomObjects.CreateClusterCustomObjectAsync(new IpPool
        {
            Metadata = new V1ObjectMeta { Name = PoolName },
            ApiVersion = ExtipApi.ApiVersion,
            Spec = new IpPoolSpecModel
            {
                Addresses = addresses,
                PrefixLength = 32,
                PrefixLengthV6 = 128,
                AllowExternalIPs = true,
                AvoidBuggyIPs = true,
                Announce = new AnnounceModel { Mode = spec.Mode.ToString(), Interface = iface, Distribution = spec.Distribution.ToString() },
            },
        }, ExtipApi.Group, ExtipApi.Version, IpPool.Plural, cancellationToken: ct).ConfigureAwait(false);
        return $"IPPool {PoolName} ({string.Join(", ", addresses)}, mask 32 on {iface}, {spec.Mode}, {spec.Distribution})";
    }

    /// <summary>One BGPPeer per family for the top-of-rack router, selecting every node.</summary>
    public static async Task<string> CreatePeersAsync(IKubernetes client, LabSpec spec, CancellationToken ct)
    {
        var peers = new List<(string Name, IPAddress Address)> { ("tor-v4", Extip.Lab.Fabric.RouterV4) };
        if (spec.Ipv6)
        {
            peers.Add(("tor-v6", Extip.Lab.Fabric.RouterV6));
        }

        foreach (var (name, address) in peers)
        {
            await client.CustomObjects.CreateClusterCustomObjectAsync(new BgpPeer
            {
                Metadata = new V1ObjectMeta { Name = name },
                ApiVersion = ExtipApi.ApiVersion,
                Spec = new BgpPeerSpecModel
                {
                    PeerAddress = address.ToString(),
                    PeerAsn = RouterAs,
                    LocalAsn = NodeAs,
                    HoldTime = spec.HoldTime + "s",
                    ConnectTime = "1s",
                    Bfd = spec.Bfd ? new BfdModel { MinRxMs = 50, MinTxMs = 50, Multiplier = 3 } : null,
                },
            }, ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural, cancellationToken: ct).ConfigureAwait(false);
        }

        return $"BGPPeers {string.Join(", ", peers.Select(p => $"{p.Name} ({p.Address}, AS {RouterAs})"))}";
    }

    /// <summary>The seed's Service: <c>frontend</c>, port 80, with its external address(es) in <c>spec.externalIPs</c>.</summary>
    public static Task CreateSeedServiceAsync(IKubernetes client, LabSpec spec, CancellationToken ct) =>
        client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = ServiceName, Labels = new Dictionary<string, string> { ["app"] = ServiceName } },
            Spec = new V1ServiceSpec
            {
                Type = "NodePort",
                Selector = new Dictionary<string, string> { ["app"] = ServiceName },
                Ports = [new V1ServicePort { Protocol = "TCP", Port = spec.Port, TargetPort = spec.Port }],
                ExternalIPs = spec.Ipv6 ? [SeedV4.ToString(), SeedV6.ToString()] : [SeedV4.ToString()],
            },
        }, ServiceNamespace, cancellationToken: ct);

    /// <summary>
    /// The seed's Service with <c>externalTrafficPolicy: Local</c> (only nodes with a ready
    /// endpoint may hold its address) and its EndpointSlice, as the endpoint controller would
    /// write it with a ready "pod" on each of <paramref name="nodes"/> (the responders answer on
    /// every node; which nodes count is what the slice says).
    /// </summary>
    public static async Task SetLocalEndpointsAsync(IKubernetes client, LabState state, IReadOnlyList<string> nodes, CancellationToken ct)
    {
        await client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"externalTrafficPolicy":"Local"}}""", V1Patch.PatchType.MergePatch), ServiceName, ServiceNamespace, cancellationToken: ct).ConfigureAwait(false);
        var slice = new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = ServiceName + "-lab", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = ServiceName } },
            AddressType = "IPv4",
            Endpoints = [.. nodes.Select(n => new V1Endpoint { Addresses = [state.Node(n).V4], NodeName = n, Conditions = new V1EndpointConditions { Ready = true } })],
            Ports = [new Discoveryv1EndpointPort { Name = string.Empty, Port = state.Spec.Port, Protocol = "TCP" }],
        };
        try
        {
            var existing = await client.DiscoveryV1.ReadNamespacedEndpointSliceAsync(slice.Metadata.Name, ServiceNamespace, cancellationToken: ct).ConfigureAwait(false);
            slice.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
            await client.DiscoveryV1.ReplaceNamespacedEndpointSliceAsync(slice, slice.Metadata.Name, ServiceNamespace, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            await client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, ServiceNamespace, cancellationToken: ct).ConfigureAwait(false);
        }
    }

    /// <summary>Whether the node's agent reports itself Ready in its IPNode.</summary>
    public static async Task<bool> NodeReadyAsync(IKubernetes client, string node, CancellationToken ct)
    {
        try
        {
            var o = await client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpNode.Plural, node, ct).ConfigureAwait(false);
            var ipNode = KubernetesJson.Deserialize<IpNode>(((JsonElement)o).GetRawText());
            return ipNode?.Status?.Conditions.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>The claim for an address, or null.</summary>
    public static async Task<IpClaim?> ClaimAsync(IKubernetes client, IPAddress address, CancellationToken ct)
    {
        try
        {
            var o = await client.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, ClaimName(address), ct).ConfigureAwait(false);
            return KubernetesJson.Deserialize<IpClaim>(((JsonElement)o).GetRawText());
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
