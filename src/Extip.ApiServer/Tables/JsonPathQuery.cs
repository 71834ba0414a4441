using System.Globalization;
using System.Text.Json.Nodes;

namespace Extip.ApiServer.Tables;

/// <summary>
/// The JSONPath subset of printer columns: <c>.a.b</c> (with <c>\.</c> for a dot in a key),
/// <c>['a']</c>, <c>[0]</c>, <c>[*]</c> and <c>[?(@.k=="v")]</c>.
/// </summary>
public static class JsonPathQuery
{
    public static List<JsonNode?> Find(JsonNode? root, string path)
    {
        var current = new List<JsonNode?> { root };
        var p = path.Trim();
        if (p.StartsWith('{') && p.EndsWith('}'))
        {
            p = p[1..^1];
        }

        if (p.StartsWith('$'))
        {
            p = p[1..];
        }

        var i = 0;
        while (i < p.Length && current.Count > 0)
        {
            if (p[i] == '.')
            {
                // A backslash escapes the next character, so a key with dots is reachable
                // (.metadata.labels.extip\.io/agent); the name keeps it without the backslash,
                // as client-go's jsonpath parser (parseField, advance) does.
                var j = i + 1;
                while (j < p.Length && p[j] is not '.' and not '[')
                {
                    j += p[j] == '\\' ? 2 : 1;
                }

                j = Math.Min(j, p.Length);
                var name = p[(i + 1)..j].Replace("\\", string.Empty, StringComparison.Ordinal);
                current = current.Select(n => n is JsonObject o ? o[name] : null).Where(n => n is not null).ToList();
                i = j;
            }
            else if (p[i] == '[')
            {
                var j = p.IndexOf(']', i);
                if (j < 0)
                {
                    break;
                }

                var inner = p[(i + 1)..j];
                if (inner.StartsWith("?(", StringComparison.Ordinal))
                {
                    j = p.IndexOf(")]", i, StringComparison.Ordinal) + 1;
                    inner = p[(i + 1)..j];
                }

                current = Step(current, inner);
                i = j + 1;
            }
            else
            {
                break;
            }
        }

        return current;
    }

    private static List<JsonNode?> Step(List<JsonNode?> nodes, string inner)
    {
        if (inner == "*")
        {
            return nodes.SelectMany(n => n switch
            {
                JsonArray a => a.ToList(),
                JsonObject o => o.Select(kv => kv.Value).ToList(),
                _ => [],
            }).ToList();
        }

        if (inner.StartsWith('\'') || inner.StartsWith('"'))
        {
            var name = inner[1..^1];
            return nodes.Select(n => n is JsonObject o ? o[name] : null).Where(n => n is not null).ToList();
        }

        if (int.TryParse(inner, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
        {
            return nodes.Select(n => n is JsonArray a && a.Count > 0 ? a[index < 0 ? a.Count + index : index] : null).Where(n => n is not null).ToList();
        }

        if (inner.StartsWith("?(@.", StringComparison.Ordinal) && inner.Contains("==", StringComparison.Ordinal))
        {
            var cond = inner[4..^1];
            var eq = cond.IndexOf("==", StringComparison.Ordinal);
            var field = cond[..eq].Trim();
            var want = cond[(eq + 2)..].Trim().Trim('"', '\'');
            return nodes.SelectMany(n => n is JsonArray a ? a.ToList() : [])
                .Where(item => item is JsonObject o && o[field]?.ToString() == want).ToList();
        }

        return [];
    }
}
