using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Extip.Core.Yaml;

/// <summary>
/// YAML documents as JSON nodes, read through YamlDotNet's node model: no reflection, so it works
/// in the Native AOT binary (where KubernetesClient's YAML reader fails in its static
/// constructor), and it is what the embedded API server reads YAML request bodies with. Plain
/// scalars are typed as YAML 1.2's core schema types them (null, true/false, integers, floats);
/// quoted, literal and folded ones, and those tagged <c>!!str</c>, stay strings. Errors are
/// <see cref="FormatException"/>s worded as kube-apiserver words them.
/// </summary>
public static class YamlJson
{
    /// <summary>Every non-empty document of <paramref name="yaml"/>, as JSON.</summary>
    public static IReadOnlyList<JsonNode> Documents(string yaml)
    {
        var stream = Load(yaml);

        // Aliases are expanded: a few hundred bytes of anchors can stand for millions of nodes
        // (issue 12: a 493-byte body stored a 4.69 MB object). No text without aliases has more
        // nodes than bytes, so ten times that (and at least 10,000) is plenty.
        var budget = Math.Max(10_000L, 10L * yaml.Length);
        var all = new List<JsonNode>();
        foreach (var d in stream.Documents)
        {
            if (Convert(d.RootNode, ref budget) is { } node)
            {
                all.Add(node);
            }
        }

        return all;
    }

    /// <summary>The single document of <paramref name="yaml"/>.</summary>
    public static JsonNode Document(string yaml) =>
        Documents(yaml) switch
        {
            [var one] => one,
            var all => throw new FormatException($"expected one YAML document, found {all.Count}"),
        };

    /// <summary>The first document of <paramref name="yaml"/>, or null when it has none (a request body).</summary>
    public static JsonNode? First(string yaml) => Documents(yaml) is [var first, ..] ? first : null;

    private static YamlStream Load(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new FormatException($"error converting YAML to JSON: yaml: line {e.Start.Line}: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner ends some unterminated flow collections ("[1, 2" then a new
            // key) this way instead of with a YamlException.
            throw new FormatException($"error converting YAML to JSON: yaml: {e.Message}", e);
        }

        return stream;
    }

    private static JsonNode? Convert(YamlNode node, ref long budget)
    {
        if (--budget < 0)
        {
            throw new FormatException("error converting YAML to JSON: yaml: document contains excessive aliasing");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    var name = (key as YamlScalarNode)?.Value
                        ?? throw new FormatException($"error converting YAML to JSON: yaml: line {key.Start.Line}: only scalar keys can become JSON");
                    o[name] = Convert(value, ref budget);
                }

                return o;
            case YamlSequenceNode seq:
                var a = new JsonArray();
                foreach (var item in seq.Children)
                {
                    a.Add(Convert(item, ref budget));
                }

                return a;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new FormatException($"error converting YAML to JSON: yaml: line {node.Start.Line}: {node.NodeType} nodes are not supported");
        }
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var v = scalar.Value ?? string.Empty;
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any) || scalar.Tag == "tag:yaml.org,2002:str")
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

        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i))
        {
            return JsonValue.Create(i);
        }

        if (v[0] is >= '0' and <= '9' or '-' or '+' or '.' && v.Any(char.IsAsciiDigit)
            && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(v);
    }
}
