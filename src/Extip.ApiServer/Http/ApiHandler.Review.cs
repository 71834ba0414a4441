using System.Text.Json.Nodes;
using Extip.ApiServer.Authorization;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

/// <summary>
/// <c>authorization.k8s.io/v1</c> SelfSubjectAccessReview (<c>kubectl auth can-i</c>): may the
/// caller do this? Answered by the server's authorization mode, never stored, 201 as on
/// kube-apiserver.
/// </summary>
public sealed partial class ApiHandler
{
    private const string UserItem = "extip.user";

    public const string ReviewGroup = "authorization.k8s.io";

    private static bool IsReview(ResourceType t) => t.Group == ReviewGroup;

    private async Task ReviewAsync(HttpContext http, RequestInfo info)
    {
        if (info.Verb != "create" || info.Name is not null)
        {
            throw Errors.MethodNotAllowed(info.Verb, info.Type);
        }

        var body = await ReadBodyAsync(http) as JsonObject ?? throw Errors.BadRequest($"the object provided is unrecognized (must be of type {info.Type.Kind})");
        var spec = body["spec"] as JsonObject ?? [];
        var user = http.Items[UserItem] as UserInfo ?? new UserInfo("admin", [UserInfo.Masters, UserInfo.Authenticated]);
        RequestAttributes request;
        if (spec["resourceAttributes"] is JsonObject r)
        {
            request = new RequestAttributes(r.Str("verb") ?? string.Empty, true, string.Empty, r.Str("group") ?? string.Empty, r.Str("resource") ?? string.Empty,
                r.Str("subresource") ?? string.Empty, r.Str("namespace") ?? string.Empty, r.Str("name") ?? string.Empty);
        }
        else if (spec["nonResourceAttributes"] is JsonObject n)
        {
            request = new RequestAttributes(n.Str("verb") ?? string.Empty, false, n.Str("path") ?? string.Empty, string.Empty, string.Empty, string.Empty, string.Empty, string.Empty);
        }
        else
        {
            throw Errors.Invalid(info.Type, string.Empty, [FieldError.Required("spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")]);
        }

        var allowed = _rbac?.Allowed(user, request) ?? true;
        var answer = new JsonObject
        {
            ["kind"] = info.Type.Kind,
            ["apiVersion"] = $"{ReviewGroup}/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = new JsonObject { ["allowed"] = allowed },
        };
        await WriteJsonAsync(http, 201, answer);
    }
}
