using System.Text.Json.Nodes;
using Extip.ApiServer.Authorization;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

/// <summary>
/// The review kinds, answered by the server's authentication and authorization, never stored, 201
/// as on kube-apiserver: <c>authorization.k8s.io/v1</c> SelfSubjectAccessReview (<c>kubectl auth
/// can-i</c>), SelfSubjectRulesReview (<c>kubectl auth can-i --list</c>), SubjectAccessReview and
/// LocalSubjectAccessReview (may that user?), and <c>authentication.k8s.io/v1</c> TokenReview (whose token is this?).
/// </summary>
public sealed partial class ApiHandler
{
    private const string UserItem = "extip.user";

    public const string ReviewGroup = "authorization.k8s.io";

    private static bool IsReview(ResourceType t) => t.Group == ReviewGroup || t is { Group: "authentication.k8s.io", Plural: "tokenreviews" };

    private async Task ReviewAsync(HttpContext http, RequestInfo info)
    {
        if (info.Verb != "create" || info.Name is not null)
        {
            throw Errors.MethodNotAllowed(info.Verb, info.Type);
        }

        var body = await ReadBodyAsync(http) as JsonObject ?? throw Errors.BadRequest($"the object provided is unrecognized (must be of type {info.Type.Kind})");
        var spec = body["spec"] as JsonObject ?? [];
        var caller = http.Items[UserItem] as UserInfo ?? new UserInfo("admin", [UserInfo.Masters, UserInfo.Authenticated]);
        var status = info.Type.Kind switch
        {
            "SelfSubjectAccessReview" => new JsonObject { ["allowed"] = Allowed(caller, Attributes(info, spec)) },
            "SubjectAccessReview" or "LocalSubjectAccessReview" => new JsonObject { ["allowed"] = Allowed(Subject(info, spec), Attributes(info, spec)) },
            "SelfSubjectRulesReview" => RulesReview(caller, spec),
            "TokenReview" => TokenReview(info, spec),
            _ => throw Errors.MethodNotAllowed(info.Verb, info.Type),
        };
        var answer = new JsonObject
        {
            ["kind"] = info.Type.Kind,
            ["apiVersion"] = info.Type.GroupVersion,
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = status,
        };
        await WriteJsonAsync(http, 201, answer);
    }

    private bool Allowed(UserInfo user, RequestAttributes request) => _rbac?.Allowed(user, request) ?? true;

    private static RequestAttributes Attributes(RequestInfo info, JsonObject spec)
    {
        if (spec["resourceAttributes"] is JsonObject r)
        {
            var ns = r.Str("namespace") ?? string.Empty;
            if (info.Type.Namespaced && ns != info.Namespace)
            {
                throw Errors.Invalid(info.Type, string.Empty, [FieldError.Invalid("spec.resourceAttributes.namespace", ns, "must match metadata.namespace")]);
            }

            return new RequestAttributes(r.Str("verb") ?? string.Empty, true, string.Empty, r.Str("group") ?? string.Empty, r.Str("resource") ?? string.Empty,
                r.Str("subresource") ?? string.Empty, ns, r.Str("name") ?? string.Empty);
        }

        if (spec["nonResourceAttributes"] is JsonObject n && !info.Type.Namespaced)
        {
            return new RequestAttributes(n.Str("verb") ?? string.Empty, false, n.Str("path") ?? string.Empty, string.Empty, string.Empty, string.Empty, string.Empty, string.Empty);
        }

        throw Errors.Invalid(info.Type, string.Empty, [FieldError.Required("spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")]);
    }

    /// <summary>The user a SubjectAccessReview asks about: a user or a group is required.</summary>
    private static UserInfo Subject(RequestInfo info, JsonObject spec)
    {
        var groups = (spec["groups"] as JsonArray ?? []).Select(g => g?.GetValue<string>() ?? string.Empty).ToList();
        var user = spec.Str("user") ?? string.Empty;
        if (user.Length == 0 && groups.Count == 0)
        {
            throw Errors.Invalid(info.Type, string.Empty, [FieldError.Invalid("spec.user", user, "at least one of user or group must be specified")]);
        }

        return new UserInfo(user, groups) { Uid = spec.Str("uid") ?? string.Empty };
    }

    private JsonObject RulesReview(UserInfo caller, JsonObject spec)
    {
        var ns = spec.Str("namespace") ?? string.Empty;
        if (_rbac is null)
        {
            // AlwaysAllow: everything, as kube-apiserver's AlwaysAllow authorizer lists it.
            return new JsonObject
            {
                ["resourceRules"] = new JsonArray(new JsonObject { ["verbs"] = new JsonArray("*"), ["apiGroups"] = new JsonArray("*"), ["resources"] = new JsonArray("*") }),
                ["nonResourceRules"] = new JsonArray(new JsonObject { ["verbs"] = new JsonArray("*"), ["nonResourceURLs"] = new JsonArray("*") }),
                ["incomplete"] = false,
            };
        }

        var (resource, nonResource) = _rbac.RulesFor(caller, ns);
        return new JsonObject
        {
            ["resourceRules"] = new JsonArray(resource.Select(r => (JsonNode)r).ToArray()),
            ["nonResourceRules"] = new JsonArray(nonResource.Select(r => (JsonNode)r).ToArray()),
            ["incomplete"] = false,
        };
    }

    private JsonObject TokenReview(RequestInfo info, JsonObject spec)
    {
        var token = spec.Str("token") ?? string.Empty;
        if (token.Length == 0)
        {
            throw Errors.Invalid(info.Type, string.Empty, [FieldError.Required("spec.token", "token must not be empty")]);
        }

        var user = _authenticator.Authenticate($"Bearer {token}") ?? _serviceAccountTokens.Authenticate(token);
        if (user is null)
        {
            return new JsonObject { ["user"] = new JsonObject() };
        }

        var u = new JsonObject { ["username"] = user.Name, ["groups"] = new JsonArray(user.Groups.Select(g => (JsonNode)g).ToArray()) };
        if (user.Uid.Length > 0)
        {
            u["uid"] = user.Uid;
        }

        if (user.Extra.Count > 0)
        {
            u["extra"] = new JsonObject(user.Extra.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonArray(kv.Value.Select(v => (JsonNode)v).ToArray()))));
        }

        return new JsonObject { ["authenticated"] = true, ["user"] = u };
    }
}
