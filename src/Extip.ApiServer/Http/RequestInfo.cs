using Extip.ApiServer.Resources;

namespace Extip.ApiServer.Http;

/// <summary>What a resource request is about, parsed from its path as the real server's RequestInfoFactory does.</summary>
public sealed record RequestInfo(
    ResourceType Type,
    string? Namespace,
    string? Name,
    string? Subresource,
    string Verb)
{
    /// <summary>
    /// Parses the part after <c>/api/v1</c> or <c>/apis/g/v</c>. Returns null when the path names
    /// no served resource (answered 404 by the caller).
    /// </summary>
    public static RequestInfo? Parse(ResourceRegistry registry, string group, string version, string[] segs, string method, bool watchParam)
    {
        var watchPrefix = segs.Length > 0 && segs[0] == "watch";
        if (watchPrefix)
        {
            segs = segs[1..];
        }

        if (segs.Length == 0)
        {
            return null;
        }

        string? ns = null;
        string plural;
        string? name = null;
        string? sub = null;
        if (segs[0] == "namespaces" && segs.Length >= 3 && registry.Find(group, version, segs[2]) is { Namespaced: true })
        {
            ns = segs[1];
            plural = segs[2];
            name = segs.Length > 3 ? segs[3] : null;
            sub = segs.Length > 4 ? segs[4] : null;
            if (segs.Length > 5)
            {
                return null;
            }
        }
        else
        {
            plural = segs[0];
            name = segs.Length > 1 ? segs[1] : null;
            sub = segs.Length > 2 ? segs[2] : null;
            if (segs.Length > 3)
            {
                return null;
            }
        }

        var type = registry.Find(group, version, plural);
        if (type is null)
        {
            return null;
        }

        if (!type.Namespaced && ns is not null)
        {
            return null;
        }

        var verb = method switch
        {
            "GET" or "HEAD" => watchPrefix || watchParam ? (name is null ? "watch" : "watch") : name is null ? "list" : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => name is null ? "deletecollection" : "delete",
            _ => "unknown",
        };
        return new RequestInfo(type, ns, name, sub, verb);
    }
}
