namespace Extip.Kubernetes.Client;

public static class DictionaryExtensions
{
    /// <summary>Labels and annotations are IDictionary in the client models; null-safe lookup.</summary>
    public static string? Value(this IDictionary<string, string>? map, string key) =>
        map is not null && map.TryGetValue(key, out var v) ? v : null;
}
