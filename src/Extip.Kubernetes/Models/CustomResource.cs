using System.Text.Json;
using System.Text.Json.Serialization;
using Extip.Core.Selectors;
using k8s;
using k8s.Models;

namespace Extip.Kubernetes.Models;

/// <summary>A cluster-scoped extip resource with a spec and a status.</summary>
public abstract class CustomResource<TSpec, TStatus> : IKubernetesObject<V1ObjectMeta>
    where TSpec : new()
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = ExtipApi.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = string.Empty;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public TSpec Spec { get; set; } = new();

    [JsonPropertyName("status")]
    public TStatus? Status { get; set; }
}

/// <summary>A list of extip resources as the API returns it.</summary>
public sealed class ResourceList<T> : IKubernetesObject<V1ListMeta>, IItems<T>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = ExtipApi.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = string.Empty;

    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<T> Items { get; set; } = [];
}

/// <summary>A condition as Kubernetes conventions write it.</summary>
public sealed class Condition
{
    [JsonPropertyName("type")]
    public string Type { get; set; } = string.Empty;

    [JsonPropertyName("status")]
    public string Status { get; set; } = "Unknown";

    [JsonPropertyName("reason")]
    public string Reason { get; set; } = string.Empty;

    [JsonPropertyName("message")]
    public string Message { get; set; } = string.Empty;

    [JsonPropertyName("lastTransitionTime")]
    public DateTime? LastTransitionTime { get; set; }

    [JsonPropertyName("observedGeneration")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? ObservedGeneration { get; set; }
}

/// <summary>
/// Condition lists as Kubernetes conventions want them written: <c>lastTransitionTime</c> moves only
/// when a condition's status changes, and a list that says the same as before is not written again.
/// </summary>
public static class Conditions
{
    /// <summary>Each condition of <paramref name="next"/> whose status is what <paramref name="previous"/> said keeps its transition time from there.</summary>
    public static void KeepTransitions(IEnumerable<Condition> next, IEnumerable<Condition>? previous)
    {
        ArgumentNullException.ThrowIfNull(next);
        foreach (var c in next)
        {
            if (previous?.FirstOrDefault(p => p.Type == c.Type) is { } before && before.Status == c.Status)
            {
                c.LastTransitionTime = before.LastTransitionTime;
            }
        }
    }

    /// <summary>The same conditions in the same order, saying the same (transition times aside).</summary>
    public static bool Same(IReadOnlyList<Condition> a, IReadOnlyList<Condition>? b) =>
        b is not null && a.Count == b.Count
        && a.Zip(b).All(p => p.First.Type == p.Second.Type && p.First.Status == p.Second.Status && p.First.Reason == p.Second.Reason
            && p.First.Message == p.Second.Message && p.First.ObservedGeneration == p.Second.ObservedGeneration);
}

/// <summary>
/// A Kubernetes LabelSelector as written. Fields it does not know are kept, not dropped, so that
/// a typo (<c>matchLabel</c>) is an error on servers whose schema let it through, never a wider
/// selector.
/// </summary>
public sealed class LabelSelectorModel
{
    [JsonPropertyName("matchLabels")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? MatchLabels { get; set; }

    [JsonPropertyName("matchExpressions")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<SelectorRequirementModel>? MatchExpressions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; set; }

    /// <summary>The selector, with every problem (unknown field, unknown operator) added to <paramref name="errors"/> naming the field under <paramref name="path"/>.</summary>
    public LabelSelector ToSelector(string path, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        foreach (var k in (Unknown?.Keys ?? Enumerable.Empty<string>()).Order(StringComparer.Ordinal))
        {
            errors.Add($"{path}.{k}: unknown field (a label selector has matchLabels and matchExpressions)");
        }

        var exprs = new List<SelectorRequirement>();
        for (var i = 0; i < (MatchExpressions?.Count ?? 0); i++)
        {
            var e = MatchExpressions![i];
            var p = $"{path}.matchExpressions[{i}]";
            foreach (var k in (e.Unknown?.Keys ?? Enumerable.Empty<string>()).Order(StringComparer.Ordinal))
            {
                errors.Add($"{p}.{k}: unknown field (a requirement has key, operator and values)");
            }

            if (!SelectorRequirement.TryParseOperator(e.Operator, out var op))
            {
                errors.Add(e.Operator is null
                    ? $"{p}.operator: required (one of In, NotIn, Exists, DoesNotExist)"
                    : $"{p}.operator: \"{e.Operator}\" is not one of In, NotIn, Exists, DoesNotExist");
                continue;
            }

            exprs.Add(new SelectorRequirement(e.Key, op, e.Values ?? []));
        }

        var selector = new LabelSelector { MatchLabels = MatchLabels ?? [], MatchExpressions = exprs };
        foreach (var error in selector.Validate(path))
        {
            errors.Add(error);
        }

        return selector;
    }
}

public sealed class SelectorRequirementModel
{
    [JsonPropertyName("key")]
    public string Key { get; set; } = string.Empty;

    /// <summary>Required; no default: a missing or unknown operator is an error, never <c>In</c>.</summary>
    [JsonPropertyName("operator")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Operator { get; set; }

    [JsonPropertyName("values")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Values { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; set; }
}
