using System.Text.Json;
using System.Text.Json.Nodes;

namespace Extip.ApiServer.Json;

/// <summary>Small helpers over System.Text.Json nodes, the server's one object model.</summary>
public static class JsonPath
{
    public static JsonObject Obj(this JsonObject o, string name)
    {
        if (o[name] is JsonObject child)
        {
            return child;
        }

        child = new JsonObject();
        o[name] = child;
        return child;
    }

    public static string? Str(this JsonNode? node, params string[] path)
    {
        var n = node;
        foreach (var p in path)
        {
            n = n is JsonObject o ? o[p] : null;
        }

        return n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    }

    public static long? Long(this JsonNode? node, params string[] path)
    {
        var n = node;
        foreach (var p in path)
        {
            n = n is JsonObject o ? o[p] : null;
        }

        return n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var l) ? l : null;
    }

    public static JsonNode? At(this JsonNode? node, params string[] path)
    {
        var n = node;
        foreach (var p in path)
        {
            n = n is JsonObject o ? o[p] : null;
        }

        return n;
    }

    public static JsonObject Meta(this JsonObject o) => o.Obj("metadata");

    public static JsonNode? CloneNode(this JsonNode? n) => n?.DeepClone();

    /// <summary>Deep equality that ignores property order.</summary>
    public static bool SameAs(this JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);

    /// <summary>Kubernetes timestamps: RFC 3339, seconds, UTC.</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTimestamp(string? s) =>
        DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    public static string TypeName(JsonNode? n) => n switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        },
        _ => "unknown",
    };
}
