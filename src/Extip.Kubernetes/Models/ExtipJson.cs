using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Models;

namespace Extip.Kubernetes.Models;

/// <summary>
/// Serialization metadata of extip's resources and of the Kubernetes objects its daemons watch,
/// generated at compile time. The Native AOT binary cannot make it at run time for value types
/// (an enum, a nullable, a JsonElement in a dictionary: "missing native code"), and the JIT build
/// uses the same metadata, so that the tests run what the image runs.
/// </summary>
[JsonSerializable(typeof(IpPool))]
[JsonSerializable(typeof(ResourceList<IpPool>))]
[JsonSerializable(typeof(IpClaim))]
[JsonSerializable(typeof(ResourceList<IpClaim>))]
[JsonSerializable(typeof(IpNode))]
[JsonSerializable(typeof(ResourceList<IpNode>))]
[JsonSerializable(typeof(BgpPeer))]
[JsonSerializable(typeof(ResourceList<BgpPeer>))]
[JsonSerializable(typeof(V1Service))]
[JsonSerializable(typeof(V1ServiceList))]
[JsonSerializable(typeof(V1Node))]
[JsonSerializable(typeof(V1NodeList))]
[JsonSerializable(typeof(V1Namespace))]
[JsonSerializable(typeof(V1NamespaceList))]
[JsonSerializable(typeof(V1Lease))]
[JsonSerializable(typeof(V1LeaseList))]
[JsonSerializable(typeof(V1EndpointSlice))]
[JsonSerializable(typeof(V1EndpointSliceList))]
[JsonSerializable(typeof(Corev1Event))]
[JsonSerializable(typeof(Corev1EventList))]
[JsonSerializable(typeof(V1CustomResourceDefinition))]
[JsonSerializable(typeof(V1CustomResourceDefinitionList))]
[JsonSerializable(typeof(V1Status))]
[JsonSerializable(typeof(V1Secret))]
[JsonSerializable(typeof(PodPlacement))]
[JsonSerializable(typeof(V1Role))]
[JsonSerializable(typeof(V1ValidatingWebhookConfiguration))]
[JsonSerializable(typeof(List<V1ValidatingWebhook>))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
internal sealed partial class ExtipJsonContext : JsonSerializerContext;

public static class ExtipJson
{
    /// <summary>The resolver: compile-time metadata first, reflection for what it lacks (anonymous patch bodies).</summary>
    public static readonly IJsonTypeInfoResolver Resolver = JsonTypeInfoResolver.Combine(ExtipJsonContext.Default, new DefaultJsonTypeInfoResolver());

    /// <summary>System.Text.Json's default options with <see cref="Resolver"/> (writes nulls: what a merge patch needs to remove a field).</summary>
    public static readonly JsonSerializerOptions Plain = new() { TypeInfoResolver = Resolver };

    /// <summary>
    /// The API server's conventions, as KubernetesClient's <c>KubernetesJson</c> writes them (camel
    /// case, no nulls, RFC 3339 times, ISO 8601 durations, enums as strings), with <see cref="Resolver"/>.
    /// extip's daemons read and write with these, never with <c>KubernetesJson</c>: its first use
    /// builds the client's serializer context for every kind of the API, which the Native AOT
    /// binary would otherwise carry and map (deploy/README.md, "Footprint").
    /// </summary>
    public static readonly JsonSerializerOptions Api = new()
    {
        TypeInfoResolver = Resolver,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters =
        {
            new JsonStringEnumConverter(),
            new KubernetesJson.Iso8601TimeSpanConverter(),
            new KubernetesJson.KubernetesDateTimeConverter(),
            new KubernetesJson.KubernetesDateTimeOffsetConverter(),
            new V1Status.V1StatusObjectViewConverter(),
        },
    };

    /// <summary>An object as the API server reads it.</summary>
    public static string Serialize(object value) => JsonSerializer.Serialize(value, Api.GetTypeInfo(value.GetType()));

    /// <summary>An object read from the API server's JSON.</summary>
    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize(json, (JsonTypeInfo<T>)Api.GetTypeInfo(typeof(T)))!;

    /// <inheritdoc cref="Deserialize{T}(string)"/>
    public static async Task<T> DeserializeAsync<T>(Stream json, CancellationToken ct) =>
        (await JsonSerializer.DeserializeAsync(json, (JsonTypeInfo<T>)Api.GetTypeInfo(typeof(T)), ct).ConfigureAwait(false))!;
}
