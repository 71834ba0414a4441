namespace Extip.Kubernetes.Status;

/// <summary>
/// What <c>extip status</c> shows: the seed's <c>netshow l3</c> across the cluster (per node its
/// interfaces and addresses, extip's highlighted with their claim), per Service its addresses and
/// the nodes holding them, the BGP sessions, and the pools' use. Built by <see cref="Build"/>,
/// a pure function of the API objects and the time.
/// </summary>
public sealed partial record StatusReport(
    DateTime Now,
    IReadOnlyList<NodeReport> Nodes,
    IReadOnlyList<ServiceReport> Services,
    IReadOnlyList<PeerReport> Peers,
    IReadOnlyList<PoolReport> Pools,
    IReadOnlyList<string> Unplaced);

/// <summary>
/// A node: whether its agent is alive (by its Lease), what the agent last said (Ready), and its
/// interfaces. When the agent is gone, the node is not ready (reason AgentGone, the agent's last
/// word in the message), its interfaces are as it last reported, and no extip address counts as held.
/// </summary>
public sealed record NodeReport(
    string Name,
    AgentLiveness Agent,
    bool Ready,
    string ReadyReason,
    string ReadyMessage,
    DateTime? LastUpdate,
    IReadOnlyList<InterfaceReport> Interfaces);

/// <summary>An interface; <see cref="Up"/> is null when the agent did not list it (an extip address waiting for it).</summary>
public sealed record InterfaceReport(string Name, bool? Up, IReadOnlyList<AddressReport> Addresses);

/// <summary>An address on an interface (address/prefix-length); <see cref="Extip"/> set for extip's.</summary>
public sealed record AddressReport(string Address, ExtipAddress? Extip);

/// <summary>
/// An extip address on a node: its claim, mode and the state the agent reported. <see cref="Held"/>
/// is that state being Held and the agent alive (or its liveness unknown).
/// </summary>
public sealed record ExtipAddress(string Claim, string Mode, string State, bool Held, string? Pool, IReadOnlyList<string> Services, DateTime? Since, string? Message);

/// <summary>A Service extip gives addresses to, with them; <see cref="Problem"/> says why it has none.</summary>
public sealed record ServiceReport(string Name, string Type, IReadOnlyList<ServiceAddress> Addresses, string? Problem);

/// <summary>One address of a Service and, for each node its claim names, where that node stands.</summary>
public sealed record ServiceAddress(string Address, string? Pool, string Mode, IReadOnlyList<NodeHold> Nodes);

/// <summary>
/// A node's hold on an address: Held, Gone (its agent is), NotReported (no IPNode, or its IPNode
/// does not list the address yet), or the agent's state (Pending, Failed).
/// </summary>
public sealed record NodeHold(string Node, string State)
{
    public const string Gone = "Gone";
    public const string NotReported = "NotReported";
}

/// <summary>
/// A BGP session of a node as its agent reported it, or (null node) a BGPPeer no agent reported.
/// <see cref="Stale"/>: the node's agent is gone and this is its last word.
/// </summary>
public sealed record PeerReport(string? Node, string Name, string Address, long? Asn, string State, string? Bfd, int Prefixes, DateTime? Since, string? Message, bool Stale)
{
    public const string NoSession = "NoSession";
}

/// <summary>A pool: its ranges, how it announces, its use as the controller counts it, and the claims from it.</summary>
public sealed record PoolReport(string Name, IReadOnlyList<string> Addresses, string Mode, long InUseIPv4, string CapacityIPv4, long InUseIPv6, string CapacityIPv6, int Claims, string? Problem);
