using System.Text.Json.Serialization;

namespace Extip.Kubernetes.Models;

/// <summary>IPNode: one per agent, status only; what the node holds (the seed's <c>netshow l3</c>).</summary>
public sealed class IpNode : CustomResource<IpNodeSpecModel, IpNodeStatusModel>
{
    public const string Plural = "ipnodes";

    public IpNode() => Kind = "IPNode";
}

public sealed class IpNodeSpecModel
{
}

public sealed class IpNodeStatusModel
{
    [JsonPropertyName("addresses")]
    public List<HeldAddress> Addresses { get; set; } = [];

    [JsonPropertyName("peers")]
    public List<PeerStatus> Peers { get; set; } = [];

    [JsonPropertyName("conditions")]
    public List<Condition> Conditions { get; set; } = [];

    [JsonPropertyName("lastUpdate")]
    public DateTime? LastUpdate { get; set; }
}

public sealed class HeldAddress
{
    [JsonPropertyName("address")]
    public string Address { get; set; } = string.Empty;

    [JsonPropertyName("prefixLength")]
    public int PrefixLength { get; set; }

    [JsonPropertyName("interface")]
    public string Interface { get; set; } = string.Empty;

    [JsonPropertyName("mode")]
    public string Mode { get; set; } = string.Empty;

    /// <summary>Held, Pending (interface missing), Failed.</summary>
    [JsonPropertyName("state")]
    public string State { get; set; } = string.Empty;

    [JsonPropertyName("message")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; set; }

    [JsonPropertyName("since")]
    public DateTime? Since { get; set; }
}

public sealed class PeerStatus
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = string.Empty;

    [JsonPropertyName("address")]
    public string Address { get; set; } = string.Empty;

    [JsonPropertyName("state")]
    public string State { get; set; } = string.Empty;

    [JsonPropertyName("bfd")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Bfd { get; set; }

    [JsonPropertyName("prefixesAdvertised")]
    public int PrefixesAdvertised { get; set; }

    /// <summary>Why the session is not up, or what is wrong with the BGPPeer.</summary>
    [JsonPropertyName("message")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; set; }

    [JsonPropertyName("since")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTime? Since { get; set; }
}
