using Extip.Testing.Fixtures;
using System.Text.Json;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    /// <summary>A namespaced CRD with a status subresource, a schema, defaults and printer columns (one from a label whose key has a dot), unique per test.</summary>
    private async Task<(string Group, string Plural)> WidgetCrdAsync()
    {
        var group = $"w{Guid.NewGuid().ToString("N")[..8]}.example.com";
        var crd = $$$"""
        {
          "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
          "metadata": {"name": "widgets.{{{group}}}"},
          "spec": {
            "group": "{{{group}}}", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
              "name": "v1", "served": true, "storage": true,
              "subresources": {"status": {}},
              "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                {"name": "Tier", "type": "string", "jsonPath": ".metadata.labels.example\\.com/tier"}
              ],
              "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                  "spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
                  }},
                  "status": {"type": "object", "properties": {"ready": {"type": "boolean"} } }
                }
              }}
            }]
          }
        }
        """;
        await CreateCrdAsync(crd, group, "widgets");
        return (group, "widgets");
    }

    /// <summary>Creates the CRD and waits until its resource is served.</summary>
    private async Task CreateCrdAsync(string crd, string group, string plural)
    {
        var (code, body) = await SendRawAsync(HttpMethod.Post, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
        Assert.True(code == HttpStatusCode.Created, body);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var (c, _) = await SendRawAsync(HttpMethod.Get, $"/apis/{group}/v1/{plural}");
            if (c == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{plural}.{group} was not served within 30 s");
    }

    private static JsonObject Widget(string group, string name, string spec) =>
        JsonNode.Parse($"{{\"apiVersion\":\"{group}/v1\",\"kind\":\"Widget\",\"metadata\":{{\"name\":\"{name}\"}},\"spec\":{spec}}}")!.AsObject();

    [Fact]
    public async Task Crd_ServesItsResource_WithDefaultsAndGeneration()
    {
        var (group, plural) = await WidgetCrdAsync();
        var ns = await Fixture.NewNamespaceAsync();
        var created = JsonNode.Parse(((JsonElement)await Client.CustomObjects.CreateNamespacedCustomObjectAsync(Widget(group, "w1", """{"size":3}"""), group, "v1", ns, plural)).GetRawText())!;
        Assert.Equal("red", created["spec"]!["color"]!.GetValue<string>());
        Assert.Equal(1, created["metadata"]!["generation"]!.GetValue<long>());
        var patched = JsonNode.Parse(((JsonElement)await Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"size":4}}""", V1Patch.PatchType.MergePatch), group, "v1", ns, plural, "w1")).GetRawText())!;
        Assert.Equal(2, patched["metadata"]!["generation"]!.GetValue<long>());
        var status = JsonNode.Parse(((JsonElement)await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"status":{"ready":true}}""", V1Patch.PatchType.MergePatch), group, "v1", ns, plural, "w1")).GetRawText())!;
        Assert.True(status["status"]!["ready"]!.GetValue<bool>());
        Assert.Equal(2, status["metadata"]!["generation"]!.GetValue<long>());
    }

    [Fact]
    public async Task Crd_StatusIsIgnoredOnCreateAndMainUpdate_WithStatusSubresource()
    {
        var (group, plural) = await WidgetCrdAsync();
        var ns = await Fixture.NewNamespaceAsync();
        var w = Widget(group, "s", """{"size":1}""");
        w["status"] = new JsonObject { ["ready"] = true };
        var created = JsonNode.Parse(((JsonElement)await Client.CustomObjects.CreateNamespacedCustomObjectAsync(w, group, "v1", ns, plural)).GetRawText())!;
        Assert.Null(created["status"]);
    }

    public static TheoryData<string, string> BadWidgets => new()
    {
        { """{"size":"three"}""", "spec.size" },
        { """{"size":0}""", "spec.size" },
        { """{"size":11}""", "spec.size" },
        { """{"color":"red"}""", "spec.size" },
        { """{"size":1,"color":"green"}""", "spec.color" },
        { """{"size":1,"name":"toolongname"}""", "spec.name" },
        { """{"size":1,"name":"UPPER"}""", "spec.name" },
        { """{"size":1,"tags":["a","b","c"]}""", "spec.tags" },
    };

    [Theory]
    [MemberData(nameof(BadWidgets))]
    public async Task Crd_SchemaViolations_Are422WithTheFieldPath(string spec, string field)
    {
        var (group, plural) = await WidgetCrdAsync();
        var ns = await Fixture.NewNamespaceAsync();
        var (code, body) = await SendRawAsync(HttpMethod.Post, $"/apis/{group}/v1/namespaces/{ns}/{plural}", Widget(group, "bad", spec).ToJsonString());
        Assert.True(code == HttpStatusCode.UnprocessableEntity, body);
        var status = ClusterFixture.ParseStatus(body);
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
        Assert.StartsWith($"Widget.{group} \"bad\" is invalid", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == field);
    }

    [Fact]
    public async Task Crd_UnknownFields_ArePruned()
    {
        var (group, plural) = await WidgetCrdAsync();
        var ns = await Fixture.NewNamespaceAsync();
        var created = JsonNode.Parse(((JsonElement)await Client.CustomObjects.CreateNamespacedCustomObjectAsync(
            Widget(group, "p", """{"size":2,"bogus":"x"}"""), group, "v1", ns, plural)).GetRawText())!;
        Assert.Null(created["spec"]!["bogus"]);
    }

    [Fact]
    public async Task Crd_TableUsesPrinterColumns()
    {
        var (group, plural) = await WidgetCrdAsync();
        var ns = await Fixture.NewNamespaceAsync();
        var labelled = Widget(group, "t", """{"size":7,"color":"blue"}""");
        labelled["metadata"]!["labels"] = new JsonObject { ["example.com/tier"] = "gold" };
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(labelled, group, "v1", ns, plural);
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(Widget(group, "u", """{"size":1}"""), group, "v1", ns, plural);
        var (code, body) = await SendRawAsync(HttpMethod.Get, $"/apis/{group}/v1/namespaces/{ns}/{plural}", accept: "application/json;as=Table;v=v1;g=meta.k8s.io");
        Assert.Equal(HttpStatusCode.OK, code);
        var table = JsonNode.Parse(body)!;
        Assert.Equal("Table", table["kind"]!.GetValue<string>());
        Assert.Equal(["Name", "Size", "Color", "Tier"], table["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        var cells = table["rows"]![0]!["cells"]!.AsArray();
        Assert.Equal("t", cells[0]!.GetValue<string>());
        Assert.Equal(7, cells[1]!.GetValue<long>());
        Assert.Equal("blue", cells[2]!.GetValue<string>());

        // An escaped dot stays in the key (client-go's JSONPath); a missing label is an empty cell.
        Assert.Equal("gold", cells[3]!.GetValue<string>());
        var unlabelled = table["rows"]![1]!["cells"]!.AsArray();
        Assert.Equal("u", unlabelled[0]!.GetValue<string>());
        Assert.Null(unlabelled[3]);
    }

    [Fact]
    public async Task Crd_InvalidDefinition_Is422()
    {
        var (code, body) = await SendRawAsync(HttpMethod.Post, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", """
            {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"wrong.example.com"},
             "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"things","kind":"Thing"},
             "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}}}]}}
            """);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        var status = ClusterFixture.ParseStatus(body);
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "metadata.name");
    }

    [Fact]
    public async Task Crd_Deleted_StopsServingItsResource()
    {
        var (group, plural) = await WidgetCrdAsync();
        await Client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync($"{plural}.{group}");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var (c, _) = await SendRawAsync(HttpMethod.Get, $"/apis/{group}/v1/widgets");
            if (c == HttpStatusCode.NotFound)
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail("the resource was still served 60 s after its CRD was deleted");
    }
}
