using System.Text;
using k8s;
using k8s.Models;
using Extip.Kubernetes.Models;

namespace Extip.Kubernetes.Client;

/// <summary>A path of the API: a collection, an object in it, or one of its subresources.</summary>
public static class ApiPath
{
    /// <summary>The core group (<c>api/v1</c>): <c>Core("secrets", "ns", "name")</c>.</summary>
    public static string Core(string plural, string? ns = null, string? name = null, string? subresource = null) =>
        Build("api/v1", plural, ns, name, subresource);

    /// <summary>A named group and version (<c>coordination.k8s.io/v1</c>).</summary>
    public static string Group(string groupVersion, string plural, string? ns = null, string? name = null, string? subresource = null) =>
        Build("apis/" + groupVersion, plural, ns, name, subresource);

    /// <summary>One of extip's cluster-scoped resources.</summary>
    public static string Extip(string plural, string? name = null, string? subresource = null) =>
        Group($"{ExtipApi.Group}/{ExtipApi.Version}", plural, null, name, subresource);

    /// <summary>A list's query: a page of at most <paramref name="limit"/> from <paramref name="continueToken"/>, selected by label and field.</summary>
    public static string Query(string path, int? limit = null, string? continueToken = null, string? labelSelector = null, string? fieldSelector = null)
    {
        var q = new StringBuilder(path);
        void Add(string key, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                q.Append(q.Length == path.Length ? '?' : '&').Append(key).Append('=').Append(Uri.EscapeDataString(value));
            }
        }

        Add("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add("continue", continueToken);
        Add("labelSelector", labelSelector);
        Add("fieldSelector", fieldSelector);
        return q.ToString();
    }

    private static string Build(string prefix, string plural, string? ns, string? name, string? subresource)
    {
        var p = new StringBuilder(prefix);
        if (ns is not null)
        {
            p.Append("/namespaces/").Append(Uri.EscapeDataString(ns));
        }

        p.Append('/').Append(plural);
        if (name is not null)
        {
            p.Append('/').Append(Uri.EscapeDataString(name));
        }

        if (subresource is not null)
        {
            p.Append('/').Append(subresource);
        }

        return p.ToString();
    }
}

/// <summary>
/// The requests extip's daemons make, on any client extip creates (an <see cref="ExtipKubernetes"/>):
/// read, list, create, replace, patch and delete by path, written and read with
/// <see cref="ExtipJson.Api"/> rather than through KubernetesClient's generated operations, whose
/// serializer brings the client's metadata for every kind of the API into the Native AOT binary.
/// </summary>
public static class ApiRequests
{
    public static Task<T> GetAsync<T>(this IKubernetes c, string path, CancellationToken ct) =>
        Of(c).SendAsync<T>(HttpMethod.Get, path, null, ct);

    /// <summary>Creates <paramref name="body"/> in the collection at <paramref name="path"/>; the object as written.</summary>
    public static Task<T> CreateAsync<T>(this IKubernetes c, string path, T body, CancellationToken ct)
        where T : class =>
        Of(c).SendAsync<T>(HttpMethod.Post, path, body, ct);

    /// <summary>Replaces the object at <paramref name="path"/> (a conflict when its resourceVersion is old).</summary>
    public static Task<T> ReplaceAsync<T>(this IKubernetes c, string path, T body, CancellationToken ct)
        where T : class =>
        Of(c).SendAsync<T>(HttpMethod.Put, path, body, ct);

    public static Task<T> PatchAsync<T>(this IKubernetes c, string path, V1Patch patch, CancellationToken ct) =>
        Of(c).SendAsync<T>(HttpMethod.Patch, path, patch, ct);

    /// <summary>A patch whose answer is not read.</summary>
    public static Task PatchAsync(this IKubernetes c, string path, V1Patch patch, CancellationToken ct) =>
        Of(c).SendAsync(HttpMethod.Patch, path, patch, ct);

    public static Task DeleteAsync(this IKubernetes c, string path, CancellationToken ct) =>
        Of(c).SendAsync(HttpMethod.Delete, path, null, ct);

    /// <summary>A GET whose answer is not read: whether the path is served.</summary>
    public static Task ProbeAsync(this IKubernetes c, string path, CancellationToken ct) =>
        Of(c).SendAsync(HttpMethod.Get, path, null, ct);

    /// <summary>The client extip made; every client extip makes is one.</summary>
    internal static ExtipKubernetes Of(IKubernetes c) => c as ExtipKubernetes
        ?? throw new NotSupportedException($"extip's requests go through {nameof(ExtipKubernetes)}, not {c.GetType().Name}: make the client with new {nameof(ExtipKubernetes)}(config)");
}
