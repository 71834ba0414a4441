using Extip.Controller.Mapping;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Kubernetes.Models;
using k8s.Models;

namespace Extip.Controller.Tests;

/// <summary>What extip makes of a Service: whether it is ours, and the allocator's request for it.</summary>
public sealed class ServiceMappingTests
{
    private static readonly ControllerOptions Options = new();

    private static V1Service Service(string type = "LoadBalancer", string? cls = null, Dictionary<string, string>? annotations = null, Action<V1ServiceSpec>? spec = null)
    {
        var s = new V1ServiceSpec { Type = type, LoadBalancerClass = cls, Ports = [new V1ServicePort { Port = 53, Protocol = "UDP" }] };
        spec?.Invoke(s);
        return new V1Service { Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "apps", Annotations = annotations }, Spec = s };
    }

    [Fact]
    public void Ours_LoadBalancersOfOurClassOrNone_OptedInServices_AndAnyWithExternalIPs()
    {
        Assert.True(ServiceMapping.IsOurs(Service(), Options));
        Assert.True(ServiceMapping.IsOurs(Service(cls: Options.LoadBalancerClass), Options));
        Assert.False(ServiceMapping.IsOurs(Service(cls: "example.com/other"), Options));
        Assert.False(ServiceMapping.IsOurs(Service("ClusterIP"), Options));
        Assert.True(ServiceMapping.IsOurs(Service("ClusterIP", annotations: new() { [ExtipApi.ExternalIpAnnotation] = "auto" }), Options));
        Assert.True(ServiceMapping.IsOurs(Service("ClusterIP", spec: s => s.ExternalIPs = ["192.0.2.7"]), Options));

        // The opt-in annotation is for Services that are not LoadBalancers: one that is stays a LoadBalancer.
        Assert.False(ServiceMapping.IsOptIn(Service(annotations: new() { [ExtipApi.ExternalIpAnnotation] = "auto" })));
    }

    [Fact]
    public void Request_AddressesAnnotationWinsOverLoadBalancerIP_PoolSharingPortsPolicyAndFamilies()
    {
        var svc = Service(annotations: new()
        {
            [ExtipApi.AddressesAnnotation] = "192.0.2.1, 2001:db8::1",
            [ExtipApi.PoolAnnotation] = "edge",
            [ExtipApi.SharingKeyAnnotation] = "dns",
        }, spec: s =>
        {
            s.LoadBalancerIP = "192.0.2.9";
            s.ExternalTrafficPolicy = "Local";
            s.IpFamilyPolicy = "RequireDualStack";
            s.IpFamilies = ["IPv6", "IPv4"];
        });
        var r = ServiceMapping.ToRequest(svc, new Dictionary<string, string> { ["team"] = "a" }, [], Options);
        Assert.Equal(new ServiceKey("apps", "web"), r.Key);
        Assert.True(r.WantsLoadBalancer);
        Assert.Equal(["192.0.2.1", "2001:db8::1"], r.RequestedAddresses);
        Assert.Equal(("edge", "dns"), (r.RequestedPool, r.SharingKey));
        Assert.Equal([new ServicePort("UDP", 53)], r.Ports);
        Assert.Equal(TrafficPolicy.Local, r.ExternalTrafficPolicy);
        Assert.Equal(IpFamilyPolicy.RequireDualStack, r.FamilyPolicy);
        Assert.Equal([IpFamily.IPv6, IpFamily.IPv4], r.Families);
        Assert.Equal("a", r.NamespaceLabels["team"]);

        Assert.Equal(["192.0.2.9"], ServiceMapping.ToRequest(Service(spec: s => s.LoadBalancerIP = "192.0.2.9"), new Dictionary<string, string>(), [], Options).RequestedAddresses);
    }

    [Fact]
    public void Request_CurrentAddresses_FromTheIngressOrForAnOptedInServiceFromItsAllocatedAnnotation()
    {
        var lb = Service();
        lb.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "192.0.2.4" }, new V1LoadBalancerIngress { Hostname = "lb.example" }] } };
        Assert.Equal(["192.0.2.4"], ServiceMapping.ToRequest(lb, new Dictionary<string, string>(), [], Options).CurrentAddresses);

        // Opted in: the controller's own entries in spec.externalIPs are its current addresses, not the user's external IPs.
        var optIn = Service("ClusterIP", annotations: new() { [ExtipApi.ExternalIpAnnotation] = "auto", [ExtipApi.AllocatedAnnotation] = "192.0.2.5" }, spec: s => s.ExternalIPs = ["192.0.2.5", "198.51.100.1"]);
        var r = ServiceMapping.ToRequest(optIn, new Dictionary<string, string>(), [], Options);
        Assert.Equal(["192.0.2.5"], r.CurrentAddresses);
        Assert.Equal(["198.51.100.1"], r.ExternalIPs);
        Assert.Empty(r.CurrentExternalIPs);
    }

    [Fact]
    public void Request_AnExternalIPCountsAsHeldOnlyWhenItsClaimShowsItAccepted()
    {
        var svc = Service("ClusterIP", spec: s => s.ExternalIPs = ["198.51.100.1", "198.51.100.2"]);
        var r = ServiceMapping.ToRequest(svc, new Dictionary<string, string>(), ["198.51.100.2"], Options);
        Assert.False(r.WantsLoadBalancer);
        Assert.Equal(["198.51.100.1", "198.51.100.2"], r.ExternalIPs);
        Assert.Equal(["198.51.100.2"], r.CurrentExternalIPs);
    }
}
