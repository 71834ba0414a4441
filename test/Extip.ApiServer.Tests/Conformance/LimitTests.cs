using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Extip.Testing.Fixtures;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// Issue 12, limits with kube-apiserver's codes and messages: a body over 3 MiB and an object
/// over etcd's 1.5 MiB get 413, a YAML body whose aliases expand without bound gets 400.
/// </summary>
public abstract partial class ConformanceTests<TFixture>
{
    private static string ConfigMapJson(string name, int dataBytes) =>
        new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = name },
            ["data"] = new JsonObject { ["blob"] = new string('x', dataBytes) },
        }.ToJsonString();

    [Fact]
    public async Task Limits_BodyOver3MiB_Is413()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var (code, body) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps", ConfigMapJson("huge", (3 * 1024 * 1024) + 1024));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, code);
        var status = ClusterFixture.ParseStatus(body);
        Assert.Equal(("RequestEntityTooLarge", "Request entity too large: limit is 3145728", 413),
            (status["reason"]!.GetValue<string>(), status["message"]!.GetValue<string>(), status["code"]!.GetValue<int>()));
    }

    /// <summary>A namespaced CRD whose spec keeps anything: only etcd's limit bounds its objects (built-in kinds have their own, lower ones).</summary>
    private async Task<string> BlobCrdAsync()
    {
        var group = $"b{Guid.NewGuid().ToString("N")[..8]}.example.com";
        var crd = $$$"""
        {
          "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
          "metadata": {"name": "blobs.{{{group}}}"},
          "spec": {
            "group": "{{{group}}}", "scope": "Namespaced",
            "names": {"plural": "blobs", "singular": "blob", "kind": "Blob"},
            "versions": [{"name": "v1", "served": true, "storage": true,
              "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true} } } } }]
          }
        }
        """;
        await CreateCrdAsync(crd, group, "blobs");
        return group;
    }

    private static string BlobJson(string group, string name, int bytes) =>
        new JsonObject
        {
            ["apiVersion"] = $"{group}/v1",
            ["kind"] = "Blob",
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = new JsonObject { ["data"] = new string('x', bytes) },
        }.ToJsonString();

    [Fact]
    public async Task Limits_ObjectOverEtcds1_5MiB_Is413_AndNothingIsStored()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var group = await BlobCrdAsync();
        // Over etcd's 1.5 MiB, under its client's 2 MiB.
        var (code, body) = await SendRawAsync(HttpMethod.Post, $"/apis/{group}/v1/namespaces/{ns}/blobs", BlobJson(group, "big", 1_800_000));
        var status = ClusterFixture.ParseStatus(body);
        if (Fixture.IsReal)
        {
            // v1.20 passes etcd's refusal on as a 500; later versions answer 413, as the embedded server does.
            Assert.True(code == HttpStatusCode.InternalServerError, body);
            Assert.Equal("etcdserver: request is too large", status["message"]!.GetValue<string>());
        }
        else
        {
            Assert.True(code == HttpStatusCode.RequestEntityTooLarge, body);
            Assert.Equal("RequestEntityTooLarge", status["reason"]!.GetValue<string>());
            Assert.StartsWith("Request entity too large: etcdserver: request is too large", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        var (get, _) = await SendRawAsync(HttpMethod.Get, $"/apis/{group}/v1/namespaces/{ns}/blobs/big");
        Assert.Equal(HttpStatusCode.NotFound, get);

        // Well under the limit goes in.
        var (ok, _) = await SendRawAsync(HttpMethod.Post, $"/apis/{group}/v1/namespaces/{ns}/blobs", BlobJson(group, "fits", 1024 * 1024));
        Assert.Equal(HttpStatusCode.Created, ok);
    }

    [Fact]
    public async Task Limits_YamlAliasBomb_Is400()
    {
        var ns = await Fixture.NewNamespaceAsync();

        // 493-ish bytes that expand to 9^9 strings.
        var yaml = new StringBuilder("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  annotations:\n    a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
        var prev = 'a';
        for (var c = 'b'; c <= 'i'; c++)
        {
            yaml.Append(CultureInfo($"    {c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = c;
        }

        var (code, body) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps", yaml.ToString(), "application/yaml");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Contains("excessive aliasing", ClusterFixture.ParseStatus(body)["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // Aliases used modestly are fine.
        var modest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchors\n  labels: &l {app: web}\n  annotations: *l\n";
        var (created, _) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps", modest, "application/yaml");
        Assert.Equal(HttpStatusCode.Created, created);
    }

    private static string CultureInfo(FormattableString s) => s.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
