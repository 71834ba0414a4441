using Extip.Kubernetes.Client;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Controller.Mapping;

/// <summary>What extip makes of a Service: whether it is ours, and the allocator's request for it.</summary>
internal static class ServiceMapping
{
    /// <summary>
    /// True for LoadBalancer Services of our class (or without class), for Services opted in by
    /// the <c>extip.io/external-ip: auto</c> annotation, and for any Service with spec.externalIPs
    /// (extip places those, or refuses them).
    /// </summary>
    public static bool WantsPoolAddress(V1Service svc, ControllerOptions o) =>
        (svc.Spec?.Type == "LoadBalancer" && (svc.Spec.LoadBalancerClass is null || svc.Spec.LoadBalancerClass == o.LoadBalancerClass))
        || IsOptIn(svc);

    public static bool IsOptIn(V1Service svc) =>
        svc.Spec?.Type != "LoadBalancer" && svc.Metadata.Annotations.Value(ExtipApi.ExternalIpAnnotation) == "auto";

    public static bool IsOurs(V1Service svc, ControllerOptions o) => WantsPoolAddress(svc, o) || (svc.Spec?.ExternalIPs?.Count ?? 0) > 0;

    /// <summary>Addresses the controller put into spec.externalIPs of an opted-in Service.</summary>
    public static List<string> Allocated(V1Service svc) =>
        (svc.Metadata.Annotations.Value(ExtipApi.AllocatedAnnotation) ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    public static ServiceRequest ToRequest(V1Service svc, IReadOnlyDictionary<string, string> namespaceLabels, IReadOnlyCollection<string> acceptedExternalIps, ControllerOptions o)
    {
        var ann = svc.Metadata.Annotations ?? new Dictionary<string, string>();
        var spec = svc.Spec ?? new V1ServiceSpec();
        var optIn = IsOptIn(svc);
        var allocated = Allocated(svc);
        var requested = ann.TryGetValue(ExtipApi.AddressesAnnotation, out var addrs)
            ? addrs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
            : string.IsNullOrEmpty(spec.LoadBalancerIP) ? [] : [spec.LoadBalancerIP];
        var current = optIn
            ? allocated
            : (svc.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip).Where(ip => !string.IsNullOrEmpty(ip)).ToList();
        var externals = (spec.ExternalIPs ?? []).Where(ip => !(optIn && allocated.Contains(ip))).ToList();
        return new ServiceRequest
        {
            Key = new ServiceKey(svc.Metadata.NamespaceProperty ?? "default", svc.Metadata.Name),
            Labels = svc.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>(),
            NamespaceLabels = namespaceLabels,
            WantsLoadBalancer = WantsPoolAddress(svc, o),
            RequestedAddresses = requested,
            RequestedPool = ann.Value(ExtipApi.PoolAnnotation),
            SharingKey = ann.Value(ExtipApi.SharingKeyAnnotation),
            Ports = (spec.Ports ?? []).Select(p => new ServicePort(p.Protocol ?? "TCP", p.Port)).ToList(),
            ExternalTrafficPolicy = spec.ExternalTrafficPolicy == "Local" ? TrafficPolicy.Local : TrafficPolicy.Cluster,
            Selector = spec.Selector is { } sel ? new Dictionary<string, string>(sel) : new Dictionary<string, string>(),
            FamilyPolicy = spec.IpFamilyPolicy switch
            {
                "PreferDualStack" => IpFamilyPolicy.PreferDualStack,
                "RequireDualStack" => IpFamilyPolicy.RequireDualStack,
                _ => IpFamilyPolicy.SingleStack,
            },
            Families = (spec.IpFamilies ?? []).Select(f => f == "IPv6" ? IpFamily.IPv6 : IpFamily.IPv4).ToList(),
            CurrentAddresses = current,
            ExternalIPs = externals,
            CurrentExternalIPs = externals.Where(acceptedExternalIps.Contains).ToList(),
            CreatedAt = svc.Metadata.CreationTimestamp is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null,
            Uid = svc.Metadata.Uid,
        };
    }
}
