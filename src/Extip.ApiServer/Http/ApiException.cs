using System.Text.Json.Nodes;

namespace Extip.ApiServer.Http;

/// <summary>One field problem of a 422 Invalid answer, as a Status cause.</summary>
public sealed record FieldError(string Field, string Reason, string Message)
{
    public static FieldError Invalid(string field, object? value, string detail) =>
        new(field, "FieldValueInvalid", $"Invalid value: {Render(value)}: {detail}");

    public static FieldError Required(string field, string detail = "") =>
        new(field, "FieldValueRequired", detail.Length == 0 ? "Required value" : $"Required value: {detail}");

    public static FieldError NotSupported(string field, object? value, IEnumerable<string> supported) =>
        new(field, "FieldValueNotSupported", $"Unsupported value: {Render(value)}: supported values: {string.Join(", ", supported.Select(s => $"\"{s}\""))}");

    public static FieldError Duplicate(string field, object? value) =>
        new(field, "FieldValueDuplicate", $"Duplicate value: {Render(value)}");

    public static FieldError Forbidden(string field, string detail) => new(field, "FieldValueForbidden", $"Forbidden: {detail}");

    public static FieldError TypeInvalid(string field, object? value, string detail) =>
        new(field, "FieldValueTypeInvalid", $"Invalid value: {Render(value)}: {detail}");

    public override string ToString() => $"{Field}: {Message}";

    private static string Render(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        JsonNode n => n.ToJsonString(),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "null",
    };
}

/// <summary>An error answered as a Kubernetes <c>Status</c> object, with the real server's code, reason and message.</summary>
public sealed class ApiException : Exception
{
    public ApiException(int code, string reason, string message, string? name = null, string? group = null, string? kind = null, IReadOnlyList<FieldError>? causes = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Name = name;
        Group = group;
        Kind = kind;
        Causes = causes ?? [];
    }

    public ApiException()
        : this(500, "InternalError", "internal error")
    {
    }

    public ApiException(string message)
        : this(500, "InternalError", message)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = 500;
        Reason = "InternalError";
        Causes = [];
    }

    public int Code { get; }

    public string Reason { get; }

    public string? Name { get; }

    public string? Group { get; }

    public string? Kind { get; }

    public IReadOnlyList<FieldError> Causes { get; }

    /// <summary>Why a patch did not apply; logged, not sent (the real server answers with a generic message).</summary>
    public string? PatchError { get; init; }

    /// <summary>Extra fields for <c>details</c>, such as <c>retryAfterSeconds</c>.</summary>
    public int? RetryAfterSeconds { get; init; }

    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
        };
        if (Reason.Length > 0)
        {
            // A webhook's denial may carry no reason; the real server then sends none.
            status["reason"] = Reason;
        }

        if (Name is not null || Kind is not null || Causes.Count > 0 || RetryAfterSeconds is not null || Code is 415 || PatchError is not null)
        {
            var details = new JsonObject();
            if (Name is not null)
            {
                details["name"] = Name;
            }

            if (!string.IsNullOrEmpty(Group))
            {
                details["group"] = Group;
            }

            if (Kind is not null)
            {
                details["kind"] = Kind;
            }

            if (Causes.Count > 0)
            {
                details["causes"] = new JsonArray(Causes.Select(c => (JsonNode)new JsonObject
                {
                    ["reason"] = c.Reason,
                    ["message"] = c.Message,
                    ["field"] = c.Field,
                }).ToArray());
            }

            if (RetryAfterSeconds is { } r)
            {
                details["retryAfterSeconds"] = r;
            }

            status["details"] = details;
        }

        status["code"] = Code;
        return status;
    }
}
