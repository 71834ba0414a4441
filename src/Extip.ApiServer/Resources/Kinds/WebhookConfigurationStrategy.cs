using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Validation;

namespace Extip.ApiServer.Resources.Kinds;

/// <summary>
/// <c>admissionregistration.k8s.io/v1</c> ValidatingWebhookConfiguration: the v1 defaults
/// (failurePolicy Fail, matchPolicy Equivalent, empty selectors, timeout 10 s, scope *, service
/// port 443) and the v1 validation rules that keep a configuration callable.
/// </summary>
public sealed class WebhookConfigurationStrategy(bool mutating = false) : DefaultStrategy
{
    private static readonly string[] Operations = ["*", "CREATE", "UPDATE", "DELETE", "CONNECT"];
    private static readonly string[] Policies = ["Fail", "Ignore"];
    private static readonly string[] SideEffects = ["None", "NoneOnDryRun"];
    private static readonly string[] Scopes = ["*", "Cluster", "Namespaced"];
    private static readonly string[] MatchPolicies = ["Exact", "Equivalent"];

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj) => Defaults(obj);

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) => Defaults(obj);

    public override bool TracksGeneration => true;

    private void Defaults(JsonObject obj)
    {
        foreach (var w in (obj["webhooks"] as JsonArray ?? []).OfType<JsonObject>())
        {
            w["failurePolicy"] ??= "Fail";
            w["matchPolicy"] ??= "Equivalent";
            w["namespaceSelector"] ??= new JsonObject();
            w["objectSelector"] ??= new JsonObject();
            w["timeoutSeconds"] ??= 10;
            if (mutating)
            {
                w["reinvocationPolicy"] ??= "Never";
            }
            foreach (var r in (w["rules"] as JsonArray ?? []).OfType<JsonObject>())
            {
                r["scope"] ??= "*";
            }

            if (w.At("clientConfig", "service") is JsonObject s)
            {
                s["port"] ??= 443;
            }
        }
    }

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        if (NameRules.Dns1123Subdomain("metadata.name", obj.Str("metadata", "name") ?? string.Empty) is { } e)
        {
            yield return e;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var w in (obj["webhooks"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var at = $"webhooks[{i++}]";
            var name = w.Str("name") ?? string.Empty;
            if (name.Length == 0)
            {
                yield return FieldError.Required($"{at}.name");
            }
            else if (name.Split('.').Length < 3 || NameRules.Dns1123Subdomain($"{at}.name", name) is not null)
            {
                yield return FieldError.Invalid($"{at}.name", name, "should be a domain with at least three segments separated by dots");
            }
            else if (!names.Add(name))
            {
                yield return FieldError.Duplicate($"{at}.name", name);
            }

            var versions = (w["admissionReviewVersions"] as JsonArray ?? []).Select(v => v?.ToString() ?? string.Empty).ToList();
            if (versions.Count == 0)
            {
                yield return FieldError.Required($"{at}.admissionReviewVersions", "must specify one of v1, v1beta1");
            }
            else if (!versions.Contains("v1") && !versions.Contains("v1beta1"))
            {
                yield return FieldError.Invalid($"{at}.admissionReviewVersions", new JsonArray(versions.Select(v => (JsonNode?)v).ToArray()), "must include at least one of v1, v1beta1");
            }

            var sideEffects = w.Str("sideEffects");
            if (sideEffects is null)
            {
                yield return FieldError.Required($"{at}.sideEffects", "must specify one of None, NoneOnDryRun");
            }
            else if (!SideEffects.Contains(sideEffects))
            {
                yield return FieldError.NotSupported($"{at}.sideEffects", sideEffects, SideEffects);
            }

            if (w.Str("failurePolicy") is { } fp && !Policies.Contains(fp))
            {
                yield return FieldError.NotSupported($"{at}.failurePolicy", fp, Policies);
            }

            if (w.Str("matchPolicy") is { } mp && !MatchPolicies.Contains(mp))
            {
                yield return FieldError.NotSupported($"{at}.matchPolicy", mp, MatchPolicies);
            }

            if (w.Long("timeoutSeconds") is { } t && t is < 1 or > 30)
            {
                yield return FieldError.Invalid($"{at}.timeoutSeconds", t, "the timeout value must be between 1 and 30 seconds");
            }

            foreach (var err in ClientConfig(w["clientConfig"] as JsonObject, $"{at}.clientConfig"))
            {
                yield return err;
            }

            var r = 0;
            foreach (var rule in (w["rules"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var rat = $"{at}.rules[{r++}]";
                foreach (var op in (rule["operations"] as JsonArray ?? []).Select(o => o?.ToString() ?? string.Empty).Where(o => !Operations.Contains(o)))
                {
                    yield return FieldError.NotSupported($"{rat}.operations", op, Operations);
                }

                foreach (var field in new[] { "operations", "apiGroups", "apiVersions", "resources" })
                {
                    if ((rule[field] as JsonArray)?.Count is null or 0)
                    {
                        yield return FieldError.Required($"{rat}.{field}");
                    }
                }

                if (rule.Str("scope") is { } scope && !Scopes.Contains(scope))
                {
                    yield return FieldError.NotSupported($"{rat}.scope", scope, Scopes);
                }
            }
        }
    }

    private static IEnumerable<FieldError> ClientConfig(JsonObject? cc, string at)
    {
        var url = cc?.Str("url");
        var service = cc?["service"] as JsonObject;
        if ((url is null) == (service is null))
        {
            yield return FieldError.Required(at, "exactly one of url or service is required");
            yield break;
        }

        if (url is not null)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme != "https")
            {
                yield return FieldError.Invalid($"{at}.url", url, "'https' is the only allowed URL scheme");
            }
            else if (u.UserInfo.Length > 0 || u.Fragment.Length > 0 || u.Query.Length > 0)
            {
                yield return FieldError.Invalid($"{at}.url", url, "user information, fragments and query parameters are not permitted");
            }
        }
        else
        {
            if (service!.Str("name") is null)
            {
                yield return FieldError.Required($"{at}.service.name", "service name is required");
            }

            if (service.Str("namespace") is null)
            {
                yield return FieldError.Required($"{at}.service.namespace", "service namespace is required");
            }

            if (service.Long("port") is { } p && p is < 1 or > 65535)
            {
                yield return FieldError.Invalid($"{at}.service.port", p, "port is not valid: must be between 1 and 65535, inclusive");
            }
        }
    }
}
