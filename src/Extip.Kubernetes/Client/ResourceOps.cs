using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using Extip.Kubernetes.Models;

namespace Extip.Kubernetes.Client;

/// <summary>List and watch of one resource, as an informer needs them.</summary>
public sealed record ResourceOps<T>(
    string Name,
    Func<string?, CancellationToken, Task<(IList<T> Items, string ResourceVersion, string? Continue)>> List,
    Func<string, CancellationToken, IAsyncEnumerable<(WatchEventType Type, T Object)>> Watch)
    where T : IKubernetesObject<V1ObjectMeta>;

/// <summary>List/watch pairs for the resources extip follows, built on the official client.</summary>
public static class Resources
{
    private const int PageSize = 500;

    /// <summary>Server-side watch timeout: the watch ends and restarts from its version, as client-go's reflector does.</summary>
    private const int WatchSeconds = 300;

    public static ResourceOps<V1Service> Services(IKubernetes c) => new("services",
        async (cont, ct) =>
        {
            var l = await c.CoreV1.ListServiceForAllNamespacesAsync(continueParameter: cont, limit: PageSize, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<V1Service>(onError => c.CoreV1.WatchListServiceForAllNamespacesAsync(resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct), ct));

    public static ResourceOps<V1Node> Nodes(IKubernetes c) => new("nodes",
        async (cont, ct) =>
        {
            var l = await c.CoreV1.ListNodeAsync(continueParameter: cont, limit: PageSize, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<V1Node>(onError => c.CoreV1.WatchListNodeAsync(resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct), ct));

    /// <summary>One node, by name (an agent follows its own node's labels, not every node's).</summary>
    public static ResourceOps<V1Node> Node(IKubernetes c, string name) => new("nodes",
        async (cont, ct) =>
        {
            var l = await c.CoreV1.ListNodeAsync(fieldSelector: $"metadata.name={name}", continueParameter: cont, limit: PageSize, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<V1Node>(onError => c.CoreV1.WatchListNodeAsync(fieldSelector: $"metadata.name={name}", resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct), ct));

    public static ResourceOps<V1Namespace> Namespaces(IKubernetes c) => new("namespaces",
        async (cont, ct) =>
        {
            var l = await c.CoreV1.ListNamespaceAsync(continueParameter: cont, limit: PageSize, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<V1Namespace>(onError => c.CoreV1.WatchListNamespaceAsync(resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct), ct));

    public static ResourceOps<V1EndpointSlice> EndpointSlices(IKubernetes c) => new("endpointslices",
        async (cont, ct) =>
        {
            var l = await c.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync(continueParameter: cont, limit: PageSize, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<V1EndpointSlice>(onError => c.DiscoveryV1.WatchListEndpointSliceForAllNamespacesAsync(resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct), ct));

    public static ResourceOps<V1Lease> Leases(IKubernetes c, string ns) => new("leases",
        async (cont, ct) =>
        {
            var l = await c.CoordinationV1.ListNamespacedLeaseAsync(ns, continueParameter: cont, limit: PageSize, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<V1Lease>(onError => c.CoordinationV1.WatchListNamespacedLeaseAsync(ns, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct), ct));

    /// <summary>A cluster-scoped extip resource, through the CustomObjects API.</summary>
    public static ResourceOps<T> Custom<T>(IKubernetes c, string plural)
        where T : IKubernetesObject<V1ObjectMeta> => new(plural,
        async (cont, ct) =>
        {
            var o = await c.CustomObjects.ListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, plural, continueParameter: cont, limit: PageSize, cancellationToken: ct);
            var l = KubernetesJson.Deserialize<ResourceList<T>>(((System.Text.Json.JsonElement)o).GetRawText());
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => Guard<T>(onError => WatchCustom<T>(c, plural, rv, onError, ct), ct));

    /// <summary>
    /// The client reports a watch's ERROR event (410 Expired among them) through onError and then
    /// just ends the stream; this turns it into an exception, so the informer relists instead of
    /// watching again from a version the server has forgotten.
    /// </summary>
    public static async IAsyncEnumerable<(WatchEventType, T)> Guard<T>(Func<Action<Exception>, IAsyncEnumerable<(WatchEventType, T)>> watch, [EnumeratorCancellation] CancellationToken ct)
    {
        Exception? failure = null;
        await foreach (var e in watch(ex => failure ??= ex).WithCancellation(ct))
        {
            yield return e;
        }

        // An ERROR event (410 Expired among them) means the version is gone: relist. A broken
        // stream is only a broken stream: the informer watches again from the last version.
        if (failure is KubernetesException)
        {
            throw new Informers.WatchExpiredException($"watch failed: {failure.Message}", failure);
        }
    }

    private static async IAsyncEnumerable<(WatchEventType, T)> WatchCustom<T>(IKubernetes c, string plural, string rv, Action<Exception> onError, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var (type, o) in c.CustomObjects.WatchListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, plural, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WatchSeconds, onError: onError, cancellationToken: ct))
        {
            yield return (type, KubernetesJson.Deserialize<T>(((System.Text.Json.JsonElement)o).GetRawText()));
        }
    }

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
