using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Extip.ApiServer.Protobuf;
using Extip.Testing.Fixtures;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// /openapi/v2, as kubectl up to 1.2x reads it: in gnostic's protobuf for validation, explain and
/// strategic-merge patches. Debian's kubectl 1.20 (what apt gives a Debian 12 user) drives it.
/// </summary>
public abstract partial class ConformanceTests<TFixture>
{
    private const string OpenApiPb = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

    private static readonly Lazy<MessageDescriptor> GnosticDocument = new(() =>
    {
        using var s = typeof(KubeProtobuf).Assembly.GetManifestResourceStream("openapiv2.protoset")!;
        var files = FileDescriptor.BuildFromByteStrings(FileDescriptorSet.Parser.ParseFrom(s).File.Select(f => f.ToByteString()));
        return files.Single(f => f.Package == "openapi.v2").MessageTypes.Single(m => m.Name == "Document");
    });

    [Fact]
    public async Task OpenApiV2_InProtobuf_NamesEachKindsDefinition_AsKubectlReadsIt()
    {
        var (code, body, _) = await SendBytesAsync(HttpMethod.Get, "/openapi/v2", null, "application/json", OpenApiPb);
        Assert.Equal(HttpStatusCode.OK, code);
        var doc = ProtoJson.Decode(GnosticDocument.Value, body);
        Assert.Equal("2.0", doc["swagger"]!.GetValue<string>());
        var defs = doc["definitions"]!["additional_properties"]!.AsArray().ToDictionary(d => d!["name"]!.GetValue<string>(), d => d!["value"]!.AsObject());
        var service = defs["io.k8s.api.core.v1.Service"];
        var gvk = service["vendor_extension"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "x-kubernetes-group-version-kind");
        Assert.Contains("Service", gvk!["value"]!["yaml"]!.GetValue<string>(), StringComparison.Ordinal);
        var props = service["properties"]!["additional_properties"]!.AsArray().ToDictionary(p => p!["name"]!.GetValue<string>(), p => p!["value"]!.AsObject());
        Assert.Equal("#/definitions/io.k8s.api.core.v1.ServiceSpec", props["spec"]["_ref"]!.GetValue<string>());
        var ports = defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]!["additional_properties"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "ports")!["value"]!;
        Assert.Equal("array", ports["type"]!["value"]![0]!.GetValue<string>());
        Assert.Contains(ports["vendor_extension"]!.AsArray(), e => e!["name"]!.GetValue<string>() == "x-kubernetes-patch-merge-key");
        Assert.True(defs.ContainsKey("io.k8s.api.apps.v1.Deployment"));
    }

    [Fact]
    public async Task OpenApiV2_AsJson_HasAnETag_AndA304ForIt()
    {
        var (url, auth) = Raw();
        using var req = new HttpRequestMessage(HttpMethod.Get, url + "/openapi/v2");
        req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        auth(req);
        using var res = await RawClient.SendAsync(req);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var etag = res.Headers.ETag;
        Assert.NotNull(etag);
        var doc = JsonNode.Parse(await res.Content.ReadAsStringAsync())!;
        Assert.Equal("2.0", doc["swagger"]!.GetValue<string>());
        Assert.Contains(doc["definitions"]!["io.k8s.api.core.v1.ConfigMap"]!["x-kubernetes-group-version-kind"]!.AsArray(), g => g!["kind"]!.GetValue<string>() == "ConfigMap");

        using var again = new HttpRequestMessage(HttpMethod.Get, url + "/openapi/v2");
        again.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        again.Headers.IfNoneMatch.Add(etag);
        auth(again);
        using var notModified = await RawClient.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task Kubectl120_AppliesValidatesAndExplains()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var k = ClusterFixture.Kubectl120;
        var good = await Fixture.KubectlAsync($"-n {ns} apply -f -", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: lab}\n", kubectl: k);
        Assert.True(good.Exit == 0, good.Err + good.Out);
        Assert.Contains("configmap/settings created", good.Out, StringComparison.Ordinal);
        var changed = await Fixture.KubectlAsync($"-n {ns} apply -f -", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: prod}\n", kubectl: k);
        Assert.Contains("configmap/settings configured", changed.Out, StringComparison.Ordinal);

        // kubectl 1.20 validates on the client, against the server's OpenAPI v2.
        var typo = await Fixture.KubectlAsync($"-n {ns} apply -f -", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndta: {mode: lab}\n", kubectl: k);
        Assert.NotEqual(0, typo.Exit);
        Assert.Contains("unknown field \"dta\" in io.k8s.api.core.v1.ConfigMap", typo.Err, StringComparison.Ordinal);

        var explain = await Fixture.KubectlAsync("explain service.spec.sessionAffinity", kubectl: k);
        Assert.True(explain.Exit == 0, explain.Err + explain.Out);
        Assert.Contains("FIELD:    sessionAffinity <string>", explain.Out, StringComparison.Ordinal);
        Assert.Contains("ClientIP", explain.Out, StringComparison.Ordinal);

        var deploy = await Fixture.KubectlAsync($"-n {ns} create deployment web --image=registry.example/web:1", kubectl: k);
        Assert.True(deploy.Exit == 0, deploy.Err + deploy.Out);
        var table = await Fixture.KubectlAsync($"-n {ns} get deploy web", kubectl: k);
        Assert.Matches(@"(?m)^web\s+0/1\s+0\s+0\s+\d+s", table.Out);
    }
}
