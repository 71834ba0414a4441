using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Extip.ApiServer.Protobuf;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Resources.Kinds;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Extip.ApiServer.Schemas;

/// <summary>
/// The OpenAPI v2 document (<c>/openapi/v2</c>), which kubectl up to the 1.2x releases reads for
/// client-side validation, <c>kubectl explain</c> and strategic-merge patches: the definitions of
/// every kind served (built-in and custom), each root marked with the kinds it serves in
/// <c>x-kubernetes-group-version-kind</c>. Served as JSON or, as those kubectl versions ask for
/// it, as gnostic's OpenAPI v2 protobuf message.
/// </summary>
public static class OpenApiV2
{
    private static readonly Lazy<MessageDescriptor> DocumentMessage = new(() =>
    {
        using var s = typeof(OpenApiV2).Assembly.GetManifestResourceStream("openapiv2.protoset")
            ?? throw new InvalidOperationException("openapiv2.protoset is not embedded");
        var set = FileDescriptorSet.Parser.ParseFrom(s);
        var files = FileDescriptor.BuildFromByteStrings(set.File.Select(f => f.ToByteString()));
        return files.Single(f => f.Package == "openapi.v2").MessageTypes.Single(m => m.Name == "Document");
    });

    private static readonly Lock Gate = new();
    private static (string Key, Rendered Doc)? _last;  // one server per process in practice; the key keeps several right

    /// <summary>The document in both encodings and its ETag, built again only when the served kinds change.</summary>
    public sealed record Rendered(JsonObject Json, byte[] JsonBytes, byte[] Protobuf, string ETag);

    public static Rendered Render(ResourceRegistry registry, string version)
    {
        var key = version + "|" + string.Join(",", registry.All.Select(t => $"{t.Group}/{t.Version}/{t.Plural}:{t.Strategy.GetHashCode()}"));
        lock (Gate)
        {
            if (_last is { } last && last.Key == key)
            {
                return last.Doc;
            }
        }

        var json = Document(registry, version);
        var bytes = System.Text.Encoding.UTF8.GetBytes(json.ToJsonString());
        var rendered = new Rendered(json, bytes, Protobuf(json), $"\"{Convert.ToHexString(SHA256.HashData(bytes))}\"");
        lock (Gate)
        {
            _last = (key, rendered);
        }

        return rendered;
    }

    public static JsonObject Document(ResourceRegistry registry, string version)
    {
        var definitions = (JsonObject)BuiltinSchemas.Definitions.DeepClone();
        var paths = new JsonObject();
        foreach (var t in registry.All)
        {
            // The PATCH operation of each kind, with its query parameters: kubectl 1.20 reads here
            // whether a kind takes dryRun (kubectl diff, apply --dry-run=server).
            var item = t.Namespaced ? $"{t.ApiPrefix}/namespaces/{{namespace}}/{t.Plural}/{{name}}" : $"{t.ApiPrefix}/{t.Plural}/{{name}}";
            if (t.Verbs.Contains("patch"))
            {
                paths[item] = new JsonObject
                {
                    ["patch"] = new JsonObject
                    {
                        ["operationId"] = $"patch{t.Kind}",
                        ["parameters"] = new JsonArray(
                            Query("dryRun", "string"), Query("fieldManager", "string"), Query("fieldValidation", "string"), Query("force", "boolean")),
                        ["x-kubernetes-action"] = "patch",
                        ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = t.Group, ["kind"] = t.Kind, ["version"] = t.Version },
                    },
                };
            }

            var name = t.Definition;
            if (name is null && t.Strategy is CustomResourceStrategy crs)
            {
                name = $"{string.Join('.', t.Group.Split('.').Reverse())}.{t.Version}.{t.Kind}";
                definitions[name] = ToV2(CustomSchema(crs));
            }

            if (name is not null && definitions[name] is JsonObject d)
            {
                var gvks = d["x-kubernetes-group-version-kind"] as JsonArray ?? [];
                gvks.Add(new JsonObject { ["group"] = t.Group, ["kind"] = t.Kind, ["version"] = t.Version });
                d["x-kubernetes-group-version-kind"] = gvks;
            }
        }

