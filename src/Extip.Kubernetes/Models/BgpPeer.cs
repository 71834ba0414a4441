using System.Text.Json.Serialization;

namespace Extip.Kubernetes.Models;

/// <summary>BGPPeer: a router the agents of the selected nodes keep a BGP session with.</summary>
public sealed class BgpPeer : CustomResource<BgpPeerSpecModel, BgpPeerStatusModel>
{
    public const string Plural = "bgppeers";

    public BgpPeer() => Kind = "BGPPeer";
}

public sealed class BgpPeerSpecModel
{
    [JsonPropertyName("peerAddress")]
    public string PeerAddress { get; set; } = string.Empty;

    [JsonPropertyName("peerPort")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? PeerPort { get; set; }

    [JsonPropertyName("peerASN")]
    public long PeerAsn { get; set; }

    [JsonPropertyName("localASN")]
    public long LocalAsn { get; set; }

    [JsonPropertyName("holdTime")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? HoldTime { get; set; }

    [JsonPropertyName("keepaliveTime")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? KeepaliveTime { get; set; }

    [JsonPropertyName("connectTime")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ConnectTime { get; set; }

    [JsonPropertyName("passwordSecret")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SecretKeyRef? PasswordSecret { get; set; }

    [JsonPropertyName("bfd")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public BfdModel? Bfd { get; set; }

    [JsonPropertyName("ebgpMultiHop")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? EbgpMultiHop { get; set; }

    [JsonPropertyName("sourceAddress")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SourceAddress { get; set; }

    /// <summary>BGP identifier of the agent on this session (an IPv4 address); default: the node's first IPv4 address.</summary>
    [JsonPropertyName("routerID")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RouterId { get; set; }

    [JsonPropertyName("gracefulRestart")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? GracefulRestart { get; set; }

    [JsonPropertyName("nodeSelector")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LabelSelectorModel? NodeSelector { get; set; }
}

public sealed class SecretKeyRef
{
    [JsonPropertyName("namespace")]
    public string Namespace { get; set; } = string.Empty;

    [JsonPropertyName("name")]
    public string Name { get; set; } = string.Empty;

    [JsonPropertyName("key")]
    public string Key { get; set; } = "password";
}

public sealed class BfdModel
{
    [JsonPropertyName("minRxMs")]
    public int MinRxMs { get; set; } = 300;

    [JsonPropertyName("minTxMs")]
    public int MinTxMs { get; set; } = 300;

    [JsonPropertyName("multiplier")]
    public int Multiplier { get; set; } = 3;
}

/// <summary>What the controller says of a BGPPeer: whether it is valid, the nodes it selects, and the sessions the agents report.</summary>
public sealed class BgpPeerStatusModel
{
    [JsonPropertyName("conditions")]
    public List<Condition> Conditions { get; set; } = [];

    /// <summary>Nodes with an agent (an IPNode) that the node selector picks, in name order.</summary>
    [JsonPropertyName("nodes")]
    public List<string> Nodes { get; set; } = [];

    /// <summary>Sessions the agents of those nodes report, and how many are Established.</summary>
    [JsonPropertyName("sessions")]
    public int Sessions { get; set; }

    [JsonPropertyName("sessionsUp")]
    public int SessionsUp { get; set; }
}
