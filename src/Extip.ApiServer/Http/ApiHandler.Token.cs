using System.Globalization;
using System.Text.Json.Nodes;
using Extip.ApiServer.Authorization;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Http;

/// <summary>
/// <c>POST …/serviceaccounts/NAME/token</c> (<c>authentication.k8s.io/v1</c> TokenRequest), as
/// kube-apiserver answers it for the kubelet's projected token volumes and <c>kubectl create
/// token</c>: a token for the ServiceAccount, optionally bound to a Pod or Secret of its
/// namespace, which authenticates until it expires or the bound object is gone.
/// </summary>
public sealed partial class ApiHandler
{
    private const long MinTokenSeconds = 600;

    private static bool IsTokenRequest(ResourceType t) => t.Group.Length == 0 && t.Plural == "serviceaccounts";

    private async Task TokenRequestAsync(HttpContext http, RequestInfo info)
    {
        if (info.Verb != "create")
        {
            throw Errors.MethodNotAllowed(info.Verb, info.Type);
        }

        var ns = info.Namespace ?? string.Empty;
        var name = info.Name!;
        var sa = store.Get(info.Type, ns, name) ?? throw Errors.NotFound(info.Type, name);
        var body = await ReadBodyAsync(http) as JsonObject ?? throw Errors.BadRequest("the object provided is unrecognized (must be of type TokenRequest)");
        var spec = body["spec"] as JsonObject ?? [];
        var seconds = spec.Long("expirationSeconds") ?? 3600;
        var tokenType = new ResourceType { Group = "authentication.k8s.io", Version = "v1", Plural = "tokenrequests", Singular = "tokenrequest", Kind = "TokenRequest", Namespaced = true };
        if (seconds < MinTokenSeconds)
        {
            throw Errors.Invalid(tokenType, name, [FieldError.Invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")]);
        }

        if (seconds > 1L << 32)
        {
            throw Errors.Invalid(tokenType, name, [FieldError.Invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")]);
        }

        ServiceAccountTokens.Bound? bound = null;
        if (spec["boundObjectRef"] is JsonObject reference)
        {
            var kind = reference.Str("kind") ?? string.Empty;
            var plural = kind switch { "Pod" => "pods", "Secret" => "secrets", _ => throw Errors.BadRequest($"cannot bind token for serviceaccount \"{name}\" to object of kind \"{kind}\"") };
            var boundType = registry.Find(string.Empty, "v1", plural)!;
            var boundName = reference.Str("name") ?? string.Empty;
            var target = store.Get(boundType, ns, boundName) ?? throw Errors.NotFound(boundType, boundName);
            var uid = target.Object.Str("metadata", "uid") ?? string.Empty;
            if (reference.Str("uid") is { Length: > 0 } wanted && wanted != uid)
            {
                throw new ApiException(409, "Conflict", $"the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated");
            }

            bound = new(kind, boundName, uid);
        }

        var audiences = (spec["audiences"] as JsonArray)?.Select(a => a?.GetValue<string>() ?? string.Empty).Where(a => a.Length > 0).ToList() is { Count: > 0 } given
            ? given : [ServiceAccountTokens.Issuer];
        var expires = options.Time.GetUtcNow().AddSeconds(seconds);
        var token = _serviceAccountTokens.Issue(ns, name, sa.Object.Str("metadata", "uid") ?? string.Empty, bound, audiences, expires);
        var answerSpec = new JsonObject
        {
            ["audiences"] = new JsonArray(audiences.Select(a => (JsonNode)JsonValue.Create(a)).ToArray()),
            ["expirationSeconds"] = seconds,
            ["boundObjectRef"] = bound is null ? null : new JsonObject { ["kind"] = bound.Kind, ["apiVersion"] = "v1", ["name"] = bound.Name, ["uid"] = bound.Uid },
        };
        await WriteJsonAsync(http, 201, new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["creationTimestamp"] = null },
            ["spec"] = answerSpec,
            ["status"] = new JsonObject
            {
                ["token"] = token,
                ["expirationTimestamp"] = expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            },
        });
    }
}
