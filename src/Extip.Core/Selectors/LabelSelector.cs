namespace Extip.Core.Selectors;

public enum SelectorOperator
{
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

public sealed record SelectorRequirement(string Key, SelectorOperator Operator, IReadOnlyList<string> Values)
{
    /// <summary>
    /// The operator exactly as Kubernetes spells it. Not <see cref="Enum.TryParse{TEnum}(string, out TEnum)"/>,
    /// which also takes "1" and "In, NotIn"; an unknown operator must be an error, never <c>In</c>.
    /// </summary>
    public static bool TryParseOperator(string? text, out SelectorOperator op)
    {
        (var ok, op) = text switch
        {
            "In" => (true, SelectorOperator.In),
            "NotIn" => (true, SelectorOperator.NotIn),
            "Exists" => (true, SelectorOperator.Exists),
            "DoesNotExist" => (true, SelectorOperator.DoesNotExist),
            _ => (false, SelectorOperator.In),
        };
        return ok;
    }

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var has = labels.TryGetValue(Key, out var value);
        return Operator switch
        {
            SelectorOperator.In => has && Values.Contains(value!),
            SelectorOperator.NotIn => !has || !Values.Contains(value!),
            SelectorOperator.Exists => has,
            SelectorOperator.DoesNotExist => !has,
            _ => false,
        };
    }
}

/// <summary>
/// A Kubernetes label selector (<c>matchLabels</c> and <c>matchExpressions</c>). An empty selector
/// matches everything, as in Kubernetes.
/// </summary>
public sealed record LabelSelector
{
    public static readonly LabelSelector Everything = new();

    public IReadOnlyDictionary<string, string> MatchLabels { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<SelectorRequirement> MatchExpressions { get; init; } = [];

    public bool IsEmpty => MatchLabels.Count == 0 && MatchExpressions.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        foreach (var (k, v) in MatchLabels)
        {
            if (!labels.TryGetValue(k, out var actual) || actual != v)
            {
                return false;
            }
        }

        foreach (var r in MatchExpressions)
        {
            if (!r.Matches(labels))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Problems with the selector, each naming the field under <paramref name="path"/>.</summary>
    public IEnumerable<string> Validate(string path)
    {
        for (var i = 0; i < MatchExpressions.Count; i++)
        {
            var r = MatchExpressions[i];
            var p = $"{path}.matchExpressions[{i}]";
            if (string.IsNullOrEmpty(r.Key))
            {
                yield return $"{p}.key: must not be empty";
            }

            var needsValues = r.Operator is SelectorOperator.In or SelectorOperator.NotIn;
            if (needsValues && r.Values.Count == 0)
            {
                yield return $"{p}.values: must not be empty for operator {r.Operator}";
            }

            if (!needsValues && r.Values.Count > 0)
            {
                yield return $"{p}.values: must be empty for operator {r.Operator}";
            }
        }
    }

    public override string ToString()
    {
        var parts = MatchLabels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")
            .Concat(MatchExpressions.Select(r => r.Operator switch
            {
                SelectorOperator.In => $"{r.Key} in ({string.Join(",", r.Values)})",
                SelectorOperator.NotIn => $"{r.Key} notin ({string.Join(",", r.Values)})",
                SelectorOperator.Exists => r.Key,
                _ => $"!{r.Key}",
            }));
        return string.Join(",", parts);
    }
}
