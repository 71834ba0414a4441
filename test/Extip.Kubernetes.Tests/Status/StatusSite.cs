using Extip.Kubernetes.Models;
using Extip.Kubernetes.Status;
using k8s.Models;

namespace Extip.Kubernetes.Tests.Status;

/// <summary>
/// A known site: node-a live (holds 200.1.1.1 by BGP, waits for interface vip0 for 10.9.9.9, one
/// session up with BFD and one down), node-b gone (its Lease expired two minutes ago, it last
/// reported 200.1.1.2 held), node-c stopped (Lease released, nothing left). Services web/front,
/// web/api, web/db (allocated, on no node) and web/pending (nothing allocated); pools seed and
/// spare (exhausted); a third BGPPeer no agent reports.
/// </summary>
internal static class StatusSite
{
    public static readonly DateTime Now = new(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    public static StatusReport Report(IEnumerable<V1Lease>? leases = null, bool noLeases = false) =>
        StatusReport.Build(Nodes(), Claims(), Services(), Pools(), Peers(), noLeases ? null : leases ?? Leases(), Now);

    public static List<IpNode> Nodes() =>
    [
        // Out of order on purpose: the report sorts.
        Node("node-b", new IpNodeStatusModel
        {
            Interfaces = [Iface("lo", true, "127.0.0.1/8", "200.1.1.2/32")],
            Addresses = [Held("200.1.1.2", "lo", "BGP", "Held", Now.AddMinutes(-30))],
            Peers = [new PeerStatus { Name = "tor-v4", Address = "10.0.0.1", State = "Established", Bfd = "Up", PrefixesAdvertised = 1, Since = Now.AddMinutes(-30) }],
            Conditions = [Ready(true, "AllHeld", "1 addresses held")],
            LastUpdate = Now.AddMinutes(-3),
        }),
        Node("node-a", new IpNodeStatusModel
        {
            Interfaces =
            [
                Iface("lo", true, "127.0.0.1/8", "10.1.3.9/32", "200.1.1.1/32"),
                Iface("eth0", true, "192.168.1.10/24", "2001:db8::a/64"),
                Iface("eth1", false),
            ],
            Addresses =
            [
                Held("10.9.9.9", "vip0", "Local", "Pending", Now.AddSeconds(-5), "interface vip0 does not exist on this node; waiting for it"),
                Held("200.1.1.1", "lo", "BGP", "Held", Now.AddMinutes(-10)),
            ],
            Peers =
            [
                new PeerStatus { Name = "tor-v4", Address = "10.0.0.1", State = "Established", Bfd = "Up", PrefixesAdvertised = 1, Since = Now.AddMinutes(-10) },
                new PeerStatus { Name = "tor-v6", Address = "2001:db8::1", State = "Active", Bfd = "Down", Message = "connection refused" },
            ],
            Conditions = [Ready(false, "InterfaceMissing", "10.9.9.9/32 on vip0: interface vip0 does not exist on this node; waiting for it")],
            LastUpdate = Now.AddSeconds(-5),
        }),
        Node("node-c", new IpNodeStatusModel
        {
            Interfaces = [Iface("lo", true, "127.0.0.1/8")],
            Conditions = [Ready(false, "Stopped", "the agent stopped and removed its addresses")],
            LastUpdate = Now.AddHours(-1),
        }),
    ];

    public static List<IpClaim> Claims() =>
    [
        Claim("200-1-1-1", "200.1.1.1", "BGP", ["web/front"], ["node-a"]),
        Claim("200-1-1-2", "200.1.1.2", "BGP", ["web/api"], ["node-b"]),
        Claim("10-9-9-9", "10.9.9.9", "Local", ["web/front"], ["node-a"], pool: "spare"),
        Claim("200-1-1-3", "200.1.1.3", "BGP", ["web/db"], []),
    ];

    public static List<V1Service> Services() =>
    [
        Service("web", "front", "LoadBalancer"),
        Service("web", "api", "LoadBalancer"),
        Service("web", "db", "LoadBalancer"),
        Service("web", "pending", "LoadBalancer"),
        Service("kube-system", "dns", "ClusterIP"),
        Service("other", "foreign", "LoadBalancer", loadBalancerClass: "other.io/lb"),
    ];

    public static List<IpPool> Pools() =>
    [
        new()
        {
            Metadata = new V1ObjectMeta { Name = "spare" },
            Spec = new IpPoolSpecModel { Addresses = ["10.9.9.9/32"] },
            Status = new IpPoolStatusModel
            {
                CapacityIPv4 = "1",
                InUseIPv4 = 1,
                Conditions =
                [
                    new Condition { Type = "Ready", Status = "True", Reason = "Usable" },
                    new Condition { Type = "Exhausted", Status = "True", Reason = "NoFreeAddress", Message = "no free IPv4 address (1 in use)" },
                ],
            },
        },
        new()
        {
            Metadata = new V1ObjectMeta { Name = "seed" },
            Spec = new IpPoolSpecModel { Addresses = ["200.1.1.0/28", "2001:db8:1000::/120"], Announce = new AnnounceModel { Mode = "BGP" } },
            Status = new IpPoolStatusModel { CapacityIPv4 = "16", InUseIPv4 = 3, CapacityIPv6 = "256", InUseIPv6 = 0, Conditions = [new Condition { Type = "Ready", Status = "True", Reason = "Usable" }] },
        },
    ];

    public static List<BgpPeer> Peers() =>
    [
        Peer("tor-x", "10.0.0.9", 65009),
        Peer("tor-v6", "2001:db8::1", 65000),
        Peer("tor-v4", "10.0.0.1", 65000),
    ];

    public static List<V1Lease> Leases() =>
    [
        Lease("extip-agent-node-a", "node-a", Now.AddSeconds(-1), 4),
        Lease("extip-agent-node-b", "node-b", Now.AddMinutes(-2), 4),
        Lease("extip-agent-node-c", null, Now.AddHours(-1), 4),
        Lease("extip-controller", "c1", Now, 15),
    ];

    public static V1Lease Lease(string name, string? holder, DateTime? renewed, int? seconds) =>
        new() { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "extip-system" }, Spec = new V1LeaseSpec { HolderIdentity = holder, RenewTime = renewed, LeaseDurationSeconds = seconds } };

