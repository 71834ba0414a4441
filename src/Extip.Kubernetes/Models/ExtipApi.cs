namespace Extip.Kubernetes.Models;

/// <summary>The extip API group, its version, and the annotations and labels extip reads and writes.</summary>
public static class ExtipApi
{
    public const string Group = "extip.io";
    public const string Version = "v1alpha1";
    public const string ApiVersion = Group + "/" + Version;

    /// <summary>Addresses a Service asks for, comma-separated (one per family at most).</summary>
    public const string AddressesAnnotation = "extip.io/addresses";

    /// <summary>The pool a Service asks for.</summary>
    public const string PoolAnnotation = "extip.io/pool";

    /// <summary>Services with the same key may share an address.</summary>
    public const string SharingKeyAnnotation = "extip.io/sharing-key";

    /// <summary>The seed's opt-in (<c>external-ip: auto</c>) for Services that are not of type LoadBalancer.</summary>
    public const string ExternalIpAnnotation = "extip.io/external-ip";

    /// <summary>Written by the controller: the pool(s) the Service's addresses come from.</summary>
    public const string AssignedPoolAnnotation = "extip.io/assigned-pool";

    /// <summary>Written by the controller: addresses it put into spec.externalIPs of an opted-in Service.</summary>
    public const string AllocatedAnnotation = "extip.io/allocated";

    /// <summary>
    /// External IPs the controller removed from spec.externalIPs because another Service holds
    /// them: left in place, kube-proxy would send that Service's traffic here (CVE-2020-8554).
    /// </summary>
    public const string RemovedExternalIpsAnnotation = "extip.io/removed-external-ips";

    /// <summary>The label on agent Leases.</summary>
    public const string ComponentLabel = "extip.io/component";

    /// <summary>
    /// Written by the leading controller on each IPNode's metadata (never its status, which is the
    /// agent's): <see cref="AgentLive"/> or <see cref="AgentGone"/>, its own judgment of the node's
    /// agent Lease, the same one that moves claims off a dead node.
    /// </summary>
    public const string AgentLabel = "extip.io/agent";

    public const string AgentLive = "Live";

    public const string AgentGone = "Gone";

    /// <summary>Agent Leases are named this prefix plus the node name.</summary>
    public const string AgentLeasePrefix = "extip-agent-";

    /// <summary>
    /// On an agent's Lease: the agent is stopping and asks that its claims be moved to other nodes
    /// now, while it still holds them (make-before-break); it stays live until it releases the Lease.
    /// </summary>
    public const string DrainingAnnotation = "extip.io/draining";

    public const string DefaultLoadBalancerClass = "extip.io/lb";

    /// <summary>The Secret (in the controller's namespace) whose <c>key</c> signs the agents' heartbeats to each other.</summary>
    public const string PeerKeySecret = "extip-peer-key";

    /// <summary>Where the controller, its Leases and the agents' Leases live unless told otherwise.</summary>
    public const string DefaultNamespace = "extip-system";

    /// <summary>Label on each IPClaim naming its pool (<c>kubectl get ipclaims -l extip.io/pool=NAME</c>).</summary>
    public const string PoolLabel = "extip.io/pool";

    /// <summary>Label that exempts a namespace from the webhook (value <c>skip</c>): the escape hatch when it is down.</summary>
    public const string AdmissionLabel = "extip.io/admission";

    /// <summary>The Role that lets the agents read Secrets by name (the heartbeat key, BGP passwords); the controller keeps its names.</summary>
    public const string AgentSecretsRole = "extip-agent-secrets";

    public const string PeerKeyField = "key";
}
