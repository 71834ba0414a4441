using System.Globalization;
using System.Text.Json.Nodes;

namespace Extip.ApiServer.Patching;

/// <summary>JSON patch, RFC 6902, over JSON pointers (RFC 6901).</summary>
public static class JsonPatch
{
    public static JsonNode Apply(JsonNode target, JsonArray ops)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var doc = target;
        foreach (var opNode in ops)
        {
            if (opNode is not JsonObject op)
            {
                throw new PatchException("each JSON patch operation must be an object");
            }

            var name = op["op"]?.GetValue<string>() ?? throw new PatchException("missing \"op\" in JSON patch operation");
            var path = op["path"]?.GetValue<string>() ?? throw new PatchException($"missing \"path\" in JSON patch operation {op.ToJsonString()}");
            switch (name)
            {
                case "add":
                    doc = Add(doc, path, Value(op));
                    break;
                case "remove":
                    doc = Remove(doc, path, out _);
                    break;
                case "replace":
                    doc = Remove(doc, path, out _);
                    doc = Add(doc, path, Value(op));
                    break;
                case "move":
                    {
                        var from = op["from"]?.GetValue<string>() ?? throw new PatchException("missing \"from\" in move operation");
                        doc = Remove(doc, from, out var moved);
                        doc = Add(doc, path, moved);
                        break;
                    }

                case "copy":
                    {
                        var from = op["from"]?.GetValue<string>() ?? throw new PatchException("missing \"from\" in copy operation");
                        doc = Add(doc, path, Get(doc, from)?.DeepClone());
                        break;
                    }

                case "test":
                    if (!JsonNode.DeepEquals(Get(doc, path), Value(op)))
                    {
                        throw new PatchException($"testing value {path} failed");
                    }

                    break;
                default:
                    throw new PatchException($"Unexpected kind: {name}");
            }
        }

        return doc;
    }

    private static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var v) ? v?.DeepClone() : throw new PatchException($"missing \"value\" in {op["op"]} operation");

    private static string[] Tokens(string pointer)
    {
        if (pointer.Length == 0)
        {
            return [];
        }

        if (pointer[0] != '/')
        {
            throw new PatchException($"JSON pointer \"{pointer}\" must start with /");
        }

        return pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
    }

    private static JsonNode? Get(JsonNode? doc, string pointer)
    {
        var n = doc;
        foreach (var t in Tokens(pointer))
        {
            n = n switch
            {
                JsonObject o when o.TryGetPropertyValue(t, out var c) => c,
                JsonArray a when int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                _ => throw new PatchException($"doc is missing path: {pointer}"),
            };
        }

        return n;
    }

    private static JsonNode Add(JsonNode doc, string pointer, JsonNode? value)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            return value ?? throw new PatchException("cannot replace the whole document with null");
        }

        var parent = Get(doc, Pointer(tokens[..^1]));
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a:
                if (last == "-")
                {
                    a.Add(value);
                }
                else if (int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i <= a.Count)
                {
                    a.Insert(i, value);
                }
                else
                {
                    throw new PatchException($"add operation does not apply: doc is missing path: \"{pointer}\": missing value");
                }

                break;
            default:
                throw new PatchException($"add operation does not apply: doc is missing path: \"{pointer}\": missing value");
        }

        return doc;
    }

    private static JsonNode Remove(JsonNode doc, string pointer, out JsonNode? removed)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            throw new PatchException("cannot remove the whole document");
        }

        var parent = Get(doc, Pointer(tokens[..^1]));
        var last = tokens[^1];
        removed = null;
        switch (parent)
        {
            case JsonObject o when o.TryGetPropertyValue(last, out var v):
                removed = v;
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count:
                removed = a[i];
                a.RemoveAt(i);
                break;
            default:
                throw new PatchException($"remove operation does not apply: doc is missing path: \"{pointer}\": missing value");
        }

        return doc;
    }

    /// <summary>The pointer of a token path; the empty path is the whole document ("").</summary>
    private static string Pointer(string[] tokens) => tokens.Length == 0 ? string.Empty : "/" + string.Join('/', tokens.Select(Escape));

    private static string Escape(string t) => t.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}

/// <summary>A patch that cannot be applied; answered 422 as the real server does.</summary>
public sealed class PatchException : Exception
{
    public PatchException(string message)
        : base(message)
    {
    }

    public PatchException()
    {
    }

    public PatchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
