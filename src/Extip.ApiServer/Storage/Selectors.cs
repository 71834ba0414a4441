using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Resources;
using Extip.Core.Selectors;

namespace Extip.ApiServer.Storage;

/// <summary>Parses the string forms of label and field selectors, as <c>kubectl -l</c> and <c>--field-selector</c> send them.</summary>
public static class Selectors
{
    /// <summary><c>a=b,c!=d,e in (x,y),f notin (z),g,!h</c>.</summary>
    public static LabelSelector ParseLabels(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return LabelSelector.Everything;
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var exprs = new List<SelectorRequirement>();
        foreach (var raw in SplitTopLevel(text))
        {
            var part = raw.Trim();
            if (part.Length == 0)
            {
                throw Errors.BadRequest($"unable to parse requirement: found '', expected: identifier");
            }

            var inIdx = IndexOfWord(part, " in ");
            var notinIdx = IndexOfWord(part, " notin ");
            if (notinIdx > 0 || inIdx > 0)
            {
                var isNot = notinIdx > 0;
                var at = isNot ? notinIdx : inIdx;
                var key = part[..at].Trim();
                var rest = part[(at + (isNot ? 7 : 4))..].Trim();
                if (!rest.StartsWith('(') || !rest.EndsWith(')'))
                {
                    throw Errors.BadRequest($"unable to parse requirement: found '{rest}', expected: '('");
                }

                var values = rest[1..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                CheckKey(key);
                exprs.Add(new SelectorRequirement(key, isNot ? SelectorOperator.NotIn : SelectorOperator.In, values));
            }
            else if (part.Contains("!=", StringComparison.Ordinal))
            {
                var i = part.IndexOf("!=", StringComparison.Ordinal);
                var key = part[..i].Trim();
                CheckKey(key);
                exprs.Add(new SelectorRequirement(key, SelectorOperator.NotIn, [part[(i + 2)..].Trim()]));
            }
            else if (part.Contains('='))
            {
                var i = part.IndexOf('=');
                var key = part[..i].Trim();
                var value = part[(i + 1)..].TrimStart('=').Trim();
                CheckKey(key);
                exprs.Add(new SelectorRequirement(key, SelectorOperator.In, [value]));
            }
            else if (part.StartsWith('!'))
            {
                var key = part[1..].Trim();
                CheckKey(key);
                exprs.Add(new SelectorRequirement(key, SelectorOperator.DoesNotExist, []));
            }
            else
            {
                CheckKey(part);
                exprs.Add(new SelectorRequirement(part, SelectorOperator.Exists, []));
            }
        }

        return new LabelSelector { MatchLabels = labels, MatchExpressions = exprs };
    }

    private static void CheckKey(string key)
    {
        if (key.Length == 0 || key.Any(c => char.IsWhiteSpace(c) || c is '(' or ')' or ',' or '!' or '='))
        {
            throw Errors.BadRequest($"unable to parse requirement: invalid label key \"{key}\"");
        }
    }

    private static int IndexOfWord(string s, string word) => s.IndexOf(word, StringComparison.Ordinal);

    /// <summary>Splits on commas that are not inside parentheses.</summary>
    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return text[start..i];
                    start = i + 1;
                    break;
            }
        }

        yield return text[start..];
    }

    /// <summary><c>metadata.name=x,spec.nodeName!=y</c>; only fields the resource supports.</summary>
    public static IReadOnlyList<FieldRequirement> ParseFields(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var list = new List<FieldRequirement>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            bool negate;
            int at;
            int len;
            if ((at = part.IndexOf("!=", StringComparison.Ordinal)) > 0)
            {
                negate = true;
                len = 2;
            }
            else if ((at = part.IndexOf("==", StringComparison.Ordinal)) > 0)
            {
                negate = false;
                len = 2;
            }
            else if ((at = part.IndexOf('=')) > 0)
            {
                negate = false;
                len = 1;
            }
            else
            {
                throw Errors.BadRequest($"invalid selector: '{text}'; can't understand '{part}'");
            }

            var field = part[..at].Trim();
            var value = part[(at + len)..].Trim();
            Func<JsonObject, string?> get = field switch
            {
                "metadata.name" => o => o["metadata"]?["name"]?.GetValue<string>(),
                "metadata.namespace" => o => o["metadata"]?["namespace"]?.GetValue<string>() ?? string.Empty,
                _ => type.FieldSelectors.TryGetValue(field, out var f) ? f : throw Errors.BadRequest(
                    $"\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"{string.Concat(type.FieldSelectors.Keys.Select(k => $", \"{k}\""))}"),
            };
            list.Add(new FieldRequirement(field, value, negate, get));
        }

        return list;
    }
}

public sealed record FieldRequirement(string Field, string Value, bool Negate, Func<JsonObject, string?> Get)
{
    public bool Matches(JsonObject obj) => (Get(obj) ?? string.Empty) == Value != Negate;
}

/// <summary>What a list or watch wants: a namespace (or all), a label selector and field requirements.</summary>
public sealed record ListFilter(string? Namespace, LabelSelector Labels, IReadOnlyList<FieldRequirement> Fields)
{
    public static readonly ListFilter All = new(null, LabelSelector.Everything, []);

    public bool Matches(StoredObject o)
    {
        if (Namespace is not null && o.Namespace != Namespace)
        {
            return false;
        }

        if (!Labels.IsEmpty && !Labels.Matches(o.Labels))
        {
            return false;
        }

        foreach (var f in Fields)
        {
            if (!f.Matches(o.Object))
            {
                return false;
            }
        }

        return true;
    }
}
