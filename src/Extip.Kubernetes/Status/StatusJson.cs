using System.Text.Json;
using System.Text.Json.Serialization;

namespace Extip.Kubernetes.Status;

/// <summary><c>extip status -o json</c>: the report as it is, camelCase, enums by name, times in UTC, null fields left out.</summary>
public static class StatusJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize(StatusReport report) => JsonSerializer.Serialize(report, Options);
}
