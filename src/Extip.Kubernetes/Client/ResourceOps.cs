using k8s;
using k8s.Autorest;
using k8s.Models;
using Extip.Kubernetes.Models;

namespace Extip.Kubernetes.Client;

/// <summary>List and watch of one resource, as an informer needs them.</summary>
public sealed record ResourceOps<T>(
    string Name,
    Func<string?, CancellationToken, Task<(IList<T> Items, string ResourceVersion, string? Continue)>> List,
    Func<string, CancellationToken, IAsyncEnumerable<(WatchEventType Type, T Object)>> Watch)
    where T : IKubernetesObject<V1ObjectMeta>;

/// <summary>List/watch pairs for the resources extip follows, through the official client's connection.</summary>
public static class Resources
{
    private const int PageSize = 500;

    /// <summary>Server-side watch timeout: the watch ends and restarts from its version, as client-go's reflector does.</summary>
    private const int WatchSeconds = 300;

    public static ResourceOps<V1Service> Services(IKubernetes c) => new("services",
        async (cont, ct) =>
        {
            var l = await c.GetAsync<V1ServiceList>(ApiPath.Query("api/v1/services", PageSize, cont), ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Watcher(c).WatchAsync("api/v1/services", rv, ExtipKubernetes.Read<V1Service>, timeoutSeconds: WatchSeconds, ct: ct));

    public static ResourceOps<V1Node> Nodes(IKubernetes c) => new("nodes",
        async (cont, ct) =>
        {
            var l = await c.GetAsync<V1NodeList>(ApiPath.Query("api/v1/nodes", PageSize, cont), ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Watcher(c).WatchAsync("api/v1/nodes", rv, ExtipKubernetes.Read<V1Node>, timeoutSeconds: WatchSeconds, ct: ct));

    /// <summary>One node, by name (an agent follows its own node's labels, not every node's).</summary>
    public static ResourceOps<V1Node> Node(IKubernetes c, string name) => new("nodes",
        async (cont, ct) =>
        {
            var l = await c.GetAsync<V1NodeList>(ApiPath.Query("api/v1/nodes", PageSize, cont, fieldSelector: $"metadata.name={name}"), ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Watcher(c).WatchAsync("api/v1/nodes", rv, ExtipKubernetes.Read<V1Node>, fieldSelector: $"metadata.name={name}", timeoutSeconds: WatchSeconds, ct: ct));

    public static ResourceOps<V1Namespace> Namespaces(IKubernetes c) => new("namespaces",
        async (cont, ct) =>
        {
            var l = await c.GetAsync<V1NamespaceList>(ApiPath.Query("api/v1/namespaces", PageSize, cont), ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Watcher(c).WatchAsync("api/v1/namespaces", rv, ExtipKubernetes.Read<V1Namespace>, timeoutSeconds: WatchSeconds, ct: ct));

    /// <summary>
    /// EndpointSlices from discovery.k8s.io/v1, or from v1beta1 where the server has no v1 (kube-apiserver
    /// before 1.21), read as v1: the beta's <c>topology</c> is v1's <c>deprecatedTopology</c>, and the node
    /// an endpoint runs on is its <c>nodeName</c> or else its <c>kubernetes.io/hostname</c> topology key.
    /// </summary>
    public static ResourceOps<V1EndpointSlice> EndpointSlices(IKubernetes c, string? ns = null, string? labelSelector = null)
    {
        var beta = false;
        return new("endpointslices",
            async (cont, ct) =>
            {
                if (!beta)
                {
                    try
                    {
                        var l = await c.GetAsync<V1EndpointSliceList>(ApiPath.Query(ApiPath.Group($"{DiscoveryGroup}/v1", "endpointslices", ns), PageSize, cont, labelSelector), ct);
                        return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
                    }
                    catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound && cont is null)
                    {
                        beta = true;
                    }
                }

                try
                {
                    var o = await c.GetAsync<System.Text.Json.JsonElement>(ApiPath.Query(ApiPath.Group($"{DiscoveryGroup}/v1beta1", "endpointslices", ns), PageSize, cont, labelSelector), ct);
                    var list = System.Text.Json.Nodes.JsonNode.Parse(o.GetRawText())!;
                    var items = list["items"]?.AsArray().Select(i => SliceFromBeta(i!)).ToList() ?? [];
                    return (items, (string?)list["metadata"]?["resourceVersion"] ?? "", (string?)list["metadata"]?["continue"]);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound && cont is null)
                {
                    // Neither version: the informer says the resource is not served, and asks both again later.
                    beta = false;
                    throw;
                }
            },
            (rv, ct) => Watcher(c).WatchAsync<V1EndpointSlice>(
                ns is null ? $"apis/{DiscoveryGroup}/{(beta ? "v1beta1" : "v1")}/endpointslices" : $"apis/{DiscoveryGroup}/{(beta ? "v1beta1" : "v1")}/namespaces/{ns}/endpointslices",
                rv,
                beta ? raw => SliceFromBeta(System.Text.Json.Nodes.JsonNode.Parse(raw)!) : ExtipKubernetes.Read<V1EndpointSlice>,
                labelSelector: labelSelector,
                timeoutSeconds: WatchSeconds,
                ct: ct));
    }

    private const string DiscoveryGroup = "discovery.k8s.io";

    /// <summary>A discovery.k8s.io/v1beta1 EndpointSlice as the v1 model (the fields extip reads are the same but these).</summary>
    public static V1EndpointSlice SliceFromBeta(System.Text.Json.Nodes.JsonNode beta)
    {
        beta["apiVersion"] = $"{DiscoveryGroup}/v1";
        foreach (var ep in beta["endpoints"]?.AsArray() ?? [])
        {
            if (ep is System.Text.Json.Nodes.JsonObject o && o["topology"] is System.Text.Json.Nodes.JsonObject topology)
            {
                o.Remove("topology");
                if (o["nodeName"] is null && topology["kubernetes.io/hostname"] is { } host)
                {
                    o["nodeName"] = host.DeepClone();
                }

                o["deprecatedTopology"] = topology;
            }
        }

        return ExtipJson.Deserialize<V1EndpointSlice>(beta.ToJsonString());
    }

    public static ResourceOps<V1Lease> Leases(IKubernetes c, string ns) => new("leases",
        async (cont, ct) =>
        {
            var l = await c.GetAsync<V1LeaseList>(ApiPath.Query(ApiPath.Group("coordination.k8s.io/v1", "leases", ns), PageSize, cont), ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Watcher(c).WatchAsync($"apis/coordination.k8s.io/v1/namespaces/{ns}/leases", rv, ExtipKubernetes.Read<V1Lease>, timeoutSeconds: WatchSeconds, ct: ct));

    /// <summary>A cluster-scoped extip resource.</summary>
    public static ResourceOps<T> Custom<T>(IKubernetes c, string plural)
        where T : IKubernetesObject<V1ObjectMeta> => new(plural,
        async (cont, ct) =>
        {
            var l = await c.GetAsync<ResourceList<T>>(ApiPath.Query(ApiPath.Extip(plural), PageSize, cont), ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Watcher(c).WatchAsync($"apis/{ExtipApi.Group}/{ExtipApi.Version}/{plural}", rv, ExtipKubernetes.Read<T>, timeoutSeconds: WatchSeconds, ct: ct));

    /// <summary>The client whose watch informers read; every client extip makes is one.</summary>
    private static ExtipKubernetes Watcher(IKubernetes c) => ApiRequests.Of(c);

    /// <summary>Reads all pages of a list.</summary>
    public static async Task<(List<T> Items, string ResourceVersion)> ListAllAsync<T>(this ResourceOps<T> ops, CancellationToken ct)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var all = new List<T>();
        string? cont = null;
        string rv;
        do
        {
            var (items, pageRv, next) = await ops.List(cont, ct);
            all.AddRange(items);
            rv = pageRv;
            cont = string.IsNullOrEmpty(next) ? null : next;
        }
        while (cont is not null);
        return (all, rv);
    }

    /// <summary>The cache key of an object: namespace/name, or name when cluster-scoped.</summary>
    public static string KeyOf(IKubernetesObject<V1ObjectMeta> o) =>
        string.IsNullOrEmpty(o.Metadata.NamespaceProperty) ? o.Metadata.Name : $"{o.Metadata.NamespaceProperty}/{o.Metadata.Name}";
}
