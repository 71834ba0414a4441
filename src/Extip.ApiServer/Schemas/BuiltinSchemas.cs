using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Schemas;

/// <summary>
/// The structure of the built-in kinds (types, list and map rules), generated from a real
/// kube-apiserver's OpenAPI document by scripts/gen-builtin-schemas.py. It drives strict field
/// validation, strategic-merge and apply list rules, and the OpenAPI v3 documents kubectl reads.
/// </summary>
public static class BuiltinSchemas
{
    private static readonly Lazy<JsonObject> Document = new(() =>
    {
        using var s = typeof(BuiltinSchemas).Assembly.GetManifestResourceStream("builtin-schemas.json")
            ?? throw new InvalidOperationException("builtin-schemas.json is not embedded");
        return JsonNode.Parse(s)!.AsObject();
    });

    public static JsonObject Definitions => Document.Value["definitions"]!.AsObject();

    /// <summary>Definition name of a kind, e.g. io.k8s.api.core.v1.Service for ("", "v1", "Service").</summary>
    public static string? DefinitionOf(string group, string version, string kind) =>
        Document.Value["roots"]!.AsObject().FirstOrDefault(kv =>
            kv.Value!["group"]!.GetValue<string>() == group && kv.Value["version"]!.GetValue<string>() == version && kv.Value["kind"]!.GetValue<string>() == kind).Key;

    public static JsonObject? Definition(string name) => Definitions[name] as JsonObject;

    /// <summary>Follows a $ref to its definition.</summary>
    public static JsonObject Resolve(JsonObject schema)
    {
        var seen = 0;
        while (schema["$ref"] is JsonValue r && r.TryGetValue<string>(out var reference) && seen++ < 16)
        {
            schema = Definition(reference.Split('/')[^1]) ?? new JsonObject();
        }

        return schema;
    }

    /// <summary>The list and map rules under a definition, by path (spec.ports, spec.containers[].env, metadata.labels).</summary>
    public static MergeSchema MergeFor(string definition)
    {
        var lists = new Dictionary<string, ListRule>(StringComparer.Ordinal);
        var maps = new HashSet<string>(StringComparer.Ordinal);
        Walk(Definition(definition)!, string.Empty, lists, maps, [], 0);
        return new MergeSchema(lists, maps);
    }

    private static void Walk(JsonObject schema, string path, Dictionary<string, ListRule> lists, HashSet<string> maps, HashSet<string> stack, int depth)
    {
        var refName = (schema["$ref"] as JsonValue)?.GetValue<string>()?.Split('/')[^1];
        if (refName is not null && (!stack.Add(refName) || depth > 14))
        {
            return;
        }

        var s = Resolve(schema);
        if (s["properties"] is JsonObject props)
        {
            foreach (var (name, child) in props)
            {
                if (child is not JsonObject c)
                {
                    continue;
                }

                var childPath = MergeSchema.Child(path, name);
                var rc = Resolve(c);
                if (rc["type"]?.GetValue<string>() == "array")
                {
                    var items = rc["items"] as JsonObject;
                    var primitive = items is not null && Resolve(items)["type"]?.GetValue<string>() is "string" or "integer" or "number" or "boolean";
                    var mergeKey = rc["x-kubernetes-patch-merge-key"]?.GetValue<string>();
                    var keys = (rc["x-kubernetes-list-map-keys"] as JsonArray)?.Select(k => k!.GetValue<string>()).ToList();
                    var listType = rc["x-kubernetes-list-type"]?.GetValue<string>();
                    var strategy = rc["x-kubernetes-patch-strategy"]?.GetValue<string>() ?? string.Empty;
                    if (primitive && (listType == "set" || strategy.Contains("merge", StringComparison.Ordinal)))
                    {
                        lists[childPath] = ListRule.PrimitiveSet;
                    }
                    else if (mergeKey is not null || keys is not null)
                    {
                        lists[childPath] = new ListRule(strategy.Contains("merge", StringComparison.Ordinal) ? mergeKey : null, keys ?? [mergeKey!]);
                    }

                    if (items is not null && !primitive)
                    {
                        Walk(items, MergeSchema.Item(childPath), lists, maps, stack, depth + 1);
                    }
                }
                else if (rc["additionalProperties"] is not null && rc["properties"] is null)
                {
                    maps.Add(childPath);
                }
                else
                {
                    Walk(c, childPath, lists, maps, stack, depth + 1);
                }
            }
        }

        if (refName is not null)
        {
            stack.Remove(refName);
        }
    }

    /// <summary>
    /// Removes fields the schema does not know, returning their paths (for strict validation's
    /// "unknown field" errors and the Warning headers of the default mode).
    /// </summary>
    public static List<string> PruneUnknown(JsonObject obj, string definition)
    {
        var unknown = new List<string>();
        Prune(obj, Definition(definition)!, string.Empty, unknown, 0);
        return unknown;
    }

    private static void Prune(JsonNode? node, JsonObject schema, string path, List<string> unknown, int depth)
    {
        if (depth > 40)
        {
            return;
        }

        var s = Resolve(schema);
        if (s["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true)
        {
            return;
        }

        switch (node)
        {
            case JsonObject o when s["properties"] is JsonObject props:
                foreach (var key in o.Select(kv => kv.Key).ToList())
                {
                    var childPath = path.Length == 0 ? key : $"{path}.{key}";
                    if (props[key] is JsonObject child)
                    {
                        Prune(o[key], child, childPath, unknown, depth + 1);
                    }
                    else if (!(path.Length == 0 && key is "apiVersion" or "kind"))
                    {
                        unknown.Add(childPath);
                        o.Remove(key);
                    }
                }

                break;
            case JsonObject o when s["additionalProperties"] is JsonObject ap:
                foreach (var (key, value) in o.ToList())
                {
                    Prune(value, ap, $"{path}.{key}", unknown, depth + 1);
                }

                break;
            case JsonArray a when s["items"] is JsonObject items:
                for (var i = 0; i < a.Count; i++)
                {
                    Prune(a[i], items, $"{path}[{i}]", unknown, depth + 1);
                }

                break;
        }
    }
}
