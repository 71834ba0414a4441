using System.Net;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Controller.Explain;

/// <summary>Reads what <see cref="ServiceExplanation"/> needs for one Service through the API, as any user with read access can.</summary>
public static class ExplainLoader
{
    /// <exception cref="KeyNotFoundException">The Service does not exist.</exception>
    public static async Task<ServiceExplanation> LoadAsync(IKubernetes client, string ns, string name, ControllerOptions? controller, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        V1Service svc;
        try
        {
            svc = await client.GetAsync<V1Service>(ApiPath.Core("services", ns, name), ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new KeyNotFoundException($"Service {ns}/{name} not found");
        }

        var unreadable = new System.Collections.Concurrent.ConcurrentBag<string>();
        var nsLabels = OrEmpty("the namespace", unreadable, async () => (await client.GetAsync<V1Namespace>(ApiPath.Core("namespaces", name: ns), ct).ConfigureAwait(false)).Metadata.Labels, null);
        var pools = OrEmpty("IPPools", unreadable, async () => (await Resources.Custom<IpPool>(client, IpPool.Plural).ListAllAsync(ct).ConfigureAwait(false)).Items, []);
        var claims = OrEmpty("IPClaims", unreadable, async () => (await Resources.Custom<IpClaim>(client, IpClaim.Plural).ListAllAsync(ct).ConfigureAwait(false)).Items, []);
        var ipNodes = OrEmpty("IPNodes", unreadable, async () => (await Resources.Custom<IpNode>(client, IpNode.Plural).ListAllAsync(ct).ConfigureAwait(false)).Items, []);
        var nodes = OrEmpty("Nodes", unreadable, async () => (await Resources.Nodes(client).ListAllAsync(ct).ConfigureAwait(false)).Items, []);
        var slices = OrEmpty("EndpointSlices", unreadable, async () => (await Resources.EndpointSlices(client, ns, $"kubernetes.io/service-name={name}").ListAllAsync(ct).ConfigureAwait(false)).Items, []);
        var events = OrEmpty("Events", unreadable, async () => (await client.GetAsync<Corev1EventList>(ApiPath.Query(ApiPath.Core("events", ns), fieldSelector: $"involvedObject.kind=Service,involvedObject.name={name}"), ct).ConfigureAwait(false)).Items, []);
        await Task.WhenAll(nsLabels, pools, claims, ipNodes, nodes, slices, events).ConfigureAwait(false);
        return ServiceExplanation.Build(new ServiceExplanation.Inputs
        {
            Service = svc,
            NamespaceLabels = (await nsLabels.ConfigureAwait(false)) is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>(),
            Pools = [.. await pools.ConfigureAwait(false)],
            Claims = [.. await claims.ConfigureAwait(false)],
            IpNodes = [.. await ipNodes.ConfigureAwait(false)],
            Nodes = [.. await nodes.ConfigureAwait(false)],
            EndpointSlices = [.. await slices.ConfigureAwait(false)],
            Events = [.. await events.ConfigureAwait(false)],
            Controller = controller ?? new ControllerOptions(),
            Unreadable = [.. unreadable.Order(StringComparer.Ordinal)],
        });
    }

    /// <summary>What cannot be read (not served, or RBAC says no) counts as nothing rather than failing the explanation.</summary>
    private static async Task<T> OrEmpty<T>(string what, System.Collections.Concurrent.ConcurrentBag<string> unreadable, Func<Task<T>> read, T empty)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            unreadable.Add($"{what} ({(int)e.Response.StatusCode})");
            return empty;
        }
    }
}
