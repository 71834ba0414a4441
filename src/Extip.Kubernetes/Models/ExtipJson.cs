using System.Runtime.CompilerServices;
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
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
internal sealed partial class ExtipJsonContext : JsonSerializerContext;

public static class ExtipJson
{
    /// <summary>The resolver: compile-time metadata first, reflection for what it lacks (anonymous patch bodies).</summary>
    public static readonly IJsonTypeInfoResolver Resolver = JsonTypeInfoResolver.Combine(ExtipJsonContext.Default, new DefaultJsonTypeInfoResolver());

    /// <summary>System.Text.Json's default options with <see cref="Resolver"/> (writes nulls: what a merge patch needs to remove a field).</summary>
    public static readonly JsonSerializerOptions Plain = new() { TypeInfoResolver = Resolver };

    /// <summary>KubernetesClient's serializer (KubernetesJson, and the client's own requests) uses the same metadata.</summary>
    /// <remarks>
    /// A module initializer: it runs before any of this assembly's code, so before extip's first
    /// read or write through KubernetesJson (whose options freeze on first use).
    /// </remarks>
#pragma warning disable CA2255 // a library's initializer on purpose: see the remarks
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        try
        {
            KubernetesJson.AddJsonOptions(o => o.TypeInfoResolverChain.Insert(0, ExtipJsonContext.Default));
        }
        catch (InvalidOperationException)
        {
            // KubernetesJson was used before this assembly loaded (a process that is not a daemon):
            // its reflection serves the same types with the JIT.
        }
    }
}
