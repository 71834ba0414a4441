using System.Text.Json;
using System.Text.Json.Nodes;

namespace Extip.ApiServer.Storage;

/// <summary>
/// One object as stored: its serialized form (which GET, LIST and every watcher reuse as is)
/// and the few fields lookups need. The JSON tree is not kept: a Service as nodes costs several
/// times its bytes, and most stored objects are only ever sent, never changed.
/// </summary>
public sealed class StoredObject
{
    private static readonly IReadOnlyDictionary<string, string> NoLabels = new Dictionary<string, string>();

    public StoredObject(JsonObject obj, long resourceVersion)
    {
        ResourceVersion = resourceVersion;
        var meta = obj["metadata"] as JsonObject;
        Name = meta?["name"]?.GetValue<string>() ?? string.Empty;
        Namespace = meta?["namespace"]?.GetValue<string>() ?? string.Empty;
        Labels = meta?["labels"] is JsonObject labels
            ? labels.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? string.Empty, StringComparer.Ordinal)
            : NoLabels;
        Uid = meta?["uid"]?.GetValue<string>();
        IsTerminating = meta?["deletionTimestamp"] is not null;
        Json = JsonSerializer.SerializeToUtf8Bytes(obj);
    }

    public string? Uid { get; }

    public string Namespace { get; }

    public string Name { get; }

    public long ResourceVersion { get; }

    public IReadOnlyDictionary<string, string> Labels { get; }

    /// <summary>The object, parsed afresh on every call: callers that need it twice keep it.</summary>
    public JsonObject Object => Copy();

    /// <summary>UTF-8 JSON of <see cref="Object"/>.</summary>
    public byte[] Json { get; }

    public string Key => StoreKey(Namespace, Name);

    public static string StoreKey(string ns, string name) => ns.Length == 0 ? name : $"{ns}/{name}";

    /// <summary>The same content stamped with another resourceVersion.</summary>
    public StoredObject WithResourceVersion(long rv)
    {
        var copy = Copy();
        ((JsonObject)copy["metadata"]!)["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new StoredObject(copy, rv);
    }

    /// <summary>A deep, mutable copy.</summary>
    public JsonObject Copy() => JsonNode.Parse(Json)!.AsObject();

    public bool IsTerminating { get; }
}
