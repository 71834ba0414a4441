using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Extip.ApiServer.Json;

/// <summary>Reads YAML request bodies (server-side apply, <c>application/yaml</c>) into JSON nodes, typing plain scalars as YAML 1.2 core does.</summary>
public static class Yaml
{
    public static JsonNode? Parse(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new FormatException($"error converting YAML to JSON: yaml: line {e.Start.Line}: {e.Message}", e);
        }

        if (stream.Documents.Count == 0)
        {
            return null;
        }

        // Aliases are expanded: a few hundred bytes of anchors can stand for millions of nodes
        // (issue 12: a 493-byte body stored a 4.69 MB object). No document without aliases has
        // more nodes than bytes, so ten times that (and at least 10,000) is plenty.
        var budget = Math.Max(10_000L, 10L * text.Length);
        return Convert(stream.Documents[0].RootNode, ref budget);
    }

    private static JsonNode? Convert(YamlNode node, ref long budget)
    {
        if (--budget < 0)
        {
            throw new FormatException("error converting YAML to JSON: yaml: document contains excessive aliasing");
        }

        switch (node)
        {
            case YamlMappingNode m:
                var o = new JsonObject();
                foreach (var (key, value) in m.Children)
                {
                    o[((YamlScalarNode)key).Value ?? string.Empty] = Convert(value, ref budget);
                }

                return o;
            case YamlSequenceNode s:
                var a = new JsonArray();
                foreach (var item in s.Children)
                {
                    a.Add(Convert(item, ref budget));
                }

                return a;
            case YamlScalarNode sc:
                return Scalar(sc);
            default:
                return null;
        }
    }

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value ?? string.Empty;
        if (s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(v);
        }

        switch (v)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }

        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && v.Any(char.IsDigit))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(v);
    }
}
