using System.Text.Json.Nodes;

namespace Extip.ApiServer.Patching;

/// <summary>JSON merge patch, RFC 7386: objects merge, null deletes, everything else replaces.</summary>
public static class MergePatch
{
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject p)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? new JsonObject();
        foreach (var (k, v) in p)
        {
            if (v is null)
            {
                result.Remove(k);
            }
            else
            {
                var merged = Apply(result[k]?.DeepClone(), v);
                result[k] = merged;
            }
        }

        return result;
    }
}
