using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Patching;

/// <summary>
/// Field ownership (metadata.managedFields) and server-side apply. Every write records which
/// manager set which fields; an apply merges the applied configuration, removes fields its
/// manager applied before and no longer does, and refuses (409) to change a field another
/// manager owns unless forced.
/// </summary>
public static class ManagedFields
{
    private sealed class Entry
    {
        public required string Manager { get; init; }

        public required string Operation { get; init; }

        public string? Subresource { get; init; }

        public required string ApiVersion { get; set; }

        public string? Time { get; set; }

        public FieldSet Fields { get; set; } = FieldSet.Empty;

        public bool Same(string manager, string op, string? sub) => Manager == manager && Operation == op && Subresource == sub;
    }

    /// <summary>Records an Update (create, PUT, or a non-apply PATCH) by <paramref name="manager"/>.</summary>
    public static void RecordUpdate(JsonObject obj, JsonObject? old, string manager, ResourceType type, string? subresource, DateTimeOffset now)
    {
        var onlyStatus = subresource == "status";
        var includeStatus = onlyStatus || !type.HasStatus;
        var entries = Read(old ?? obj);
        var newSet = FieldSet.Of(obj, type.Merge, includeStatus, onlyStatus);
        var oldSet = old is null ? FieldSet.Empty : FieldSet.Of(old, type.Merge, includeStatus, onlyStatus);
        var changed = old is null
            ? newSet.Paths.ToHashSet()
            : newSet.Paths.Where(p => !oldSet.Contains(p) || !FieldSet.ValueAt(obj, p, type.Merge).SameAs(FieldSet.ValueAt(old, p, type.Merge))).ToHashSet();

        // A create changes every field it sets: the changed set is the new set itself.
        var changedSet = old is null ? newSet : FieldSetOf(changed);
        var removed = oldSet.Except(newSet);
        var taken = old is null ? newSet : changedSet.Union(removed);
        foreach (var e in entries)
        {
            e.Fields = e.Fields.Except(taken);
        }

        var mine = entries.FirstOrDefault(e => e.Same(manager, "Update", subresource));
        if (changed.Count > 0)
        {
            if (mine is null)
            {
                mine = new Entry { Manager = manager, Operation = "Update", Subresource = subresource, ApiVersion = type.GroupVersion };
                entries.Add(mine);
            }

            mine.Fields = mine.Fields.Union(changedSet);
            mine.Time = JsonPath.Timestamp(now);
            mine.ApiVersion = type.GroupVersion;
        }

        Write(obj, entries);
    }

