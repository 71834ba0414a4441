using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Http;

/// <summary>The real server's error answers, word for word where clients or users read them.</summary>
public static class Errors
{
    public static ApiException NotFound(ResourceType t, string name) =>
        new(404, "NotFound", $"{t.QualifiedPlural} \"{name}\" not found", name, t.Group, t.Plural);

    public static ApiException AlreadyExists(ResourceType t, string name) =>
        new(409, "AlreadyExists", $"{t.QualifiedPlural} \"{name}\" already exists", name, t.Group, t.Plural);

    public static ApiException Conflict(ResourceType t, string name, string why = "the object has been modified; please apply your changes to the latest version and try again") =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {t.QualifiedPlural} \"{name}\": {why}", name, t.Group, t.Plural);

    public static ApiException Invalid(ResourceType t, string name, IReadOnlyList<FieldError> errors)
    {
        var list = errors.Count == 1 ? errors[0].ToString() : $"[{string.Join(", ", errors)}]";
        return new(422, "Invalid", $"{t.QualifiedKind} \"{name}\" is invalid: {list}", name, t.Group, t.Kind, errors);
    }

    public static ApiException Forbidden(Authorization.RequestAttributes request, Authorization.UserInfo user) =>
        new(403, "Forbidden", request.ForbiddenMessage(user), request.Name.Length == 0 ? null : request.Name, request.Group.Length == 0 ? null : request.Group, request.IsResource ? request.Resource : null);

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException TooLarge(string why) => new(413, "RequestEntityTooLarge", $"Request entity too large: {why}");

    public static ApiException MethodNotAllowed(string verb, ResourceType? t = null) =>
        new(405, "MethodNotAllowed", t is null ? $"the server does not allow this method on the requested resource" : $"the server does not allow this method on the requested resource", kind: t?.Plural) { };

    public static ApiException ResourceNotFound() => new(404, "NotFound", "the server could not find the requested resource");

    public static ApiException Expired(long requested, long oldest) =>
        new(410, "Expired", $"too old resource version: {requested} ({oldest})");

    public static ApiException Gone(string message) => new(410, "Expired", message);

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json{(contentType.Length > 0 ? "" : "")}");

    public static ApiException NotAcceptable() => new(406, "NotAcceptable", "the server was unable to respond with a content type that the client supports");

    public static ApiException NamespaceTerminating(string ns, ResourceType t, string name) =>
        new(403, "Forbidden", $"{t.QualifiedPlural} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", name, t.Group, t.Plural);

    public static ApiException NamespaceNotFound(string ns) =>
        new(404, "NotFound", $"namespaces \"{ns}\" not found", ns, "", "namespaces");

    public static ApiException Injected(int code, string verb, string resource) =>
        new(code, code switch { 409 => "Conflict", 410 => "Expired", 429 => "TooManyRequests", 500 => "InternalError", 503 => "ServiceUnavailable", 504 => "Timeout", _ => "InternalError" },
            $"injected fault: {verb} {resource} failed with {code}") { RetryAfterSeconds = code == 429 ? 1 : null };
}
