using System.Text.Json.Serialization;

namespace Extip.Kubernetes.Models;

/// <summary>IPPool: the addresses extip may hand out, and how they are announced (DESIGN.md "Resources").</summary>
public sealed class IpPool : CustomResource<IpPoolSpecModel, IpPoolStatusModel>
{
    public const string Plural = "ippools";

    public IpPool() => Kind = "IPPool";
}

public sealed class IpPoolSpecModel
{
    [JsonPropertyName("addresses")]
    public List<string> Addresses { get; set; } = [];

    [JsonPropertyName("prefixLength")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? PrefixLength { get; set; }

    [JsonPropertyName("prefixLengthV6")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? PrefixLengthV6 { get; set; }

    [JsonPropertyName("autoAssign")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? AutoAssign { get; set; }

    [JsonPropertyName("avoidBuggyIPs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? AvoidBuggyIPs { get; set; }

    [JsonPropertyName("allowExternalIPs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? AllowExternalIPs { get; set; }

    [JsonPropertyName("serviceAllocation")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ServiceAllocationModel? ServiceAllocation { get; set; }

    [JsonPropertyName("announce")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AnnounceModel? Announce { get; set; }
}

public sealed class ServiceAllocationModel
{
    [JsonPropertyName("priority")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Priority { get; set; }

    [JsonPropertyName("namespaces")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Namespaces { get; set; }

    [JsonPropertyName("namespaceSelector")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LabelSelectorModel? NamespaceSelector { get; set; }

    [JsonPropertyName("serviceSelector")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LabelSelectorModel? ServiceSelector { get; set; }
}

public sealed class AnnounceModel
{
    [JsonPropertyName("mode")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Mode { get; set; }

    [JsonPropertyName("interface")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Interface { get; set; }

    [JsonPropertyName("distribution")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Distribution { get; set; }

    [JsonPropertyName("nodesPerAddress")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? NodesPerAddress { get; set; }

    [JsonPropertyName("nodeSelector")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LabelSelectorModel? NodeSelector { get; set; }

    [JsonPropertyName("communities")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Communities { get; set; }

    [JsonPropertyName("localPreference")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public uint? LocalPreference { get; set; }
}

public sealed class IpPoolStatusModel
{
    [JsonPropertyName("capacityIPv4")]
    public string CapacityIPv4 { get; set; } = "0";

    [JsonPropertyName("inUseIPv4")]
    public long InUseIPv4 { get; set; }

    [JsonPropertyName("capacityIPv6")]
    public string CapacityIPv6 { get; set; } = "0";

    [JsonPropertyName("inUseIPv6")]
    public long InUseIPv6 { get; set; }

    /// <summary>IPv4 addresses kept for recently deleted Services (sticky), not counted in <see cref="InUseIPv4"/>.</summary>
    [JsonPropertyName("reservedIPv4")]
    public long ReservedIPv4 { get; set; }

    [JsonPropertyName("reservedIPv6")]
    public long ReservedIPv6 { get; set; }

    [JsonPropertyName("conditions")]
    public List<Condition> Conditions { get; set; } = [];

    /// <summary>
    /// The spec the controller last found valid, as JSON (a string, so a merge patch replaces it
    /// whole), and its generation: an invalid edit keeps serving it, across controller restarts too.
    /// </summary>
    [JsonPropertyName("lastValidSpec")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LastValidSpec { get; set; }

    [JsonPropertyName("lastValidGeneration")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? LastValidGeneration { get; set; }
}
