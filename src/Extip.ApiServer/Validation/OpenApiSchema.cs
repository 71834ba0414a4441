using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Extip.ApiServer.Http;

namespace Extip.ApiServer.Validation;

/// <summary>
/// A CRD's structural <c>openAPIV3Schema</c>: prunes unknown fields (unless
/// <c>x-kubernetes-preserve-unknown-fields</c>), applies defaults, and validates types, required
/// fields, enums, bounds, lengths and patterns with the real server's messages.
/// </summary>
public sealed class OpenApiSchema(JsonObject root)
{
    public JsonObject Root { get; } = root;

    /// <summary>Prunes and defaults in place; never touches apiVersion, kind or metadata.</summary>
    public void PruneAndDefault(JsonObject obj, List<string>? pruned = null)
    {
        foreach (var key in obj.Select(kv => kv.Key).ToList())
        {
            if (key is "apiVersion" or "kind" or "metadata")
            {
                continue;
            }

            if (Properties(Root)?[key] is JsonObject child)
            {
                var value = Apply(obj[key], child, key, pruned);
                if (!ReferenceEquals(value, obj[key]))
                {
                    obj[key] = value;
                }

                if (obj[key] is null && !Nullable(child))
                {
                    obj.Remove(key);
                }
            }
            else if (!PreservesUnknown(Root))
            {
                pruned?.Add(key);
                obj.Remove(key);
            }
        }

        AddDefaults(obj, Root);
    }

    private static JsonNode? Apply(JsonNode? value, JsonObject schema, string path = "", List<string>? pruned = null)
    {
        switch (value)
        {
            case JsonObject o:
                var props = Properties(schema);
                var additional = schema["additionalProperties"] as JsonObject;
                foreach (var key in o.Select(kv => kv.Key).ToList())
                {
                    var childSchema = props?[key] as JsonObject ?? additional;
                    if (childSchema is not null)
                    {
                        var applied = Apply(o[key], childSchema, $"{path}.{key}", pruned);
                        if (!ReferenceEquals(applied, o[key]))
                        {
                            o[key] = applied;
                        }

                        if (o[key] is null && !Nullable(childSchema))
                        {
                            o.Remove(key);
                        }
                    }
                    else if (!PreservesUnknown(schema) && schema["additionalProperties"]?.GetValueKind() != JsonValueKind.True)
                    {
                        pruned?.Add($"{path}.{key}");
                        o.Remove(key);
                    }
                }

                AddDefaults(o, schema);
                return o;
            case JsonArray a when schema["items"] is JsonObject items:
                for (var i = 0; i < a.Count; i++)
                {
                    var item = Apply(a[i], items, $"{path}[{i}]", pruned);
                    if (!ReferenceEquals(item, a[i]))
                    {
                        a[i] = item;
                    }
                }

                return a;
            default:
                return value;
        }
    }

    private static void AddDefaults(JsonObject o, JsonObject schema)
    {
        if (Properties(schema) is not { } props)
        {
            return;
        }

        foreach (var (name, child) in props)
        {
            if (o[name] is null && child?["default"] is { } def)
            {
                o[name] = Apply(def.DeepClone(), (JsonObject)child);
            }
        }
    }

    public List<FieldError> Validate(JsonObject obj)
    {
        var errors = new List<FieldError>();
        foreach (var (key, value) in obj)
        {
            if (key is "apiVersion" or "kind" or "metadata")
            {
                continue;
            }

            if (Properties(Root)?[key] is JsonObject child)
            {
                Check(value, child, key, errors);
            }
        }

        Required(obj, Root, string.Empty, errors);
        return errors;
    }