    private static IpNode Node(string name, IpNodeStatusModel status) => new() { Metadata = new V1ObjectMeta { Name = name }, Status = status };

    private static NodeInterface Iface(string name, bool up, params string[] addresses) => new() { Name = name, Up = up, Addresses = [.. addresses] };

    private static NodeAddressStatus Held(string address, string iface, string mode, string state, DateTime since, string? message = null) =>
        new() { Address = address, PrefixLength = 32, Interface = iface, Mode = mode, State = state, Since = since, Message = message };

    private static Condition Ready(bool ready, string reason, string message) =>
        new() { Type = "Ready", Status = ready ? "True" : "False", Reason = reason, Message = message };

    private static IpClaim Claim(string name, string address, string mode, List<string> owners, List<string> nodes, string pool = "seed") => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new IpClaimSpecModel { Address = address, PrefixLength = 32, Interface = mode == "BGP" ? "lo" : "vip0", Mode = mode, Pool = pool, Owners = owners, Nodes = nodes },
    };

    private static V1Service Service(string ns, string name, string type, string? loadBalancerClass = null) =>
        new() { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns }, Spec = new V1ServiceSpec { Type = type, LoadBalancerClass = loadBalancerClass } };

    private static BgpPeer Peer(string name, string address, long asn) =>
        new() { Metadata = new V1ObjectMeta { Name = name }, Spec = new BgpPeerSpecModel { PeerAddress = address, PeerAsn = asn, LocalAsn = 64512 } };
}
