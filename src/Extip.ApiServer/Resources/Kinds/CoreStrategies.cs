using System.Text;
using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Validation;

namespace Extip.ApiServer.Resources.Kinds;

public sealed class NamespaceStrategy : DefaultStrategy
{
    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
        obj.Obj("spec")["finalizers"] = new JsonArray("kubernetes");
        obj["status"] = new JsonObject { ["phase"] = "Active" };
        var labels = obj.Meta().Obj("labels");
        labels["kubernetes.io/metadata.name"] = obj.Str("metadata", "name");
    }

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old)
    {
        obj["status"] = old["status"]?.DeepClone();
        obj["spec"] = old["spec"]?.DeepClone();
        obj.Meta().Obj("labels")["kubernetes.io/metadata.name"] = obj.Str("metadata", "name");
    }

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Label("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }
    }
}

public sealed class PodStrategy : DefaultStrategy
{
    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj)
    {
        var spec = obj.Obj("spec");
        PodSpecRules.Default(spec);
        spec["enableServiceLinks"] ??= true;
        spec["priority"] ??= 0;

        var status = obj["status"] as JsonObject ?? new JsonObject();
        status["phase"] ??= "Pending";
        status["qosClass"] ??= "BestEffort";
        obj["status"] = status;
    }

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) =>
        obj["status"] = old["status"]?.DeepClone();

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }

        foreach (var error in PodSpecRules.Validate(obj["spec"], "spec"))
        {
            yield return error;
        }
    }
}

public sealed class SecretStrategy : DefaultStrategy
{
    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj) => Normalize(obj);

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) => Normalize(obj);

    /// <summary>stringData is write-only: merged into data, base64-encoded.</summary>
    private static void Normalize(JsonObject obj)
    {
        obj["type"] ??= "Opaque";
        if (obj["stringData"] is JsonObject sd)
        {
            var data = obj.Obj("data");
            foreach (var (k, v) in sd)
            {
                data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(v?.ToString() ?? string.Empty));
            }

            obj.Remove("stringData");
        }
    }

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        foreach (var e in ConfigKeys.Validate(obj, "data"))
        {
            yield return e;
        }

        if (obj["data"] is JsonObject data)
        {
            foreach (var (k, v) in data)
            {
                var s = v?.ToString() ?? string.Empty;
                var buffer = new byte[s.Length];
                if (!Convert.TryFromBase64String(s, buffer, out _))
                {
                    yield return FieldError.Invalid($"data[{k}]", "<secret contents redacted>", "illegal base64 data");
                }
            }
        }
    }
}

/// <summary>ConfigMap: its keys are config keys, in data and binaryData together.</summary>
public sealed class ConfigMapStrategy : DefaultStrategy
{
    public static new readonly ConfigMapStrategy Instance = new();

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }

        foreach (var error in ConfigKeys.Validate(obj, "data", "binaryData"))
        {
            yield return error;
        }
    }
}

/// <summary>The keys of ConfigMaps and Secrets: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..", each once.</summary>
public static partial class ConfigKeys
{
    private const string Message = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

    [System.Text.RegularExpressions.GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial System.Text.RegularExpressions.Regex Key();

    public static IEnumerable<FieldError> Validate(JsonObject obj, params string[] maps)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var map in maps)
        {
            foreach (var (k, _) in obj[map] as JsonObject ?? [])
            {
                var at = $"{map}[{k}]";
                if (k.Length > 253)
                {
                    yield return FieldError.Invalid(at, k, "must be no more than 253 characters");
                }

                if (!Key().IsMatch(k))
                {
                    yield return FieldError.Invalid(at, k, Message);
                }
                else if (k is "." or "..")
                {
                    yield return FieldError.Invalid(at, k, $"must not be '{k}'");
                }

                if (!seen.Add(k))
                {
                    yield return FieldError.Invalid(at, k, "duplicate of key present in data");
                }
            }
        }
    }
}

public sealed class NodeStrategy : DefaultStrategy
{
    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) =>
        obj["status"] = old["status"]?.DeepClone();

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }
    }
}

public sealed class EndpointSliceStrategy : DefaultStrategy
{
    private static readonly string[] AddressTypes = ["FQDN", "IPv4", "IPv6"];

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var at = obj.Str("addressType");
        if (at is null)
        {
            yield return FieldError.Required("addressType");
        }
        else if (!AddressTypes.Contains(at))
        {
            yield return FieldError.NotSupported("addressType", at, AddressTypes);
        }

        var eps = obj["endpoints"] as JsonArray ?? [];
        for (var i = 0; i < eps.Count; i++)
        {
            if ((eps[i]?["addresses"] as JsonArray)?.Count is null or 0)
            {
                yield return FieldError.Required($"endpoints[{i}].addresses", "must contain at least 1 address");
            }
        }
    }
}

/// <summary>Names only, as a DNS subdomain: ConfigMaps, Leases, Events and the like.</summary>
public sealed class SubdomainNameStrategy : DefaultStrategy
{
    public static new readonly SubdomainNameStrategy Instance = new();

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }
    }
}

/// <summary>events.k8s.io/v1 Events are stored as core/v1 Events; these are the field renames between them.</summary>
public sealed class EventsV1Converter : IObjectConverter
{
    public static readonly EventsV1Converter Instance = new();

    private static readonly (string V1, string Core)[] Renames =
    [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("reportingController", "reportingComponent"),
    ];

    public JsonObject ToStorage(JsonObject served) => Rename(served, toCore: true);

    public JsonObject FromStorage(JsonObject stored) => Rename(stored, toCore: false);

    private static JsonObject Rename(JsonObject source, bool toCore)
    {
        var o = (JsonObject)source.DeepClone();
        o["apiVersion"] = toCore ? "v1" : "events.k8s.io/v1";
        foreach (var (v1, core) in Renames)
        {
            var (from, to) = toCore ? (v1, core) : (core, v1);
            if (o[from] is { } value)
            {
                o.Remove(from);
                o[to] = value;
            }
        }

        return o;
    }
}