    private static void Check(JsonNode? value, JsonObject schema, string path, List<FieldError> errors)
    {
        if (value is null)
        {
            if (!Nullable(schema))
            {
                errors.Add(FieldError.Invalid(path, null, $"{path} in body must be of type {schema["type"]?.ToString() ?? "object"}: \"null\""));
            }

            return;
        }

        var type = schema["type"]?.GetValue<string>();
        var intOrString = schema["x-kubernetes-int-or-string"]?.GetValue<bool>() == true;
        var actual = Json.JsonPath.TypeName(value);
        if (intOrString)
        {
            if (actual != "string" && !IsInteger(value))
            {
                errors.Add(FieldError.TypeInvalid(path, Render(value), $"{path} in body must be of type integer,string: \"{actual}\""));
                return;
            }
        }
        else if (type is not null && !TypeMatches(type, value, actual))
        {
            errors.Add(FieldError.TypeInvalid(path, Render(value), $"{path} in body must be of type {type}: \"{actual}\""));
            return;
        }

        if (schema["enum"] is JsonArray options && !options.Any(o => JsonNode.DeepEquals(o, value)))
        {
            errors.Add(FieldError.NotSupported(path, Render(value), options.Select(o => o?.ToString() ?? "null")));
        }

        AnyOf(value, schema, path, errors);
        switch (value)
        {
            case JsonObject o:
                var props = Properties(schema);
                var additional = schema["additionalProperties"] as JsonObject;
                foreach (var (k, v) in o)
                {
                    if (props?[k] is JsonObject child)
                    {
                        Check(v, child, $"{path}.{k}", errors);
                    }
                    else if (additional is not null)
                    {
                        Check(v, additional, $"{path}.{k}", errors);
                    }
                }

                Required(o, schema, path, errors);
                if (schema["maxProperties"] is { } maxProps && o.Count > maxProps.GetValue<long>())
                {
                    errors.Add(FieldError.Invalid(path, maxProps.GetValue<long>(), $"{path} in body should have at most {maxProps} properties"));
                }

                if (schema["minProperties"] is { } minProps && o.Count < minProps.GetValue<long>())
                {
                    errors.Add(FieldError.Invalid(path, minProps.GetValue<long>(), $"{path} in body should have at least {minProps} properties"));
                }

                break;
            case JsonArray a:
                if (schema["minItems"] is { } minItems && a.Count < minItems.GetValue<long>())
                {
                    errors.Add(FieldError.Invalid(path, Render(value), $"{path} in body should have at least {minItems} items"));
                }

                if (schema["maxItems"] is { } maxItems && a.Count > maxItems.GetValue<long>())
                {
                    errors.Add(new FieldError(path, "FieldValueTooMany", $"Too many: {a.Count}: must have at most {maxItems} items"));
                }

                if (schema["items"] is JsonObject items)
                {
                    for (var i = 0; i < a.Count; i++)
                    {
                        Check(a[i], items, $"{path}[{i}]", errors);
                    }
                }

                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                var s = v.GetValue<string>();
                if (schema["minLength"] is { } minLen && s.Length < minLen.GetValue<long>())
                {
                    errors.Add(FieldError.Invalid(path, s, $"{path} in body should be at least {minLen} chars long"));
                }

                if (schema["maxLength"] is { } maxLen && s.Length > maxLen.GetValue<long>())
                {
                    errors.Add(new FieldError(path, "FieldValueTooLong", $"Too long: may not be longer than {maxLen}"));
                }

                if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(s, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
                {
                    errors.Add(FieldError.Invalid(path, s, $"{path} in body should match '{pattern}'"));
                }

                break;
            case JsonValue n when n.GetValueKind() == JsonValueKind.Number:
                var d = n.GetValue<double>();
                if (schema["minimum"] is { } min && d < min.GetValue<double>())
                {
                    errors.Add(FieldError.Invalid(path, Render(value), $"{path} in body should be greater than or equal to {min}"));
                }

                if (schema["maximum"] is { } max && d > max.GetValue<double>())
                {
                    errors.Add(FieldError.Invalid(path, Render(value), $"{path} in body should be less than or equal to {max}"));
                }

                break;
        }
    }

    /// <summary>
    /// <c>anyOf</c> of value validations, as kube-apiserver v1.20 reports it: a cause without a
    /// field saying the value must validate at least one schema, then the first branch's errors.
    /// </summary>
    private static void AnyOf(JsonNode value, JsonObject schema, string path, List<FieldError> errors)
    {
        if (schema["anyOf"] is not JsonArray branches || branches.Count == 0)
        {
            return;
        }

        List<FieldError>? first = null;
        foreach (var branch in branches.OfType<JsonObject>())
        {
            var e = new List<FieldError>();
            Check(value, branch, path, e);
            if (e.Count == 0)
            {
                return;
            }

            first ??= e;
        }

        errors.Add(new FieldError("<nil>", "FieldValueInvalid", $"Invalid value: \"\": \"{path}\" must validate at least one schema (anyOf)"));
        errors.AddRange(first ?? []);
    }

    private static void Required(JsonObject o, JsonObject schema, string path, List<FieldError> errors)
    {
        if (schema["required"] is not JsonArray required)
        {
            return;
        }

        foreach (var r in required)
        {
            var name = r?.GetValue<string>();
            if (name is not null && o[name] is null)
            {
                errors.Add(FieldError.Required(path.Length == 0 ? name : $"{path}.{name}"));
            }
        }
    }

    private static bool TypeMatches(string type, JsonNode value, string actual) => type switch
    {
        "integer" => IsInteger(value),
        "number" => actual == "number",
        _ => type == actual,
    };

    private static bool IsInteger(JsonNode value) =>
        value is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && Math.Floor(d) == d;

    private static object? Render(JsonNode? value) => value switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>() is var d && Math.Floor(d) == d ? (object)(long)d : d,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => Json.JsonPath.TypeName(value),
    };

    private static JsonObject? Properties(JsonObject schema) => schema["properties"] as JsonObject;

    private static bool PreservesUnknown(JsonObject schema) => schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true;

    private static bool Nullable(JsonObject schema) => schema["nullable"]?.GetValue<bool>() == true;

    public override string ToString() => Root.ToJsonString();

    internal static string Format(double d) => d.ToString(CultureInfo.InvariantCulture);
}