    /// <summary>
    /// Server-side apply of <paramref name="config"/> onto <paramref name="current"/> (null when
    /// the object does not exist yet). Returns the merged object with its managedFields.
    /// </summary>
    public static JsonObject Apply(JsonObject? current, JsonObject config, string manager, bool force, ResourceType type, DateTimeOffset now)
    {
        var applied = FieldSet.Of(config, type.Merge, includeStatus: !type.HasStatus);
        var entries = current is null ? [] : Read(current);
        var result = current is null ? new JsonObject() : (JsonObject)current.DeepClone();
        if (current is not null)
        {
            var conflicts = new List<(string Path, string Manager, string ApiVersion)>();
            foreach (var leaf in applied.Leaves)
            {
                var differs = !FieldSet.ValueAt(current, leaf, type.Merge).SameAs(FieldSet.ValueAt(config, leaf, type.Merge));
                if (!differs)
                {
                    continue;
                }

                foreach (var e in entries.Where(e => !e.Same(manager, "Apply", null) && e.Fields.Contains(leaf)))
                {
                    conflicts.Add((leaf, e.Manager, e.ApiVersion));
                }
            }

            if (conflicts.Count > 0 && !force)
            {
                var causes = conflicts.Select(c => new FieldError(FieldSet.Describe(c.Path), "FieldManagerConflict", $"conflict with \"{c.Manager}\" using {c.ApiVersion}")).ToList();
                var msg = conflicts.Count == 1
                    ? $"Apply failed with 1 conflict: conflict with \"{conflicts[0].Manager}\" using {conflicts[0].ApiVersion}: {FieldSet.Describe(conflicts[0].Path)}"
                    : $"Apply failed with {conflicts.Count} conflicts: {string.Join("\n", conflicts.Select(c => $"conflict with \"{c.Manager}\" using {c.ApiVersion}: {FieldSet.Describe(c.Path)}"))}";
                throw new ApiException(409, "Conflict", msg, config.Str("metadata", "name"), type.Group, type.Plural, causes);
            }

            var forced = FieldSetOf(conflicts.Select(c => c.Path));
            foreach (var e in entries)
            {
                e.Fields = e.Fields.Except(forced);
            }
        }

        Merge(result, config, type.Merge, string.Empty);
        var mine = entries.FirstOrDefault(e => e.Same(manager, "Apply", null));
        if (mine is not null)
        {
            foreach (var gone in mine.Fields.Except(applied).Paths.OrderByDescending(p => p.Length))
            {
                if (!entries.Any(e => e != mine && e.Fields.Contains(gone)))
                {
                    FieldSet.RemoveAt(result, gone, type.Merge);
                }
            }
        }
        else
        {
            mine = new Entry { Manager = manager, Operation = "Apply", ApiVersion = type.GroupVersion };
            entries.Add(mine);
        }

        mine.Fields = applied;
        mine.Time = JsonPath.Timestamp(now);
        mine.ApiVersion = type.GroupVersion;
        Write(result, entries);
        return result;
    }

    /// <summary>Merges an applied configuration: keyed lists item by item, sets as sets, other lists replaced.</summary>
    private static void Merge(JsonObject target, JsonObject config, MergeSchema schema, string path)
    {
        foreach (var (k, v) in config)
        {
            var childPath = path.Length == 0 && k is "apiVersion" or "kind" ? k : MergeSchema.Child(path, k);
            if (v is null)
            {
                target.Remove(k);
                continue;
            }

            if (v is JsonObject vo && target[k] is JsonObject to)
            {
                Merge(to, vo, schema, childPath);
                continue;
            }

            if (v is JsonArray va && target[k] is JsonArray ta && schema.ListAt(childPath) is { } rule)
            {
                var items = ta.Select(i => i?.DeepClone()).ToList();
                foreach (var item in va)
                {
                    if (rule.Set || item is not JsonObject io)
                    {
                        if (!items.Any(x => JsonNode.DeepEquals(x, item)))
                        {
                            items.Add(item?.DeepClone());
                        }

                        continue;
                    }

                    var token = FieldSet.KeyToken(io, rule);
                    var at = items.FindIndex(x => x is JsonObject xo && FieldSet.KeyToken(xo, rule) == token);
                    if (at >= 0)
                    {
                        Merge((JsonObject)items[at]!, io, schema, MergeSchema.Item(childPath));
                    }
                    else
                    {
                        items.Add(io.DeepClone());
                    }
                }

                target[k] = new JsonArray(items.ToArray());
                continue;
            }

            target[k] = v.DeepClone();
        }
    }

    private static FieldSet FieldSetOf(IEnumerable<string> paths) => FieldSet.From(paths);

    private static List<Entry> Read(JsonObject obj)
    {
        var list = new List<Entry>();
        if (obj.At("metadata", "managedFields") is not JsonArray mf)
        {
            return list;
        }

        foreach (var n in mf.OfType<JsonObject>())
        {
            list.Add(new Entry
            {
                Manager = n.Str("manager") ?? string.Empty,
                Operation = n.Str("operation") ?? "Update",
                Subresource = n.Str("subresource"),
                ApiVersion = n.Str("apiVersion") ?? string.Empty,
                Time = n.Str("time"),
                Fields = FieldSet.FromFieldsV1(n["fieldsV1"] as JsonObject),
            });
        }

        return list;
    }

    private static void Write(JsonObject obj, List<Entry> entries)
    {
        var arr = new JsonArray();
        foreach (var e in entries.Where(e => !e.Fields.IsEmpty))
        {
            var n = new JsonObject
            {
                ["manager"] = e.Manager,
                ["operation"] = e.Operation,
                ["apiVersion"] = e.ApiVersion,
            };
            if (e.Time is not null)
            {
                n["time"] = e.Time;
            }

            n["fieldsType"] = "FieldsV1";
            n["fieldsV1"] = e.Fields.ToFieldsV1();
            if (e.Subresource is not null)
            {
                n["subresource"] = e.Subresource;
            }

            arr.Add(n);
        }

        var meta = obj.Meta();
        if (arr.Count > 0)
        {
            meta["managedFields"] = arr;
        }
        else
        {
            meta.Remove("managedFields");
        }
    }
}
