using System.Text.Json.Serialization;

namespace Extip.Kubernetes.Models;

/// <summary>
/// IPClaim: one per address in use, named after it. The controller alone writes it; agents read
/// it. It is the single record of which nodes hold the address.
/// </summary>
public sealed class IpClaim : CustomResource<IpClaimSpecModel, IpClaimStatusModel>
{
    public const string Plural = "ipclaims";

    public IpClaim() => Kind = "IPClaim";
}

public sealed class IpClaimSpecModel
{
    [JsonPropertyName("address")]
    public string Address { get; set; } = string.Empty;

    [JsonPropertyName("prefixLength")]
    public int PrefixLength { get; set; }

    [JsonPropertyName("interface")]
    public string Interface { get; set; } = "lo";

    /// <summary>The announcement as the CRD writes it; read it typed through <see cref="AnnounceMode"/>.</summary>
    [JsonPropertyName("mode")]
    public string Mode { get; set; } = nameof(Extip.Core.Pools.AnnounceMode.Local);

    /// <summary>
    /// <see cref="Mode"/> typed. A value that names no mode (a hand-edited claim, which the
    /// controller puts back) reads as Local: the address without announcements.
    /// </summary>
    [JsonIgnore]
    public Extip.Core.Pools.AnnounceMode AnnounceMode =>
        Enum.GetValues<Extip.Core.Pools.AnnounceMode>().FirstOrDefault(m => string.Equals(m.ToString(), Mode, StringComparison.OrdinalIgnoreCase), Extip.Core.Pools.AnnounceMode.Local);

    /// <summary>
    /// All (every node in <see cref="Nodes"/> holds it: ECMP, several holders are normal) or
    /// Balance (one owner at a time). An agent that loses the API keeps the addresses of All
    /// claims: only their claim, or a SIGTERM, takes them away.
    /// </summary>
    [JsonPropertyName("distribution")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Distribution { get; set; }

    /// <summary><see cref="Distribution"/> typed; null when it names none (a claim written before the field, or by hand).</summary>
    [JsonIgnore]
    public Extip.Core.Pools.Distribution? DistributionKind =>
        Enum.GetValues<Extip.Core.Pools.Distribution>().Cast<Extip.Core.Pools.Distribution?>().FirstOrDefault(d => string.Equals(d.ToString(), Distribution, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether several nodes may hold the address at once (All, and not L2, whose address answers ARP on one node).</summary>
    [JsonIgnore]
    public bool SharedByNodes => DistributionKind == Extip.Core.Pools.Distribution.All && AnnounceMode != Extip.Core.Pools.AnnounceMode.L2;

    [JsonPropertyName("pool")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Pool { get; set; }

    /// <summary>The Services holding the address, as namespace/name.</summary>
    [JsonPropertyName("owners")]
    public List<string> Owners { get; set; } = [];

    /// <summary>The nodes that hold it: the agents of these nodes put it on their interface and announce it.</summary>
    [JsonPropertyName("nodes")]
    public List<string> Nodes { get; set; } = [];

    [JsonPropertyName("communities")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Communities { get; set; }

    [JsonPropertyName("localPreference")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public uint? LocalPreference { get; set; }
}

public sealed class IpClaimStatusModel
{
    [JsonPropertyName("conditions")]
    public List<Condition> Conditions { get; set; } = [];
}
