using Extip.Core.Addresses;

namespace Extip.Core.Allocation;

/// <summary>namespace/name of a Service.</summary>
public readonly record struct ServiceKey(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";
}

public enum IpFamilyPolicy
{
    SingleStack,
    PreferDualStack,
    RequireDualStack,
}

public enum TrafficPolicy
{
    Cluster,
    Local,
}

public readonly record struct ServicePort(string Protocol, int Port)
{
    public override string ToString() => $"{Port}/{Protocol}";
}

/// <summary>What the allocator needs to know of a Service: a plain model, no Kubernetes types.</summary>
public sealed record ServiceRequest
{
    private static readonly IReadOnlyDictionary<string, string> NoLabels = new Dictionary<string, string>();

    public required ServiceKey Key { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = NoLabels;

    public IReadOnlyDictionary<string, string> NamespaceLabels { get; init; } = NoLabels;

    /// <summary>Type LoadBalancer of our class, or opted in by annotation: it wants pool addresses.</summary>
    public bool WantsLoadBalancer { get; init; } = true;

    /// <summary>Addresses asked for by annotation or <c>spec.loadBalancerIP</c>, as written.</summary>
    public IReadOnlyList<string> RequestedAddresses { get; init; } = [];

    /// <summary>Pool asked for by annotation.</summary>
    public string? RequestedPool { get; init; }

    public string? SharingKey { get; init; }

    public IReadOnlyList<ServicePort> Ports { get; init; } = [];

    public TrafficPolicy ExternalTrafficPolicy { get; init; } = TrafficPolicy.Cluster;

    /// <summary>The pod selector; Local-policy Services share an address only when they select the same pods.</summary>
    public IReadOnlyDictionary<string, string> Selector { get; init; } = NoLabels;

    public IpFamilyPolicy FamilyPolicy { get; init; } = IpFamilyPolicy.SingleStack;

    /// <summary><c>spec.ipFamilies</c>; the first is the primary family. Empty means IPv4.</summary>
    public IReadOnlyList<IpFamily> Families { get; init; } = [];

    /// <summary>Addresses the Service already shows in its status, as written (reload after a restart).</summary>
    public IReadOnlyList<string> CurrentAddresses { get; init; } = [];

    /// <summary>External IPs the Service was known to hold before a restart (reload keeps them first).</summary>
    public IReadOnlyList<string> CurrentExternalIPs { get; init; } = [];

    /// <summary><c>spec.externalIPs</c>, as written.</summary>
    public IReadOnlyList<string> ExternalIPs { get; init; } = [];

    /// <summary>Creation time: between two explicit requests for one address the older Service wins.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>Breaks ties of <see cref="CreatedAt"/> (which has one-second resolution).</summary>
    public string? Uid { get; init; }

    public IpFamily PrimaryFamily => Families.Count > 0 ? Families[0] : IpFamily.IPv4;
}
