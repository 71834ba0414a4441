using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Tables;
using Extip.ApiServer.Validation;

namespace Extip.ApiServer.Resources.Kinds;

/// <summary>CustomResourceDefinitions: validated, given their status, and served as soon as stored.</summary>
public sealed class CrdStrategy : DefaultStrategy
{
    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
        Defaults(obj);
        obj["status"] = Status(obj);
    }

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old)
    {
        Defaults(obj);
        obj["status"] = Status(obj);
    }

    public override bool TracksGeneration => true;

    private static void Defaults(JsonObject obj)
    {
        var names = obj.Obj("spec").Obj("names");
        if (names.Str("kind") is { } kind)
        {
            names["singular"] ??= kind.ToLowerInvariant();
            names["listKind"] ??= kind + "List";
        }

        obj.Obj("spec")["conversion"] ??= new JsonObject { ["strategy"] = "None" };
    }

    private static JsonObject Status(JsonObject obj)
    {
        var now = JsonPath.Timestamp(DateTimeOffset.UtcNow);
        var storedVersions = new JsonArray((obj.At("spec", "versions") as JsonArray ?? []).OfType<JsonObject>()
            .Where(v => v["storage"]?.GetValue<bool>() == true).Select(v => (JsonNode?)v.Str("name")).ToArray());
        return new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("NamesAccepted", "NoConflicts", "no conflicts found", now),
                Condition("Established", "InitialNamesAccepted", "the initial names have been accepted", now)),
            ["acceptedNames"] = obj.At("spec", "names")?.DeepClone(),
            ["storedVersions"] = storedVersions,
        };
    }

    private static JsonObject Condition(string type, string reason, string message, string now) => new()
    {
        ["type"] = type,
        ["status"] = "True",
        ["lastTransitionTime"] = now,
        ["reason"] = reason,
        ["message"] = message,
    };

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        var spec = obj["spec"] as JsonObject ?? new JsonObject();
        var group = spec.Str("group") ?? string.Empty;
        var names = spec["names"] as JsonObject ?? new JsonObject();
        var plural = names.Str("plural") ?? string.Empty;
        var name = obj.Str("metadata", "name") ?? string.Empty;
        if (name != $"{plural}.{group}")
        {
            errors.Add(FieldError.Invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
        }

        if (group.Length == 0)
        {
            errors.Add(FieldError.Required("spec.group"));
        }
        else if (!group.Contains('.', StringComparison.Ordinal))
        {
            errors.Add(FieldError.Invalid("spec.group", group, "should be a domain with at least one dot"));
        }

        foreach (var field in new[] { "plural", "kind", "listKind", "singular" })
        {
            if (string.IsNullOrEmpty(names.Str(field)))
            {
                errors.Add(FieldError.Required($"spec.names.{field}"));
            }
            else if (field is "plural" or "singular" && NameRules.Dns1035Label($"spec.names.{field}", names.Str(field)!) is { } e)
            {
                errors.Add(e);
            }
        }

        var scope = spec.Str("scope");
        if (scope is not ("Namespaced" or "Cluster"))
        {
            errors.Add(FieldError.NotSupported("spec.scope", scope, ["Cluster", "Namespaced"]));
        }

        var versions = spec["versions"] as JsonArray ?? [];
        if (versions.Count == 0)
        {
            errors.Add(FieldError.Invalid("spec.versions", "[]", "must have exactly one version marked as storage version"));
        }
        else if (versions.OfType<JsonObject>().Count(v => v["storage"]?.GetValue<bool>() == true) != 1)
        {
            errors.Add(FieldError.Invalid("spec.versions", versions.ToJsonString(), "must have exactly one version marked as storage version"));
        }

        for (var i = 0; i < versions.Count; i++)
        {
            var v = versions[i] as JsonObject;
            if (string.IsNullOrEmpty(v?.Str("name")))
            {
                errors.Add(FieldError.Required($"spec.versions[{i}].name"));
            }

            if (v?.At("schema", "openAPIV3Schema") is not JsonObject schema)
            {
                errors.Add(FieldError.Required($"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"));
            }
            else if (schema.Str("type") != "object")
            {
                errors.Add(FieldError.Invalid($"spec.versions[{i}].schema.openAPIV3Schema.type", schema.Str("type") ?? string.Empty, "must be object at the root"));
            }
        }

        if (old is not null && old.At("spec", "group")?.ToString() != group)
        {
            errors.Add(FieldError.Invalid("spec.group", group, "field is immutable"));
        }

        return errors;
    }

    public override bool ObservesCommits => true;

    public override void Committed(ResourceContext ctx, JsonObject obj)
    {
        foreach (var t in CustomResources.TypesOf(obj))
        {
            ctx.Registry.Register(t);
            ctx.Store.EnsureBucket(t);
        }
    }

    public override void Deleted(ResourceContext ctx, JsonObject obj)
    {
        foreach (var t in CustomResources.TypesOf(obj))
        {
            ctx.Registry.Unregister(t.Group, t.Plural);
            ctx.Store.DropBucket(t);
        }
    }
}

