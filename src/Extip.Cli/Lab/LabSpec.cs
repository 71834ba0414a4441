using System.Text.Json.Serialization;
using Extip.Core.Pools;
using Extip.Lab.Routers;

namespace Extip.Cli.Lab;

/// <summary>What a lab is built with: the flags of <c>extip lab up</c>.</summary>
internal sealed record LabSpec
{
    /// <summary>Nodes k8s1…k8sN on the rack segment (the seed shows eleven).</summary>
    public int Nodes { get; init; } = 11;

    /// <summary>How many of them run an agent, from k8s1 on (the seed's <c>extip_ctrl_replicas: 2</c>).</summary>
    public int Agents { get; init; } = 2;

    [JsonConverter(typeof(JsonStringEnumConverter<RouterKind>))]
    public RouterKind Router { get; init; } = RouterKind.Bird;

    [JsonConverter(typeof(JsonStringEnumConverter<AnnounceMode>))]
    public AnnounceMode Mode { get; init; } = AnnounceMode.BGP;

    [JsonConverter(typeof(JsonStringEnumConverter<Distribution>))]
    public Distribution Distribution { get; init; } = Distribution.All;

    /// <summary>Dual-stack: the pool and the seed's Service get an IPv6 address too (2001:db8::/32 only).</summary>
    public bool Ipv6 { get; init; }

    /// <summary>embedded (extip's own API server) or real (kube-apiserver v1.20 from tools/real-apiserver).</summary>
    public string ApiServer { get; init; } = "embedded";

    /// <summary>BFD between the router and the nodes (50 ms x 3).</summary>
    public bool Bfd { get; init; } = true;

    /// <summary>BGP hold time offered by both sides, in seconds.</summary>
    public int HoldTime { get; init; } = 9;

    /// <summary>The agents' Lease: the controller moves a dead agent's claims this long after its last renewal.</summary>
    public double LeaseSeconds { get; init; } = 2;

    public double RenewSeconds { get; init; } = 0.4;

    /// <summary>The controller's <c>--hold-down</c> (route-flap damping of returning nodes); null: its default.</summary>
    public double? HoldDownSeconds { get; init; }

    /// <summary>Break-before-make (benchmarks' "before"): the agents hand nothing over (<c>--handover-timeout 0 --drain-timeout 0</c>).</summary>
    public bool NoHandover { get; init; }

    /// <summary>The agents' <c>--withdraw-delay</c> in seconds; null: their default.</summary>
    public double? WithdrawDelaySeconds { get; init; }

    /// <summary>The agents chain no connections during moves (<c>--no-chain-connections</c>), for comparison.</summary>
    public bool NoChain { get; init; }

    /// <summary>An OCI archive of extip's image (scripts/build-image.sh): the controller and the agents run from it in containers; null: from this build.</summary>
    public string? Image { get; init; }

    /// <summary>The TCP port the nodes' responders (the "pods") answer on.</summary>
    public int Port { get; init; } = 80;

    public IReadOnlyList<string> NodeNames => [.. Enumerable.Range(1, Nodes).Select(i => $"k8s{i}")];

    public IReadOnlyList<string> AgentNodes => [.. NodeNames.Take(Agents)];

    /// <summary>What is wrong with the spec, or null.</summary>
    public string? Problem() =>
        Nodes is < 1 or > 60 ? $"--nodes {Nodes}: 1 to 60"
        : Agents < 0 || Agents > Nodes ? $"--agents {Agents}: 0 to --nodes ({Nodes})"
        : ApiServer is not ("embedded" or "real") ? $"--apiserver {ApiServer}: embedded or real"
        : HoldTime is not 0 and < 3 ? $"--hold-time {HoldTime}: 0 or at least 3 seconds (RFC 4271)"
        : LeaseSeconds < 1 || RenewSeconds <= 0 || RenewSeconds >= LeaseSeconds ? $"--lease {LeaseSeconds} / renew {RenewSeconds}: the Lease lasts at least 1 s and longer than the renew interval"
        : WithdrawDelaySeconds is < 0 or > 300 ? $"--withdraw-delay {WithdrawDelaySeconds}: 0 to 300 seconds"
        : null;
}
