using System.Text.Json.Nodes;

namespace Extip.ApiServer.Tables;

public sealed record Column(string Name, string Type, string Format, string Description, int Priority = 0)
{
    public JsonObject ToJson() => new()
    {
        ["name"] = Name,
        ["type"] = Type,
        ["format"] = Format,
        ["description"] = Description,
        ["priority"] = Priority,
    };
}

/// <summary>Turns objects into rows of a <c>meta.k8s.io/v1 Table</c>, as <c>kubectl get</c> asks for.</summary>
public interface ITableConvertor
{
    IReadOnlyList<Column> Columns { get; }

    JsonArray Cells(JsonObject obj, DateTimeOffset now);
}

/// <summary>The real server's default for kinds without their own table: Name and Created At.</summary>
public sealed class DefaultTable : ITableConvertor
{
    public static readonly DefaultTable Instance = new();

    public IReadOnlyList<Column> Columns { get; } =
    [
        TableColumns.Name,
        new("Created At", "date", "", "CreationTimestamp is a timestamp representing the server time when this object was created."),
    ];

    public JsonArray Cells(JsonObject obj, DateTimeOffset now) =>
        [obj["metadata"]?["name"]?.GetValue<string>(), obj["metadata"]?["creationTimestamp"]?.DeepClone()];
}

/// <summary>A table from column definitions and one function per row.</summary>
public sealed class LambdaTable(IReadOnlyList<Column> columns, Func<JsonObject, DateTimeOffset, JsonNode?[]> cells) : ITableConvertor
{
    public IReadOnlyList<Column> Columns { get; } = columns;

    public JsonArray Cells(JsonObject obj, DateTimeOffset now) => new(cells(obj, now));
}

public static class TableColumns
{
    public static readonly Column Name = new("Name", "string", "name", "Name must be unique within a namespace.");

    public static readonly Column AgeColumn = new("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.");

    public static string Age(JsonObject obj, DateTimeOffset now) =>
        Json.JsonPath.ParseTimestamp(obj["metadata"]?["creationTimestamp"]?.GetValue<string>()) is { } t ? HumanDuration(now - t) : "<unknown>";

    /// <summary>Durations as kubectl shows ages: 45s, 2m10s, 5m, 3h20m, 2d5h, 40d, 2y10d.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        if (d < TimeSpan.FromSeconds(-1))
        {
            return "<invalid>";
        }

        if (d < TimeSpan.Zero)
        {
            return "0s";
        }

        var seconds = (long)d.TotalSeconds;
        if (seconds < 60 * 2)
        {
            return $"{seconds}s";
        }

        var minutes = (long)d.TotalMinutes;
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? $"{minutes}m" : $"{minutes}m{s}s";
        }

        if (minutes < 60 * 3)
        {
            return $"{minutes}m";
        }

        var hours = (long)d.TotalHours;
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? $"{hours}h" : $"{hours}h{m}m";
        }

        if (hours < 48)
        {
            return $"{hours}h";
        }

        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? $"{hours / 24}d" : $"{hours / 24}d{h}h";
        }

        if (hours < 24 * 365 * 2)
        {
            return $"{hours / 24}d";
        }

        if (hours < 24 * 365 * 8)
        {
            var dy = hours / 24 % 365;
            return dy == 0 ? $"{hours / 24 / 365}y" : $"{hours / 24 / 365}y{dy}d";
        }

        return $"{hours / 24 / 365}y";
    }
}
