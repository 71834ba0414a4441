using Extip.Testing.Fixtures;
using System.Net;
using Extip.Core.Addresses;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    [Fact]
    public async Task Service_GetsClusterIpFromTheRange_AndNodePortsForLoadBalancer()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var svc = await Client.CoreV1.CreateNamespacedServiceAsync(Service("lb", "LoadBalancer", 80, 443), ns);
        Assert.True(Cidr.Parse("10.96.0.0/16").Contains(Address.Parse(svc.Spec.ClusterIP)), svc.Spec.ClusterIP);
        Assert.Equal([svc.Spec.ClusterIP], svc.Spec.ClusterIPs);
        Assert.All(svc.Spec.Ports, p => Assert.InRange(p.NodePort ?? 0, 30000, 32767));
        Assert.Equal(2, svc.Spec.Ports.Select(p => p.NodePort).Distinct().Count());
        Assert.Equal("Cluster", svc.Spec.ExternalTrafficPolicy);
        Assert.Equal("None", svc.Spec.SessionAffinity);
        Assert.Equal("80", svc.Spec.Ports[0].TargetPort.Value);
        Assert.NotNull(svc.Status.LoadBalancer);
    }

    [Fact]
    public async Task Service_ClusterIP_HasNoNodePorts_AndKeepsItsIpOnUpdate()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var svc = await Client.CoreV1.CreateNamespacedServiceAsync(Service("cip"), ns);
        Assert.Null(svc.Spec.Ports[0].NodePort);
        svc.Spec.Selector["tier"] = "x";
        var updated = await Client.CoreV1.ReplaceNamespacedServiceAsync(svc, "cip", ns);
        Assert.Equal(svc.Spec.ClusterIP, updated.Spec.ClusterIP);
        updated.Spec.ClusterIP = "10.96.255.254";
        updated.Spec.ClusterIPs = ["10.96.255.254"];
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.ReplaceNamespacedServiceAsync(updated, "cip", ns));
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "spec.clusterIPs[0]");
        Assert.Contains("may not change once set", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadServices => new()
    {
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":0}]}}""", "spec.ports[0].port" },
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":70000}]}}""", "spec.ports[0].port" },
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":80,"protocol":"XYZ"}]}}""", "spec.ports[0].protocol" },
        { """{"metadata":{"name":"bad"},"spec":{"type":"Magic","ports":[{"port":80}]}}""", "spec.type" },
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":80}],"externalIPs":["not-an-ip"]}}""", "spec.externalIPs[0]" },
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":80}],"externalIPs":["127.0.0.1"]}}""", "spec.externalIPs[0]" },
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":80,"name":"a"},{"port":81,"name":"a"}]}}""", "spec.ports[1].name" },
        { """{"metadata":{"name":"bad"},"spec":{"ports":[{"port":80},{"port":81}]}}""", "spec.ports[0].name" },
        { """{"metadata":{"name":"bad"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":80}]}}""", "spec.ports[0].nodePort" },
        { """{"metadata":{"name":"bad"},"spec":{}}""", "spec.ports" },
        { """{"metadata":{"name":"1bad"},"spec":{"ports":[{"port":80}]}}""", "metadata.name" },
    };

    [Theory]
    [MemberData(nameof(BadServices))]
    public async Task Service_Invalid_Is422WithTheFieldPath(string body, string field)
    {
        var ns = await Fixture.NewNamespaceAsync();
        var (code, text) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/services", body);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        var status = ClusterFixture.ParseStatus(text);
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
        Assert.Equal("Service", status["details"]!["kind"]!.GetValue<string>());
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == field);
        Assert.Contains(field, status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Service_TakenNodePort_Is422()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var first = await Client.CoreV1.CreateNamespacedServiceAsync(Service("np1", "NodePort"), ns);
        var second = Service("np2", "NodePort");
        second.Spec.Ports[0].NodePort = first.Spec.Ports[0].NodePort;
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.CreateNamespacedServiceAsync(second, ns));
        Assert.Contains("provided port is already allocated", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Service_DeletedFrees_ItsNodePort()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var first = await Client.CoreV1.CreateNamespacedServiceAsync(Service("free1", "NodePort"), ns);

        // Raw: v1.20 answers a Service deletion with a Status, later versions with the Service.
        var (code, _) = await SendRawAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}/services/free1");
        Assert.Equal(HttpStatusCode.OK, code);
        var again = Service("free2", "NodePort");
        again.Spec.Ports[0].NodePort = first.Spec.Ports[0].NodePort;
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(again, ns);
        Assert.Equal(first.Spec.Ports[0].NodePort, created.Spec.Ports[0].NodePort);
    }

    [Fact]
    public async Task Service_SeedExample_WithExternalIp_IsAccepted()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var svc = Service("frontend", "NodePort", 443);
        svc.Spec.ExternalIPs = ["203.0.113.1"];
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
        Assert.Equal(["203.0.113.1"], created.Spec.ExternalIPs);
    }
}
