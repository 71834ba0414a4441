using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Patching;

/// <summary>
/// A set of field paths in the FieldsV1 vocabulary of managedFields: <c>f:name</c> for a field,
/// <c>k:{"port":80,"protocol":"TCP"}</c> for an item of a keyed list, <c>v:"x"</c> for an item
/// of a set, and <c>.</c> for a map or list item itself. Paths are token lists joined by '\n'.
/// </summary>
public sealed class FieldSet
{
    private const char Sep = '\n';
    private readonly HashSet<string> _paths;

    private FieldSet(HashSet<string> paths) => _paths = paths;

    public static FieldSet From(IEnumerable<string> paths) => new(paths.ToHashSet(StringComparer.Ordinal));

    public static FieldSet Empty => new([]);

    public IReadOnlyCollection<string> Paths => _paths;

    public bool IsEmpty => _paths.Count == 0;

    public bool Contains(string path) => _paths.Contains(path);

    public FieldSet Union(FieldSet other) => new([.. _paths, .. other._paths]);

    public FieldSet Except(FieldSet other) => new(_paths.Where(p => !other._paths.Contains(p)).ToHashSet());

    public FieldSet Intersect(FieldSet other) => new(_paths.Where(other._paths.Contains).ToHashSet());

    /// <summary>Leaf paths: those that name a value, not a "." marker.</summary>
    public IEnumerable<string> Leaves => _paths.Where(p => !p.EndsWith(Sep + ".", StringComparison.Ordinal) && p != ".");

