using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Resources.Kinds;

namespace Extip.ApiServer.Schemas;

/// <summary>
/// OpenAPI v3 documents, one per group-version, as kubectl reads them: to learn that the server
/// validates fields itself (the fieldValidation parameter of each PATCH operation), to find list
/// rules for client-side apply, and for <c>kubectl explain</c>.
/// </summary>
public static class OpenApiV3
{
    public static JsonObject Root(ResourceRegistry registry)
    {
        var paths = new JsonObject();
        foreach (var (group, versions) in registry.Groups())
        {
            foreach (var v in versions)
            {
                var key = group.Length == 0 ? $"api/{v}" : $"apis/{group}/{v}";
                paths[key] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{key}?hash={Hash(registry, group, v)}" };
            }
        }

        return new JsonObject { ["paths"] = paths };
    }

    public static JsonObject? GroupVersion(ResourceRegistry registry, string group, string version)
    {
        var types = registry.All.Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0)
        {
            return null;
        }

        var schemas = JsonNode.Parse(BuiltinSchemas.Definitions.ToJsonString().Replace("#/definitions/", "#/components/schemas/", StringComparison.Ordinal))!.AsObject();
        var paths = new JsonObject();
        foreach (var t in types)
        {
            var schemaName = t.Definition ?? $"{ReverseGroup(t.Group)}.{t.Version}.{t.Kind}";
            if (t.Definition is null && t.Strategy is CustomResourceStrategy crs)
            {
                schemas[schemaName] = CustomSchema(t, crs);
            }

            if (schemas[schemaName] is JsonObject s)
            {
                s["x-kubernetes-group-version-kind"] = new JsonArray(Gvk(t));
            }

            var item = t.Namespaced ? $"{t.ApiPrefix}/namespaces/{{namespace}}/{t.Plural}/{{name}}" : $"{t.ApiPrefix}/{t.Plural}/{{name}}";
            var collection = item[..item.LastIndexOf('/')];
            var reference = new JsonObject { ["$ref"] = $"#/components/schemas/{schemaName}" };
            paths[collection] = new JsonObject
            {
                ["get"] = Operation(t, "list", reference, []),
                ["post"] = Operation(t, "create", reference, ["dryRun", "fieldManager", "fieldValidation"]),
            };
            paths[item] = new JsonObject
            {
                ["get"] = Operation(t, "get", reference, []),
                ["put"] = Operation(t, "update", reference, ["dryRun", "fieldManager", "fieldValidation"]),
                ["patch"] = Operation(t, "patch", reference, ["dryRun", "fieldManager", "fieldValidation", "force"]),
                ["delete"] = Operation(t, "delete", null, ["dryRun"]),
            };
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = "v1.32.0" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    private static JsonObject Operation(ResourceType t, string action, JsonObject? body, string[] queryParams)
    {
        var op = new JsonObject
        {
            ["operationId"] = $"{action}{t.Kind}",
            ["parameters"] = new JsonArray(queryParams.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p,
                ["in"] = "query",
                ["schema"] = new JsonObject { ["type"] = p == "force" ? "boolean" : "string", ["uniqueItems"] = true },
            }).ToArray()),
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "OK",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = body?.DeepClone() ?? new JsonObject() } },
                },
            },
            ["x-kubernetes-action"] = action,
            ["x-kubernetes-group-version-kind"] = Gvk(t),
        };
        if (body is not null && action is "create" or "update" or "patch")
        {
            op["requestBody"] = new JsonObject { ["content"] = new JsonObject { ["*/*"] = new JsonObject { ["schema"] = body.DeepClone() } } };
        }

        return op;
    }

    private static JsonObject Gvk(ResourceType t) => new() { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind };

    private static JsonObject CustomSchema(ResourceType t, CustomResourceStrategy crs)
    {
        var schema = (JsonObject?)crs.Schema?.Root.DeepClone() ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
        var props = schema["properties"] as JsonObject ?? new JsonObject();
        props["apiVersion"] = new JsonObject { ["type"] = "string" };
        props["kind"] = new JsonObject { ["type"] = "string" };
        props["metadata"] = new JsonObject { ["$ref"] = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" };
        schema["properties"] = props;
        return schema;
    }

    private static string ReverseGroup(string group) => string.Join('.', group.Split('.').Reverse());

    private static string Hash(ResourceRegistry registry, string group, string version)
    {
        var names = string.Join(",", registry.All.Where(t => t.Group == group && t.Version == version).Select(t => $"{t.Plural}:{t.Strategy.GetHashCode()}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(names)))[..16];
    }
}
