using System.Text.Json.Nodes;
using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Patching;

/// <summary>
/// Strategic merge patch, as <c>kubectl apply</c> and <c>kubectl patch</c> send it for built-in
/// kinds: like a merge patch, but lists with a merge key merge item by item, primitive sets
/// merge as sets, and the directives <c>$patch</c>, <c>$retainKeys</c>,
/// <c>$setElementOrder/…</c> and <c>$deleteFromPrimitiveList/…</c> are honoured.
/// </summary>
public static class StrategicMergePatch
{
    private const string SetOrder = "$setElementOrder/";
    private const string DeleteFromList = "$deleteFromPrimitiveList/";

    public static JsonObject Apply(JsonObject target, JsonObject patch, MergeSchema schema) =>
        MergeObject(target, patch, schema, string.Empty) ?? new JsonObject();

    private static JsonObject? MergeObject(JsonObject? target, JsonObject patch, MergeSchema schema, string path)
    {
        var directive = patch["$patch"]?.GetValue<string>();
        if (directive == "replace")
        {
            var replaced = patch.DeepClone().AsObject();
            replaced.Remove("$patch");
            return replaced;
        }

        if (directive == "delete")
        {
            return null;
        }

        var result = target ?? new JsonObject();
        if (patch["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(k => k?.GetValue<string>()).ToHashSet();
            foreach (var k in result.Select(kv => kv.Key).Where(k => !keep.Contains(k)).ToList())
            {
                result.Remove(k);
            }
        }

        var orders = new Dictionary<string, JsonArray>(StringComparer.Ordinal);
        foreach (var (key, value) in patch)
        {
            if (key is "$patch" or "$retainKeys")
            {
                continue;
            }

            if (key.StartsWith(SetOrder, StringComparison.Ordinal))
            {
                if (value is JsonArray order)
                {
                    orders[key[SetOrder.Length..]] = order;
                }

                continue;
            }

            if (key.StartsWith(DeleteFromList, StringComparison.Ordinal))
            {
                var field = key[DeleteFromList.Length..];
                if (result[field] is JsonArray list && value is JsonArray remove)
                {
                    foreach (var r in remove)
                    {
                        var hit = list.FirstOrDefault(x => JsonNode.DeepEquals(x, r));
                        if (hit is not null)
                        {
                            list.Remove(hit);
                        }
                    }
                }

                continue;
            }

            var childPath = MergeSchema.Child(path, key);
            switch (value)
            {
                case null:
                    result.Remove(key);
                    break;
                case JsonObject po:
                    var merged = MergeObject(result[key] as JsonObject is { } existing ? (JsonObject)existing.DeepClone() : null, po, schema, childPath);
                    if (merged is null)
                    {
                        result.Remove(key);
                    }
                    else
                    {
                        result[key] = merged;
                    }

                    break;
                case JsonArray pa:
                    result[key] = MergeList(result[key] as JsonArray, pa, schema.ListAt(childPath), schema, childPath);
                    break;
                default:
                    result[key] = value.DeepClone();
                    break;
            }
        }

        foreach (var (field, order) in orders)
        {
            if (result[field] is JsonArray list)
            {
                result[field] = Reorder(list, order, schema.ListAt(MergeSchema.Child(path, field)));
            }
        }

        return result;
    }

    private static JsonArray MergeList(JsonArray? target, JsonArray patch, ListRule? rule, MergeSchema schema, string path)
    {
        if (rule is { Set: true })
        {
            // The patch's items first, then the original's others: the order the real server produces.
            var set = new List<JsonNode?>();
            foreach (var p in patch.Concat(target ?? []))
            {
                if (!set.Any(x => JsonNode.DeepEquals(x, p)))
                {
                    set.Add(p?.DeepClone());
                }
            }

            return new JsonArray(set.ToArray());
        }

        if (rule?.MergeKey is not { } mergeKey)
        {
            // Atomic list: the patch replaces it, minus any directive items.
            return new JsonArray(patch.Where(p => p is not JsonObject o || o["$patch"] is null).Select(p => p?.DeepClone()).ToArray());
        }

        if (patch.Count == 1 && patch[0] is JsonObject only && only["$patch"]?.GetValue<string>() == "replace")
        {
            return new JsonArray();
        }

        var items = target?.Select(x => x?.DeepClone()).ToList() ?? [];
        foreach (var p in patch)
        {
            if (p is not JsonObject po)
            {
                items.Add(p?.DeepClone());
                continue;
            }

            var key = po[mergeKey];
            var index = items.FindIndex(x => x is JsonObject xo && JsonNode.DeepEquals(xo[mergeKey], key));
            if (po["$patch"]?.GetValue<string>() == "delete")
            {
                if (index >= 0)
                {
                    items.RemoveAt(index);
                }

                continue;
            }

            if (index >= 0)
            {
                items[index] = MergeObject((JsonObject)items[index]!, po, schema, MergeSchema.Item(path));
            }
            else
            {
                var added = po.DeepClone().AsObject();
                added.Remove("$patch");
                items.Add(added);
            }
        }

        return new JsonArray(items.Where(i => i is not null).ToArray());
    }

    /// <summary>Orders the list as <c>$setElementOrder</c> says; items it does not name keep their place after.</summary>
    private static JsonArray Reorder(JsonArray list, JsonArray order, ListRule? rule)
    {
        var items = list.Select(x => x?.DeepClone()).ToList();
        var sorted = new List<JsonNode?>();
        foreach (var o in order)
        {
            var match = rule?.MergeKey is { } mk && o is JsonObject oo
                ? items.FirstOrDefault(x => x is JsonObject xo && JsonNode.DeepEquals(xo[mk], oo[mk]))
                : items.FirstOrDefault(x => JsonNode.DeepEquals(x, o));
            if (match is not null)
            {
                sorted.Add(match);
                items.Remove(match);
            }
        }

        sorted.AddRange(items);
        return new JsonArray(sorted.ToArray());
    }
}