/// <summary>Builds the served resource types of a CRD: one per served version.</summary>
public static class CustomResources
{
    public static IEnumerable<ResourceType> TypesOf(JsonObject crd)
    {
        var spec = crd.Obj("spec");
        var names = spec.Obj("names");
        var group = spec.Str("group")!;
        foreach (var v in (spec["versions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (v["served"]?.GetValue<bool>() == false)
            {
                continue;
            }

            var schema = v.At("schema", "openAPIV3Schema") as JsonObject;
            var hasStatus = v.At("subresources", "status") is not null;
            var columns = (v["additionalPrinterColumns"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            yield return new ResourceType
            {
                Group = group,
                Version = v.Str("name")!,
                Plural = names.Str("plural")!,
                Singular = names.Str("singular") ?? names.Str("kind")!.ToLowerInvariant(),
                Kind = names.Str("kind")!,
                Namespaced = spec.Str("scope") == "Namespaced",
                ShortNames = (names["shortNames"] as JsonArray ?? []).Select(n => n!.ToString()).ToList(),
                Categories = (names["categories"] as JsonArray ?? []).Select(n => n!.ToString()).ToList(),
                HasStatus = hasStatus,
                IsCustom = true,
                StorageName = $"{names.Str("plural")}.{group}",
                Strategy = new CustomResourceStrategy(schema is null ? null : new OpenApiSchema((JsonObject)schema.DeepClone()), hasStatus),
                Table = columns.Count == 0 ? CustomTable.Default : new CustomTable(columns),
                Merge = MergeSchema.None,
            };
        }
    }
}

public sealed class CustomResourceStrategy(OpenApiSchema? schema, bool hasStatus) : DefaultStrategy
{
    public OpenApiSchema? Schema => schema;

    public override bool TracksGeneration => true;

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
        if (hasStatus)
        {
            obj.Remove("status");
        }

        schema?.PruneAndDefault(obj);
    }

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old)
    {
        if (hasStatus)
        {
            obj.Remove("status");
            if (old["status"] is { } status)
            {
                obj["status"] = status.DeepClone();
            }
        }

        schema?.PruneAndDefault(obj);
    }

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            errors.Add(e);
        }

        if (schema is not null)
        {
            errors.AddRange(schema.Validate(obj));
        }

        return errors;
    }
}

/// <summary>A custom resource's table: Name, then its printer columns (or Age when it has none).</summary>
public sealed class CustomTable : ITableConvertor
{
    public static readonly CustomTable Default = new([]);

    private readonly List<(Column Column, string Path)> _columns;

    public CustomTable(IReadOnlyList<JsonObject> columns)
    {
        _columns = columns.Select(c => (new Column(c.Str("name") ?? string.Empty, c.Str("type") == "date" ? "string" : c.Str("type") ?? "string", c.Str("format") ?? string.Empty, c.Str("description") ?? string.Empty, (int)(c.Long("priority") ?? 0)), c.Str("jsonPath") ?? string.Empty)).ToList();
        Dates = columns.Select(c => c.Str("type") == "date").ToList();
        Columns = [TableColumns.Name, .. _columns.Select(c => c.Column)];
        if (_columns.Count == 0)
        {
            Columns = [TableColumns.Name, TableColumns.AgeColumn];
        }
    }

    private List<bool> Dates { get; }

    public IReadOnlyList<Column> Columns { get; }

    public JsonArray Cells(JsonObject obj, DateTimeOffset now)
    {
        var cells = new JsonArray(obj.Str("metadata", "name"));
        if (_columns.Count == 0)
        {
            cells.Add(TableColumns.Age(obj, now));
            return cells;
        }

        for (var i = 0; i < _columns.Count; i++)
        {
            var found = JsonPathQuery.Find(obj, _columns[i].Path);
            if (found.Count == 0)
            {
                cells.Add(null);
            }
            else if (Dates[i])
            {
                cells.Add(JsonPath.ParseTimestamp(found[0]?.ToString()) is { } t ? TableColumns.HumanDuration(now - t) : "<unknown>");
            }
            else if (found.Count == 1)
            {
                cells.Add(found[0]?.DeepClone());
            }
            else
            {
                cells.Add(string.Join(" ", found.Select(f => f?.ToString())));
            }
        }

        return cells;
    }
}