        return new JsonObject
        {
            ["swagger"] = "2.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = version },
            ["paths"] = paths,
            ["definitions"] = definitions,
        };
    }

    private static JsonObject Query(string name, string type) => new() { ["in"] = "query", ["name"] = name, ["type"] = type, ["uniqueItems"] = true };

    private static JsonObject CustomSchema(CustomResourceStrategy crs)
    {
        var schema = (JsonObject?)crs.Schema?.Root.DeepClone() ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
        var props = schema["properties"] as JsonObject ?? new JsonObject();
        props["apiVersion"] = new JsonObject { ["type"] = "string" };
        props["kind"] = new JsonObject { ["type"] = "string" };
        props["metadata"] = new JsonObject { ["$ref"] = "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" };
        schema["properties"] = props;
        return schema;
    }

    /// <summary>
    /// A custom resource's structural schema as v2 can say it, as kube-apiserver publishes it: no
    /// nullable, oneOf, anyOf or not, and no type where a value may be an int or a string.
    /// </summary>
    private static JsonObject ToV2(JsonObject schema)
    {
        foreach (var k in new[] { "nullable", "oneOf", "anyOf", "not", "x-kubernetes-validations" })
        {
            schema.Remove(k);
        }

        if (schema["x-kubernetes-int-or-string"] is JsonValue ios && ios.GetValueKind() == System.Text.Json.JsonValueKind.True)
        {
            schema.Remove("type");
        }

        foreach (var p in (schema["properties"] as JsonObject ?? []).Select(kv => kv.Value).OfType<JsonObject>())
        {
            ToV2(p);
        }

        foreach (var k in new[] { "items", "additionalProperties" })
        {
            if (schema[k] is JsonObject sub)
            {
                ToV2(sub);
            }
        }

        return schema;
    }

    /// <summary>gnostic's openapi.v2.Document of the JSON document: what kubectl 1.20 decodes.</summary>
    public static byte[] Protobuf(JsonObject doc)
    {
        var d = new ProtoBuilder(DocumentMessage.Value);
        d.String("swagger", doc["swagger"]!.GetValue<string>());
        var info = d.New("info").String("title", doc["info"]!["title"]!.GetValue<string>()).String("version", doc["info"]!["version"]!.GetValue<string>());
        d.Message("info", info);
        var paths = d.New("paths");
        foreach (var (name, item) in doc["paths"]!.AsObject())
        {
            var named = paths.New("path").String("name", name);
            var pathItem = named.New("value");
            foreach (var (verb, op) in item!.AsObject())
            {
                pathItem.Message(verb, Operation(pathItem.New(verb), op!.AsObject()));
            }

            named.Message("value", pathItem);
            paths.Message("path", named);
        }

        d.Message("paths", paths);
        var defs = d.New("definitions");
        foreach (var (name, schema) in doc["definitions"]!.AsObject())
        {
            var named = defs.New("additional_properties").String("name", name);
            named.Message("value", Schema(named.New("value"), schema as JsonObject ?? []));
            defs.Message("additional_properties", named);
        }

        d.Message("definitions", defs);
        return d.ToByteArray();
    }

    private static ProtoBuilder Operation(ProtoBuilder op, JsonObject o)
    {
        op.String("operation_id", o["operationId"]!.GetValue<string>());
        foreach (var p in o["parameters"]!.AsArray().OfType<JsonObject>())
        {
            var item = op.New("parameters");
            var parameter = item.New("parameter");
            var nonBody = parameter.New("non_body_parameter");
            var query = nonBody.New("query_parameter_sub_schema")
                .String("in", "query").String("name", p["name"]!.GetValue<string>()).String("type", p["type"]!.GetValue<string>()).Bool("unique_items", true);
            item.Message("parameter", parameter.Message("non_body_parameter", nonBody.Message("query_parameter_sub_schema", query)));
            op.Message("parameters", item);
        }

        foreach (var (k, v) in o.Where(kv => kv.Key.StartsWith("x-", StringComparison.Ordinal)))
        {
            var named = op.New("vendor_extension").String("name", k);
            named.Message("value", Any(named.New("value"), v));
            op.Message("vendor_extension", named);
        }

        return op;
    }

    private static ProtoBuilder Schema(ProtoBuilder b, JsonObject s)
    {
        foreach (var (k, v) in s)
        {
            if (v is null)
            {
                continue;
            }

            switch (k)
            {
                case "$ref":
                    b.String("_ref", v.GetValue<string>());
                    break;
                case "format" or "title" or "description" or "pattern" or "discriminator":
                    b.String(k, v.GetValue<string>());
                    break;
                case "type":
                    var type = b.New("type");
                    foreach (var t in v is JsonArray ta ? ta.Select(x => x!.GetValue<string>()) : [v.GetValue<string>()])
                    {
                        type.String("value", t);
                    }

                    b.Message("type", type);
                    break;
                case "items":
                    var items = b.New("items");
                    foreach (var i in v is JsonArray ia ? ia.OfType<JsonObject>() : [v.AsObject()])
                    {
                        items.Message("schema", Schema(items.New("schema"), i));
                    }

                    b.Message("items", items);
                    break;
                case "properties":
                    var props = b.New("properties");
                    foreach (var (name, p) in v.AsObject())
                    {
                        var named = props.New("additional_properties").String("name", name);
                        named.Message("value", Schema(named.New("value"), p as JsonObject ?? []));
                        props.Message("additional_properties", named);
                    }

                    b.Message("properties", props);
                    break;
                case "additionalProperties":
                    var ap = b.New("additional_properties");
                    b.Message("additional_properties", v is JsonObject apo ? ap.Message("schema", Schema(ap.New("schema"), apo)) : ap.Bool("boolean", v.GetValue<bool>()));
                    break;
                case "allOf":
                    foreach (var a in v.AsArray().OfType<JsonObject>())
                    {
                        b.Message("all_of", Schema(b.New("all_of"), a));
                    }

                    break;
                case "required":
                    foreach (var r in v.AsArray())
                    {
                        b.String("required", r!.GetValue<string>());
                    }

                    break;
                case "enum":
                    foreach (var e in v.AsArray())
                    {
                        b.Message("enum", Any(b.New("enum"), e));
                    }

                    break;
                case "default" or "example":
                    b.Message(k, Any(b.New(k), v));
                    break;
                case "maximum" or "minimum" or "multipleOf":
                    b.Double(Snake(k), v.GetValue<double>());
                    break;
                case "exclusiveMaximum" or "exclusiveMinimum" or "uniqueItems" or "readOnly":
                    b.Bool(Snake(k), v.GetValue<bool>());
                    break;
                case "maxLength" or "minLength" or "maxItems" or "minItems" or "maxProperties" or "minProperties":
                    b.Int64(Snake(k), v.GetValue<long>());
                    break;
                default:
                    if (k.StartsWith("x-", StringComparison.Ordinal))
                    {
                        var named = b.New("vendor_extension").String("name", k);
                        named.Message("value", Any(named.New("value"), v));
                        b.Message("vendor_extension", named);
                    }

                    break;
            }
        }

        return b;
    }

    /// <summary>gnostic's Any: the value as YAML text (JSON is YAML), which is how kubectl reads extensions.</summary>
    private static ProtoBuilder Any(ProtoBuilder b, JsonNode? value) => b.String("yaml", value?.ToJsonString() ?? "null");

    private static string Snake(string camel) => string.Concat(camel.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : c.ToString()));
}
