using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;

namespace Extip.ApiServer.Resources.Kinds;

/// <summary>
/// <c>rbac.authorization.k8s.io/v1</c> as kube-apiserver v1.20 validates it: names are path
/// segments; a rule names verbs and either API groups and resources or (cluster-wide only)
/// non-resource URLs; a binding's roleRef is a Role or ClusterRole and never changes.
/// </summary>
public sealed class RbacStrategy(bool clusterScoped, bool binding) : DefaultStrategy
{
    private static readonly string[] SubjectKinds = ["ServiceAccount", "User", "Group"];

    public override IEnumerable<FieldError> Validate(ResourceContext ctx, JsonObject obj, JsonObject? old)
    {
        var name = obj.Str("metadata", "name") ?? string.Empty;
        if (PathSegmentProblem(name) is { } problem)
        {
            yield return FieldError.Invalid("metadata.name", name, problem);
        }

        var errors = binding ? ValidateBinding(obj, old) : ValidateRules(obj);
        foreach (var e in errors)
        {
            yield return e;
        }
    }

    /// <summary>What kube-apiserver's path-segment name rule says about a name, or null.</summary>
    public static string? PathSegmentProblem(string name)
    {
        if (name is "." or "..")
        {
            return $"may not be '{name}'";
        }

        foreach (var bad in new[] { "/", "%" })
        {
            if (name.Contains(bad, StringComparison.Ordinal))
            {
                return $"may not contain '{bad}'";
            }
        }

        return null;
    }

    private IEnumerable<FieldError> ValidateRules(JsonObject obj)
    {
        var rules = obj["rules"] as JsonArray ?? [];
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i] as JsonObject ?? [];
            var field = $"rules[{i}]";
            if (Strings(rule, "verbs").Count == 0)
            {
                yield return FieldError.Required($"{field}.verbs", "verbs must contain at least one value");
            }

            var urls = Strings(rule, "nonResourceURLs");
            if (urls.Count > 0)
            {
                if (!clusterScoped)
                {
                    yield return FieldError.Invalid($"{field}.nonResourceURLs", GoSlice(urls), "namespaced rules cannot apply to non-resource URLs");
                }
                else if (Strings(rule, "apiGroups").Count > 0 || Strings(rule, "resources").Count > 0)
                {
                    yield return FieldError.Invalid($"{field}.nonResourceURLs", GoSlice(urls), "rules cannot apply to both regular resources and non-resource URLs");
                }

                continue;
            }

            if (Strings(rule, "apiGroups").Count == 0)
            {
                yield return FieldError.Required($"{field}.apiGroups", "resource rules must supply at least one api group");
            }

            if (Strings(rule, "resources").Count == 0)
            {
                yield return FieldError.Required($"{field}.resources", "resource rules must supply at least one resource");
            }
        }
    }

    private IEnumerable<FieldError> ValidateBinding(JsonObject obj, JsonObject? old)
    {
        var roleRef = obj["roleRef"] as JsonObject ?? [];
        if (old?["roleRef"] is JsonObject before && !JsonNode.DeepEquals(Normal(before), Normal(roleRef)))
        {
            yield return FieldError.Invalid("roleRef",
                new GoValue($"rbac.RoleRef{{APIGroup:\"{roleRef.Str("apiGroup")}\", Kind:\"{roleRef.Str("kind")}\", Name:\"{roleRef.Str("name")}\"}}"), "cannot change roleRef");
            yield break;
        }

        var kind = roleRef.Str("kind") ?? string.Empty;
        string[] kinds = clusterScoped ? ["ClusterRole"] : ["Role", "ClusterRole"];
        if (!kinds.Contains(kind))
        {
            yield return FieldError.NotSupported("roleRef.kind", kind, kinds);
        }

        if (roleRef.Str("apiGroup") is { Length: > 0 } group && group != "rbac.authorization.k8s.io")
        {
            yield return FieldError.NotSupported("roleRef.apiGroup", group, ["rbac.authorization.k8s.io"]);
        }

        if (string.IsNullOrEmpty(roleRef.Str("name")))
        {
            yield return FieldError.Required("roleRef.name");
        }
        else if (PathSegmentProblem(roleRef.Str("name")!) is { } problem)
        {
            yield return FieldError.Invalid("roleRef.name", roleRef.Str("name"), problem);
        }

        var subjects = obj["subjects"] as JsonArray ?? [];
        for (var i = 0; i < subjects.Count; i++)
        {
            var s = subjects[i] as JsonObject ?? [];
            var field = $"subjects[{i}]";
            var subjectKind = s.Str("kind") ?? string.Empty;
            if (!SubjectKinds.Contains(subjectKind))
            {
                yield return FieldError.NotSupported($"{field}.kind", subjectKind, SubjectKinds);
            }

            if (string.IsNullOrEmpty(s.Str("name")))
            {
                yield return FieldError.Required($"{field}.name");
            }

            if (subjectKind == "ServiceAccount" && clusterScoped && string.IsNullOrEmpty(s.Str("namespace")))
            {
                yield return FieldError.Required($"{field}.namespace");
            }
        }
    }

    public override void PrepareForCreate(ResourceContext ctx, JsonObject obj) => DefaultApiGroups(obj);

    public override void PrepareForUpdate(ResourceContext ctx, JsonObject obj, JsonObject old) => DefaultApiGroups(obj);

    /// <summary>v1 defaulting: a User or Group subject, and the roleRef, carry the RBAC API group.</summary>
    private void DefaultApiGroups(JsonObject obj)
    {
        if (!binding)
        {
            return;
        }

        foreach (var s in (obj["subjects"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (s.Str("kind") is "User" or "Group" && s["apiGroup"] is null)
            {
                s["apiGroup"] = "rbac.authorization.k8s.io";
            }
        }
    }

    private static JsonObject Normal(JsonObject roleRef) => new()
    {
        ["apiGroup"] = roleRef.Str("apiGroup") ?? string.Empty,
        ["kind"] = roleRef.Str("kind") ?? string.Empty,
        ["name"] = roleRef.Str("name") ?? string.Empty,
    };

    private static List<string> Strings(JsonObject o, string key) =>
        (o[key] as JsonArray ?? []).Select(n => n?.GetValue<string>() ?? string.Empty).ToList();

    private static GoValue GoSlice(IEnumerable<string> values) => new($"[]string{{{string.Join(", ", values.Select(v => $"\"{v}\""))}}}");

    /// <summary>A value printed the way Go's %#v printed it in kube-apiserver's message.</summary>
    private sealed record GoValue(string Text)
    {
        public override string ToString() => Text;
    }
}
