using Extip.Testing.Fixtures;
using k8s;
using System.Net;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    [Fact]
    public async Task MalformedJson_Is400BadRequest()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var (code, body) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"x"},"data":""");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("BadRequest", ClusterFixture.ParseStatus(body)["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task WrongKind_Is400_NamingBothKinds()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var (code, body) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/services", """{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        var message = ClusterFixture.ParseStatus(body)["message"]!.GetValue<string>();
        Assert.StartsWith("Pod in version \"v1\" cannot be handled as a Service", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownResource_Is404()
    {
        var (code, body) = await SendRawAsync(HttpMethod.Get, "/api/v1/namespaces/default/nosuchthings");
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("NotFound", ClusterFixture.ParseStatus(body)["reason"]!.GetValue<string>());
        var (groupCode, _) = await SendRawAsync(HttpMethod.Get, "/apis/nosuch.example.com/v1/things");
        Assert.Equal(HttpStatusCode.NotFound, groupCode);
    }

    [Fact]
    public async Task Discovery_ListsCoreAndGroups()
    {
        var (code, body) = await SendRawAsync(HttpMethod.Get, "/api/v1");
        Assert.Equal(HttpStatusCode.OK, code);
        var resources = System.Text.Json.Nodes.JsonNode.Parse(body)!["resources"]!.AsArray();
        var svc = resources.Single(r => r!["name"]!.GetValue<string>() == "services")!;
        Assert.Equal("Service", svc["kind"]!.GetValue<string>());
        Assert.Contains("svc", svc["shortNames"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Contains(resources, r => r!["name"]!.GetValue<string>() == "services/status");
        var (gc, groups) = await SendRawAsync(HttpMethod.Get, "/apis");
        Assert.Equal(HttpStatusCode.OK, gc);
        var names = System.Text.Json.Nodes.JsonNode.Parse(groups)!["groups"]!.AsArray().Select(g => g!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("coordination.k8s.io", names);
        Assert.Contains("apiextensions.k8s.io", names);
        Assert.Contains("events.k8s.io", names);
    }

    [Fact]
    public async Task Table_ForServices_HasTheKubectlColumns()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var svc = Service("tbl", "NodePort", 443);
        svc.Spec.ExternalIPs = ["203.0.113.1"];
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(svc, ns);
        var (code, body) = await SendRawAsync(HttpMethod.Get, $"/api/v1/namespaces/{ns}/services", accept: "application/json;as=Table;v=v1;g=meta.k8s.io");
        Assert.Equal(HttpStatusCode.OK, code);
        var table = System.Text.Json.Nodes.JsonNode.Parse(body)!;
        Assert.Equal(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"], table["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        var cells = table["rows"]![0]!["cells"]!.AsArray().Select(c => c?.ToString()).ToList();
        Assert.Equal(["tbl", "NodePort", created.Spec.ClusterIP, "203.0.113.1", $"443:{created.Spec.Ports[0].NodePort}/TCP"], cells.Take(5));
        Assert.Equal("app=tbl", cells[6]);
    }
}
