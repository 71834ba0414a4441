namespace Extip.ApiServer.Resources;

/// <summary>
/// How a list is merged. <see cref="MergeKey"/> for strategic merge patch (patchMergeKey);
/// <see cref="Keys"/> for server-side apply (listMapKeys); <see cref="Set"/> for lists of
/// primitives merged as sets. Lists with no rule are atomic: replaced whole.
/// </summary>
public sealed record ListRule(string? MergeKey, IReadOnlyList<string> Keys, bool Set = false)
{
    public static ListRule Map(params string[] keys) => new(keys[0], keys);

    public static readonly ListRule PrimitiveSet = new(null, [], true);
}

/// <summary>List rules of one kind, by path: <c>spec.ports</c>, <c>spec.containers[].env</c>.</summary>
public sealed class MergeSchema(IReadOnlyDictionary<string, ListRule> lists, IReadOnlySet<string>? maps = null)
{
    private static readonly IReadOnlyDictionary<string, ListRule> Common = new Dictionary<string, ListRule>
    {
        ["metadata.finalizers"] = ListRule.PrimitiveSet,
        ["metadata.ownerReferences"] = ListRule.Map("uid"),
        ["status.conditions"] = ListRule.Map("type"),
    };

    private static readonly HashSet<string> CommonMaps = ["metadata.labels", "metadata.annotations"];

    public static readonly MergeSchema None = new(new Dictionary<string, ListRule>());

    public ListRule? ListAt(string path) =>
        lists.TryGetValue(path, out var r) ? r : Common.GetValueOrDefault(path);

    /// <summary>True for maps with free keys (labels, selectors, data), whose field sets carry a "." entry.</summary>
    public bool IsMap(string path) => CommonMaps.Contains(path) || (maps?.Contains(path) ?? false);

    public static string Child(string path, string field) => path.Length == 0 ? field : $"{path}.{field}";

    public static string Item(string path) => $"{path}[]";
}
