using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Extip.Kubernetes.Client;

/// <summary>
/// YAML documents as JSON, read through YamlDotNet's node model: no reflection, so it works in
/// the Native AOT binary, where KubernetesClient's YAML reader (KubernetesYaml, which orders
/// properties by metadata tokens) fails in its static constructor. Plain scalars follow YAML
/// 1.2's core schema (null, true/false, integers and floats); quoted ones stay strings.
/// </summary>
public static class YamlJson
{
    /// <summary>Every non-empty document of <paramref name="yaml"/>, as JSON.</summary>
    public static IReadOnlyList<JsonNode?> Documents(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => Convert(d.RootNode)).Where(n => n is not null).ToList();
    }

    /// <summary>The single document of <paramref name="yaml"/>, as JSON.</summary>
    public static JsonNode Document(string yaml) =>
        Documents(yaml) switch
        {
            [var one] => one!,
            var all => throw new FormatException($"expected one YAML document, found {all.Count}"),
        };

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => Map(map),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new FormatException($"YAML node {node.NodeType} at {node.Start}: not supported"),
    };

    private static JsonObject Map(YamlMappingNode map)
    {
        var o = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? throw new FormatException($"YAML key at {key.Start}: only scalar keys are supported");
            o[name] = Convert(value);
        }

        return o;
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var v = scalar.Value ?? string.Empty;
        if (scalar.Style is not ScalarStyle.Plain || scalar.Tag == "tag:yaml.org,2002:str")
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

        if ((v[0] is >= '0' and <= '9' or '-' or '+' or '.') && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(v);
    }
}
