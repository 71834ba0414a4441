using System.Text.Json.Nodes;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;

namespace Extip.ApiServer.Authorization;

/// <summary>
/// What a request asks to do, as kube-apiserver's RequestInfoFactory reads it from the path alone
/// (before it knows whether the resource exists: a forbidden request gets 403, not 404).
/// </summary>
public sealed record RequestAttributes(string Verb, bool IsResource, string Path, string Group, string Resource, string Subresource, string Namespace, string Name)
{
    private static readonly HashSet<string> NamespaceSubresources = ["status", "finalize"];

    public static RequestAttributes From(string method, string path, bool watchParam)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var nonResource = new RequestAttributes(method.ToLowerInvariant(), false, path, string.Empty, string.Empty, string.Empty, string.Empty, string.Empty);
        string group;
        string[] rest;
        switch (parts)
        {
            case ["api", _, _, ..]:
                group = string.Empty;
                rest = parts[2..];
                break;
            case ["apis", var g, _, _, ..]:
                group = g;
                rest = parts[3..];
                break;
            default:
                return nonResource;
        }

        var watch = false;
        if (rest[0] == "watch")
        {
            watch = true;
            rest = rest[1..];
            if (rest.Length == 0)
            {
                return nonResource;
            }
        }

        var ns = string.Empty;
        if (rest[0] == "namespaces" && rest.Length > 1)
        {
            ns = rest[1];
            if (rest.Length > 2 && !NamespaceSubresources.Contains(rest[2]))
            {
                rest = rest[2..];
            }
        }

        var name = rest.Length > 1 ? rest[1] : string.Empty;
        var sub = rest.Length > 2 ? rest[2] : string.Empty;
        var verb = method switch
        {
            "GET" or "HEAD" when watch || (watchParam && name.Length == 0) => "watch",
            "GET" or "HEAD" => name.Length == 0 ? "list" : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => name.Length == 0 ? "deletecollection" : "delete",
            _ => method.ToLowerInvariant(),
        };
        return new RequestAttributes(verb, true, path, group, rest[0], sub, ns, name);
    }

    /// <summary>kube-apiserver's 403 message for this request and user.</summary>
    public string ForbiddenMessage(UserInfo user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (!IsResource)
        {
            return $"forbidden: User \"{user.Name}\" cannot {Verb} path \"{Path}\"";
        }

        var qualified = Group.Length == 0 ? Resource : $"{Resource}.{Group}";
        var what = Name.Length == 0 ? qualified : $"{qualified} \"{Name}\"";
        var resource = Subresource.Length == 0 ? Resource : $"{Resource}/{Subresource}";
        var scope = Namespace.Length == 0 ? "at the cluster scope" : $"in the namespace \"{Namespace}\"";
        return $"{what} is forbidden: User \"{user.Name}\" cannot {Verb} resource \"{resource}\" in API group \"{Group}\" {scope}";
    }
}

/// <summary>
/// RBAC as kube-apiserver evaluates it, from the Roles, ClusterRoles and bindings in the store:
/// a request is allowed when some rule bound to the user (by name, group or ServiceAccount)
/// covers its verb, API group, resource (and subresource) and, when the rule names any, the
/// object's name. <c>system:masters</c> may do anything; every authenticated user may read the
/// discovery, version, health and OpenAPI paths (the bootstrap <c>system:discovery</c> and
/// <c>system:public-info-viewer</c> roles).
/// </summary>
public sealed class RbacAuthorizer(ObjectStore store, ResourceRegistry registry)
{
    private const string Group = "rbac.authorization.k8s.io";
    private static readonly string[] PublicPaths = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/", "/healthz", "/livez", "/readyz"];

    public bool Allowed(UserInfo user, RequestAttributes request)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(request);
        if (user.IsMaster)
        {
            return true;
        }

        if (!request.IsResource && request.Verb == "get" && PublicPaths.Any(p => UrlMatches(p, request.Path)))
        {
            return true;
        }

