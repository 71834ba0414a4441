using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

public sealed partial class ApiHandler
{
    private JsonObject VersionInfo()
    {
        var v = options.GitVersion.TrimStart('v').Split('.', '-');
        return new JsonObject
        {
            ["major"] = v.ElementAtOrDefault(0) ?? "1",
            ["minor"] = v.ElementAtOrDefault(1) ?? "0",
            ["gitVersion"] = options.GitVersion,
            ["gitCommit"] = "extip",
            ["gitTreeState"] = "clean",
            ["buildDate"] = "2026-01-01T00:00:00Z",
            ["goVersion"] = "go1.23.0",
            ["compiler"] = "gc",
            ["platform"] = "linux/amd64",
        };
    }

    private JsonObject ApiVersions() => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = options.Listen }),
    };

    private JsonObject ApiGroupList() => new()
    {
        ["kind"] = "APIGroupList",
        ["apiVersion"] = "v1",
        ["groups"] = new JsonArray(registry.Groups().Where(g => g.Group.Length > 0).Select(g => (JsonNode)Group(g.Group, g.Versions)).ToArray()),
    };

    private static JsonObject Group(string name, IReadOnlyList<string> versions) => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = name,
        ["versions"] = new JsonArray(versions.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{name}/{v}", ["version"] = v }).ToArray()),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{name}/{versions[0]}", ["version"] = versions[0] },
    };

    private async Task GroupAsync(HttpContext http, string group)
    {
        var g = registry.Groups().FirstOrDefault(x => x.Group == group);
        if (g.Group is null)
        {
            throw Errors.ResourceNotFound();
        }

        await WriteJsonAsync(http, 200, Group(g.Group, g.Versions));
    }

    private async Task ResourceListAsync(HttpContext http, string group, string version)
    {
        var types = registry.All.Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0)
        {
            throw Errors.ResourceNotFound();
        }

        var resources = new JsonArray();
        foreach (var t in types)
        {
            var r = new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray(t.Verbs.Select(v => (JsonNode)v).ToArray()),
            };
            if (t.ShortNames.Count > 0)
            {
                r["shortNames"] = new JsonArray(t.ShortNames.Select(s => (JsonNode)s).ToArray());
            }

            if (t.Categories.Count > 0)
            {
                r["categories"] = new JsonArray(t.Categories.Select(s => (JsonNode)s).ToArray());
            }

            r["storageVersionHash"] = StorageVersionHash(t);
            resources.Add(r);
            if (t.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = $"{t.Plural}/status",
                    ["singularName"] = string.Empty,
                    ["namespaced"] = t.Namespaced,
                    ["kind"] = t.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }

            if (IsTokenRequest(t))
            {
                resources.Add(new JsonObject
                {
                    ["name"] = $"{t.Plural}/token",
                    ["singularName"] = string.Empty,
                    ["namespaced"] = true,
                    ["group"] = "authentication.k8s.io",
                    ["version"] = "v1",
                    ["kind"] = "TokenRequest",
                    ["verbs"] = new JsonArray("create"),
                });
            }
        }

        await WriteJsonAsync(http, 200, new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        });
    }

    private static string StorageVersionHash(ResourceType t)
    {
        var bytes = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{t.Group}/{t.Version}/{t.Kind}"));
        return Convert.ToBase64String(bytes, 0, 8);
    }

    /// <summary>OpenAPI v2 (one document, JSON or gnostic protobuf, with an ETag) and v3 (root and one document per group-version).</summary>
    private async Task OpenApiAsync(HttpContext http, string[] segs)
    {
        if (segs is ["openapi", "v2"])
        {
            await OpenApiV2Async(http);
            return;
        }

        JsonObject? doc = segs switch
        {
            ["openapi", "v3"] => Schemas.OpenApiV3.Root(registry),
            ["openapi", "v3", "api", var v] => Schemas.OpenApiV3.GroupVersion(registry, string.Empty, v),
            ["openapi", "v3", "apis", var g, var v] => Schemas.OpenApiV3.GroupVersion(registry, g, v),
            _ => null,
        };
        await WriteJsonAsync(http, 200, doc ?? throw Errors.ResourceNotFound());
    }

    private async Task OpenApiV2Async(HttpContext http)
    {
        var doc = Schemas.OpenApiV2.Render(registry, options.GitVersion);
        http.Response.Headers.ETag = doc.ETag;
        http.Response.Headers.Vary = "Accept";
        if (http.Request.Headers.IfNoneMatch.ToString() == doc.ETag)
        {
            http.Response.StatusCode = 304;
            return;
        }

        // kubectl 1.20 asks for application/com.github.proto-openapi.spec.v2@v1.0+protobuf, later
        // ones for ...spec.v2.v1.0+protobuf; kube-apiserver answers both as octet-stream.
        var protobuf = http.Request.Headers.Accept.ToString().Contains("proto-openapi.spec.v2", StringComparison.Ordinal);
        var body = protobuf ? doc.Protobuf : doc.JsonBytes;
        http.Response.StatusCode = 200;
        http.Response.ContentType = protobuf ? "application/octet-stream" : "application/json";
        http.Response.ContentLength = body.Length;
        await http.Response.Body.WriteAsync(body);
    }
}
