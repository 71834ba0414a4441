using System.Text.Json.Serialization;
using k8s.Models;

namespace Extip.Kubernetes.Models;

/// <summary>
/// What extip reads of a Pod: its identity and the node it runs on. The whole Pod model would bring
/// the serialization metadata of every field of a pod's spec and status into the binary.
/// </summary>
public sealed class PodPlacement
{
    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public PodPlacementSpec? Spec { get; set; }
}

/// <summary>The node of a <see cref="PodPlacement"/>.</summary>
public sealed class PodPlacementSpec
{
    [JsonPropertyName("nodeName")]
    public string? NodeName { get; set; }
}