    /// <summary>The fields an object sets, skipping what the server owns (identity, versions, managedFields).</summary>
    public static FieldSet Of(JsonObject obj, MergeSchema schema, bool includeStatus, bool onlyStatus = false)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, v) in obj)
        {
            if (k is "apiVersion" or "kind")
            {
                continue;
            }

            if (onlyStatus && k != "status")
            {
                continue;
            }

            if (!includeStatus && k == "status")
            {
                continue;
            }

            if (k == "metadata" && v is JsonObject meta)
            {
                foreach (var (mk, mv) in meta)
                {
                    if (mk is "labels" or "annotations" or "finalizers" or "ownerReferences")
                    {
                        Walk(mv, $"f:metadata{Sep}f:{mk}", $"metadata.{mk}", schema, paths);
                    }
                }

                continue;
            }

            Walk(v, $"f:{k}", k, schema, paths);
        }

        return new FieldSet(paths);
    }

    private static void Walk(JsonNode? node, string tokens, string schemaPath, MergeSchema schema, HashSet<string> paths)
    {
        switch (node)
        {
            case JsonObject o:
                if (schema.IsMap(schemaPath) || schemaPath.EndsWith("[]", StringComparison.Ordinal) || o.Count == 0)
                {
                    paths.Add(tokens + Sep + ".");
                }

                foreach (var (k, v) in o)
                {
                    Walk(v, tokens + Sep + "f:" + k, MergeSchema.Child(schemaPath, k), schema, paths);
                }

                break;
            case JsonArray a:
                var rule = schema.ListAt(schemaPath);
                if (rule is null)
                {
                    paths.Add(tokens);
                    break;
                }

                paths.Add(tokens + Sep + ".");
                foreach (var item in a)
                {
                    if (rule.Set || item is not JsonObject io)
                    {
                        paths.Add(tokens + Sep + "v:" + item?.ToJsonString());
                        continue;
                    }

                    Walk(io, tokens + Sep + KeyToken(io, rule), MergeSchema.Item(schemaPath), schema, paths);
                }

                break;
            default:
                paths.Add(tokens);
                break;
        }
    }

    /// <summary>The <c>k:</c> token of a keyed list item, from its key fields in key order.</summary>
    public static string KeyToken(JsonObject item, ListRule rule)
    {
        var keyObj = new JsonObject();
        foreach (var k in rule.Keys.Count > 0 ? rule.Keys : [rule.MergeKey!])
        {
            keyObj[k] = item[k]?.DeepClone() ?? (k == "protocol" ? "TCP" : null);
        }

        return "k:" + keyObj.ToJsonString();
    }

    /// <summary>The value a path names inside an object, or null when absent.</summary>
    public static JsonNode? ValueAt(JsonObject obj, string path, MergeSchema schema)
    {
        JsonNode? n = obj;
        var schemaPath = string.Empty;
        foreach (var t in path.Split(Sep))
        {
            if (t == ".")
            {
                return n;
            }

            if (t.StartsWith("f:", StringComparison.Ordinal))
            {
                var f = t[2..];
                n = n is JsonObject o ? o[f] : null;
                schemaPath = MergeSchema.Child(schemaPath, f);
            }
            else if (t.StartsWith("k:", StringComparison.Ordinal))
            {
                var rule = schema.ListAt(schemaPath);
                n = n is JsonArray a && rule is not null
                    ? a.FirstOrDefault(i => i is JsonObject io && KeyToken(io, rule) == t)
                    : null;
                schemaPath = MergeSchema.Item(schemaPath);
            }
            else if (t.StartsWith("v:", StringComparison.Ordinal))
            {
                var want = t[2..];
                n = n is JsonArray a ? a.FirstOrDefault(i => i?.ToJsonString() == want) : null;
            }

            if (n is null)
            {
                return null;
            }
        }

        return n;
    }

    /// <summary>Removes what a path names from an object (a field, a keyed item, a set member).</summary>
    public static void RemoveAt(JsonObject obj, string path, MergeSchema schema)
    {
        var tokens = path.Split(Sep);
        if (tokens[^1] == ".")
        {
            tokens = tokens[..^1];
        }

        var parent = tokens.Length == 1 ? obj : ValueAt(obj, string.Join(Sep, tokens[..^1]), schema);
        if (parent is null)
        {
            return;
        }

        var parentPath = SchemaPathOf(tokens[..^1]);
        var last = tokens[^1];
        if (last.StartsWith("f:", StringComparison.Ordinal) && parent is JsonObject po)
        {
            po.Remove(last[2..]);
        }
        else if (last.StartsWith("k:", StringComparison.Ordinal) && parent is JsonArray pa && schema.ListAt(parentPath) is { } rule)
        {
            var hit = pa.FirstOrDefault(i => i is JsonObject io && KeyToken(io, rule) == last);
            if (hit is not null)
            {
                pa.Remove(hit);
            }
        }
        else if (last.StartsWith("v:", StringComparison.Ordinal) && parent is JsonArray sa)
        {
            var hit = sa.FirstOrDefault(i => i?.ToJsonString() == last[2..]);
            if (hit is not null)
            {
                sa.Remove(hit);
            }
        }
    }

    private static string SchemaPathOf(IEnumerable<string> tokens)
    {
        var path = string.Empty;
        foreach (var t in tokens)
        {
            path = t.StartsWith("f:", StringComparison.Ordinal) ? MergeSchema.Child(path, t[2..]) : MergeSchema.Item(path);
        }

        return path;
    }

    /// <summary>The FieldsV1 JSON tree of managedFields.</summary>
    public JsonObject ToFieldsV1()
    {
        var root = new JsonObject();
        foreach (var p in _paths.Order(StringComparer.Ordinal))
        {
            var node = root;
            foreach (var t in p.Split(Sep))
            {
                if (node[t] is not JsonObject child)
                {
                    child = new JsonObject();
                    node[t] = child;
                }

                node = child;
            }
        }

        return root;
    }

    public static FieldSet FromFieldsV1(JsonObject? fields)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        if (fields is not null)
        {
            Collect(fields, string.Empty, paths);
        }

        return new FieldSet(paths);
    }

    private static void Collect(JsonObject node, string prefix, HashSet<string> paths)
    {
        foreach (var (k, v) in node)
        {
            var p = prefix.Length == 0 ? k : prefix + Sep + k;
            if (v is JsonObject child && child.Count > 0)
            {
                Collect(child, p, paths);
            }
            else
            {
                paths.Add(p);
            }
        }
    }

    /// <summary>Readable form for conflict messages: <c>.spec.ports[port=80,protocol="TCP"].targetPort</c>.</summary>
    public static string Describe(string path)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var t in path.Split(Sep))
        {
            if (t.StartsWith("f:", StringComparison.Ordinal))
            {
                sb.Append('.').Append(t[2..]);
            }
            else if (t.StartsWith("k:", StringComparison.Ordinal))
            {
                var keys = JsonNode.Parse(t[2..]) as JsonObject;
                sb.Append('[').Append(string.Join(',', keys!.Select(kv => $"{kv.Key}={(kv.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.ToJsonString() : kv.Value?.ToJsonString())}"))).Append(']');
            }
            else if (t.StartsWith("v:", StringComparison.Ordinal))
            {
                sb.Append('[').Append(t[2..]).Append(']');
            }
        }

        return sb.ToString();
    }
}
