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
    public List<NodeAddressStatus> Addresses { get; set; } = [];

    [JsonPropertyName("peers")]
    public List<PeerStatus> Peers { get; set; } = [];

    /// <summary>Every interface of the node with its addresses, extip's and the others (what <c>netshow l3</c> shows).</summary>
    [JsonPropertyName("interfaces")]
    public List<NodeInterface> Interfaces { get; set; } = [];

    /// <summary>Counts for <c>kubectl get ipnodes</c>: printer columns can only show single values.</summary>
    [JsonPropertyName("summary")]
    public IpNodeSummary Summary { get; set; } = new();

    [JsonPropertyName("conditions")]
    public List<Condition> Conditions { get; set; } = [];

    [JsonPropertyName("lastUpdate")]
    public DateTime? LastUpdate { get; set; }
}

/// <summary>One network interface of the node as the agent read it through netlink.</summary>
public sealed class NodeInterface
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = string.Empty;

    [JsonPropertyName("up")]
    public bool Up { get; set; }

    /// <summary>Its addresses as address/prefix-length, in the kernel's order; link-local ones left out.</summary>
    [JsonPropertyName("addresses")]
    public List<string> Addresses { get; set; } = [];
}

/// <summary>The node's counts, derived from the rest of the status when the agent writes it.</summary>
public sealed class IpNodeSummary
{
    /// <summary>extip addresses the node should hold (its claims).</summary>
    [JsonPropertyName("addresses")]
    public int Addresses { get; set; }

    /// <summary>Of those, the ones it holds.</summary>
    [JsonPropertyName("held")]
    public int Held { get; set; }

    [JsonPropertyName("peers")]
    public int Peers { get; set; }

    /// <summary>BGP sessions Established.</summary>
    [JsonPropertyName("peersUp")]
    public int PeersUp { get; set; }

    /// <summary>BFD sessions Up.</summary>
    [JsonPropertyName("bfdUp")]
    public int BfdUp { get; set; }

    /// <summary>Counts of the given addresses and sessions (BGP Established, BFD Up).</summary>
    public static IpNodeSummary Of(IReadOnlyCollection<NodeAddressStatus> addresses, IReadOnlyCollection<PeerStatus> peers)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(peers);
        return new IpNodeSummary
        {
            Addresses = addresses.Count,
            Held = addresses.Count(a => a.State == NodeAddressStatus.HeldState),
            Peers = peers.Count,
            PeersUp = peers.Count(p => p.State == PeerStatus.Established),
            BfdUp = peers.Count(p => p.Bfd == PeerStatus.BfdUp),
        };
    }
}

/// <summary>One address in an IPNode's status: what the node's agent did with a claim that names the node.</summary>
public sealed class NodeAddressStatus
{
    /// <summary>On the interface (and announced, for L2 and BGP).</summary>
    public const string HeldState = "Held";

    /// <summary>Not there yet: the claim's interface is missing or down.</summary>
    public const string PendingState = "Pending";

    /// <summary>The kernel refused it; the message says why.</summary>
    public const string FailedState = "Failed";

    [JsonPropertyName("address")]
    public string Address { get; set; } = string.Empty;

    [JsonPropertyName("prefixLength")]
    public int PrefixLength { get; set; }

    [JsonPropertyName("interface")]
    public string Interface { get; set; } = string.Empty;

    [JsonPropertyName("mode")]
    public string Mode { get; set; } = string.Empty;

    /// <summary><see cref="HeldState"/>, <see cref="PendingState"/> or <see cref="FailedState"/>.</summary>
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
    /// <summary>The BGP session state that counts as up (the speaker's SessionState name).</summary>
    public const string Established = "Established";

    /// <summary>The BFD state that counts as up (RFC 5880 Up).</summary>
    public const string BfdUp = "Up";

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
