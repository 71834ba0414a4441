using Extip.Core.Allocation;
using Extip.Core.Pools;

namespace Extip.Controller;

/// <summary>The controller's settings; the first ones mirror the seed's Ansible variables.</summary>
public sealed record ControllerOptions
{
    /// <summary>The seed's <c>extip_mask</c>: mask for IPv4 addresses when a pool does not set one.</summary>
    public int Mask { get; init; } = 32;

    public int MaskV6 { get; init; } = 128;

    /// <summary>The seed's <c>extip_iface</c>.</summary>
    public string Interface { get; init; } = "lo";

    /// <summary>The seed's <c>extip_distribution</c>.</summary>
    public Distribution Distribution { get; init; } = Distribution.All;

    public AnnounceMode Mode { get; init; } = AnnounceMode.Local;

    public int NodesPerAddress { get; init; } = 1;

    public ExternalIpPolicy ExternalIPs { get; init; } = ExternalIpPolicy.Pools;

    /// <summary>
    /// Remove from spec.externalIPs an address another Service holds (recorded in the
    /// <c>extip.io/removed-external-ips</c> annotation, with an Event): kube-proxy programs
    /// spec.externalIPs whatever extip decides, so a refusal alone would not stop the hijack.
    /// </summary>
    public bool RemoveConflictingExternalIPs { get; init; } = true;

    /// <summary>LoadBalancer Services with this class (or none) are ours.</summary>
    public string LoadBalancerClass { get; init; } = Kubernetes.Models.ExtipApi.DefaultLoadBalancerClass;

    /// <summary>Where the leader-election Lease and the agents' Leases live.</summary>
    public string Namespace { get; init; } = Kubernetes.Models.ExtipApi.DefaultNamespace;

    /// <summary>host:port for /metrics, /healthz and /readyz; null for none.</summary>
    public string? Metrics { get; init; }

    public bool LeaderElection { get; init; } = true;

    public string Identity { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan StickyGrace { get; init; } = TimeSpan.FromMinutes(10);

    public bool RebalanceOnArrival { get; init; } = true;

    /// <summary>Parallel API writes (Service status, IPClaims).</summary>
    public int Workers { get; init; } = 8;

    /// <summary>Create or update the CRDs at start (the lab does; a cluster usually applies deploy/crds).</summary>
    public bool InstallCrds { get; init; }

    /// <summary>
    /// How long past an agent's Lease the controller still counts it live: covers the kernel's
    /// removal of a hung agent's addresses (whole-second lifetimes, expiring within ~0.2 s), so
    /// that no single-owner address is given to another node while the hung one may still hold it.
    /// </summary>
    public TimeSpan FenceMargin { get; init; } = TimeSpan.FromMilliseconds(750);

    /// <summary>
    /// Rebalancing is gradual: each step moves at most this share of a pool's addresses (at least
    /// one), and the next step follows <see cref="RebalanceStep"/> later. Null: all at once.
    /// </summary>
    public double? RebalanceShare { get; init; } = 0.1;

    public TimeSpan RebalanceStep { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A node whose Ready condition has been False or Unknown this long (on the controller's own
    /// clock, from when it first saw it) holds no claim; zero: Ready is not looked at.
    /// </summary>
    public TimeSpan NotReadyGrace { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Route-flap damping: how long a node that comes back waits before it gets new claims.</summary>
    public HoldDownOptions HoldDown { get; init; } = new();

    /// <summary>When most agents' Leases running out together counts as a control-plane disruption (no claim moves).</summary>
    public DisruptionRule Disruption { get; init; } = new();

    /// <summary>The validating admission webhook (issue 11); null: none.</summary>
    public Webhook.WebhookOptions? Webhook { get; init; }

    /// <summary>The clock agent liveness is judged on (its monotonic timestamps); tests give a fake one.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