        // The bootstrap system:basic-user role: anyone may ask what they may do.
        if (request is { IsResource: true, Verb: "create", Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews" or "selfsubjectrulesreviews" })
        {
            return true;
        }

        foreach (var binding in Objects("clusterrolebindings", null))
        {
            if (Applies(binding, user, string.Empty) && Rules(binding, string.Empty).Any(r => Covers(r, request)))
            {
                return true;
            }
        }

        if (request.IsResource && request.Namespace.Length > 0)
        {
            foreach (var binding in Objects("rolebindings", request.Namespace))
            {
                if (Applies(binding, user, request.Namespace) && Rules(binding, request.Namespace).Any(r => Covers(r, request)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// What a user may do in a namespace, as SelfSubjectRulesReview lists it: the rules of every
    /// binding that names the user (cluster-wide ones, and the namespace's), plus what anyone may.
    /// </summary>
    public (List<JsonObject> ResourceRules, List<JsonObject> NonResourceRules) RulesFor(UserInfo user, string ns)
    {
        ArgumentNullException.ThrowIfNull(user);
        var rules = new List<JsonObject>();
        if (user.IsMaster)
        {
            rules.Add(new JsonObject { ["verbs"] = new JsonArray("*"), ["apiGroups"] = new JsonArray("*"), ["resources"] = new JsonArray("*") });
            rules.Add(new JsonObject { ["verbs"] = new JsonArray("*"), ["nonResourceURLs"] = new JsonArray("*") });
        }

        rules.Add(new JsonObject
        {
            ["verbs"] = new JsonArray("create"), ["apiGroups"] = new JsonArray("authorization.k8s.io"),
            ["resources"] = new JsonArray("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
        });
        rules.Add(new JsonObject { ["verbs"] = new JsonArray("get"), ["nonResourceURLs"] = new JsonArray(PublicPaths.Select(p => (JsonNode)p).ToArray()) });
        foreach (var binding in Objects("clusterrolebindings", null).Where(b => Applies(b, user, string.Empty)))
        {
            rules.AddRange(Rules(binding, string.Empty));
        }

        if (ns.Length > 0)
        {
            foreach (var binding in Objects("rolebindings", ns).Where(b => Applies(b, user, ns)))
            {
                rules.AddRange(Rules(binding, ns));
            }
        }

        var resource = new List<JsonObject>();
        var nonResource = new List<JsonObject>();
        foreach (var r in rules)
        {
            if (r["resources"] is JsonArray)
            {
                var rule = new JsonObject { ["verbs"] = r["verbs"]?.DeepClone(), ["apiGroups"] = r["apiGroups"]?.DeepClone(), ["resources"] = r["resources"]?.DeepClone() };
                if (r["resourceNames"] is JsonArray names && names.Count > 0)
                {
                    rule["resourceNames"] = names.DeepClone();
                }

                resource.Add(rule);
            }

            if (r["nonResourceURLs"] is JsonArray urls && urls.Count > 0)
            {
                nonResource.Add(new JsonObject { ["verbs"] = r["verbs"]?.DeepClone(), ["nonResourceURLs"] = urls.DeepClone() });
            }
        }

        return (resource, nonResource);
    }

    private IEnumerable<JsonObject> Objects(string plural, string? ns)
    {
        if (registry.Find(Group, "v1", plural) is not { } type)
        {
            return [];
        }

        var filter = ns is null ? ListFilter.All : ListFilter.All with { Namespace = ns };
        return store.List(type, filter, 0, null).Items.Select(o => o.Copy());
    }

    private static bool Applies(JsonObject binding, UserInfo user, string bindingNamespace)
    {
        foreach (var s in (binding["subjects"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var name = s.Str("name") ?? string.Empty;
            var applies = s.Str("kind") switch
            {
                "User" => user.Name == name,
                "Group" => user.Groups.Contains(name),
                "ServiceAccount" => user.Name == $"system:serviceaccount:{(s.Str("namespace") is { Length: > 0 } n ? n : bindingNamespace)}:{name}",
                _ => false,
            };
            if (applies)
            {
                return true;
            }
        }

        return false;
    }

    private IEnumerable<JsonObject> Rules(JsonObject binding, string bindingNamespace)
    {
        var roleRef = binding["roleRef"] as JsonObject ?? [];
        var name = roleRef.Str("name") ?? string.Empty;
        var role = roleRef.Str("kind") switch
        {
            "ClusterRole" => Get("clusterroles", string.Empty, name),
            "Role" when bindingNamespace.Length > 0 => Get("roles", bindingNamespace, name),
            _ => null,
        };
        return (role?["rules"] as JsonArray ?? []).OfType<JsonObject>();
    }

    private JsonObject? Get(string plural, string ns, string name) =>
        registry.Find(Group, "v1", plural) is { } type ? store.Get(type, ns, name)?.Copy() : null;

    private static bool Covers(JsonObject rule, RequestAttributes r)
    {
        if (!Has(rule, "verbs", r.Verb))
        {
            return false;
        }

        if (!r.IsResource)
        {
            return Strings(rule, "nonResourceURLs").Any(u => UrlMatches(u, r.Path));
        }

        if (!Has(rule, "apiGroups", r.Group))
        {
            return false;
        }

        var combined = r.Subresource.Length == 0 ? r.Resource : $"{r.Resource}/{r.Subresource}";
        var resourceOk = Strings(rule, "resources").Any(x => x == "*" || x == combined || (r.Subresource.Length > 0 && x == "*/" + r.Subresource));
        if (!resourceOk)
        {
            return false;
        }

        var names = Strings(rule, "resourceNames");
        return names.Count == 0 || (r.Name.Length > 0 && names.Contains(r.Name));
    }

    private static bool Has(JsonObject rule, string key, string value) => Strings(rule, key).Any(x => x == "*" || x == value);

    private static List<string> Strings(JsonObject o, string key) =>
        (o[key] as JsonArray ?? []).Select(n => n?.GetValue<string>() ?? string.Empty).ToList();

    private static bool UrlMatches(string rule, string path) =>
        rule == "*" || rule == path || (rule.EndsWith('*') && path.StartsWith(rule[..^1], StringComparison.Ordinal));
}
