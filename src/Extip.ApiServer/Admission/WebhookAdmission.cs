using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.ApiServer.Json;
using Extip.ApiServer.Resources;
using Extip.ApiServer.Storage;
using Extip.Core.Selectors;
using Microsoft.Extensions.Logging;

namespace Extip.ApiServer.Admission;

/// <summary>What one write asks admission about, as AdmissionReview's request describes it.</summary>
public sealed record AdmissionAttributes(
    ResourceType Type, string Operation, string? Subresource, string Namespace, string Name, JsonObject? Object, JsonObject? OldObject, bool DryRun,
    Authorization.UserInfo? User = null);

/// <summary>
/// Validating admission webhooks, called as kube-apiserver v1.20 calls them
/// (<c>admissionregistration.k8s.io/v1</c>, AdmissionReview v1 or v1beta1): rules matched on
/// operation, group, version, resource, subresource and scope; namespace and object selectors;
/// every matching webhook called in parallel, each with its timeout; a denial answered with the
/// webhook's code (at least 400) and message; a failed call refuses the write under
/// <c>failurePolicy: Fail</c> and is passed over under <c>Ignore</c>.
/// </summary>
public sealed partial class WebhookAdmission(ObjectStore store, ResourceRegistry registry, ILogger logger)
{
    private readonly Lock _gate = new();
    private string _compiledKey = string.Empty;
    private IReadOnlyList<Hook> _compiled = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);

    /// <summary>The webhooks that must see this write; empty for most writes (cheap: a point check of one bucket).</summary>
    public IReadOnlyList<Hook> Matching(AdmissionAttributes a)
    {
        var hooks = Hooks();
        if (hooks.Count == 0)
        {
            return [];
        }

        IReadOnlyDictionary<string, string>? nsLabels = null;
        var matched = new List<Hook>();
        foreach (var h in hooks)
        {
            if (!h.Rules.Any(r => r.Matches(a)))
            {
                continue;
            }

            if (!h.NamespaceSelector.IsEmpty && (a.Type.Namespaced || a.Type.Plural == "namespaces"))
            {
                nsLabels ??= NamespaceLabels(a);
                if (!h.NamespaceSelector.Matches(nsLabels))
                {
                    continue;
                }
            }

            if (!h.ObjectSelector.IsEmpty && !h.ObjectSelector.Matches(Labels(a.Object)) && !h.ObjectSelector.Matches(Labels(a.OldObject)))
            {
                continue;
            }

            matched.Add(h);
        }

        return matched;
    }

    /// <summary>
    /// Calls the webhooks, all at once; throws the first refusal in their order. Returns the
    /// warnings they gave, for the response's Warning headers.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReviewAsync(IReadOnlyList<Hook> hooks, AdmissionAttributes a, CancellationToken ct)
    {
        var results = await Task.WhenAll(hooks.Select(h => CallAsync(h, a, ct)));
        var warnings = new List<string>();
        foreach (var r in results)
        {
            warnings.AddRange(r.Warnings);
            if (r.Refusal is { } refusal)
            {
                throw refusal;
            }
        }

        return warnings;
    }

    private sealed record Outcome(ApiException? Refusal, IReadOnlyList<string> Warnings);

    private async Task<Outcome> CallAsync(Hook h, AdmissionAttributes a, CancellationToken ct)
    {
        var uid = Guid.NewGuid().ToString();
        string url;
        try
        {
            url = Target(h);
        }
        catch (WebhookCallException e)
        {
            return Failed(h, e.Message);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(h.TimeoutSeconds));
        var review = Review(h, a, uid);
        try
        {
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(review));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await Client(h).PostAsync(url, content, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return Failed(h, $"Post \"{url}\": the server responded with {(int)response.StatusCode}: {Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 256))}");
            }

            var answer = JsonNode.Parse(body) as JsonObject;
            var resp = answer?["response"] as JsonObject;
            if (resp is null)
            {
                return Failed(h, "webhook response was absent");
            }

            if (resp.Str("uid") != uid)
            {
                return Failed(h, $"expected response.uid=\"{uid}\", got \"{resp.Str("uid")}\"");
            }

            var warnings = (resp["warnings"] as JsonArray ?? []).Select(w => w?.ToString() ?? string.Empty).Where(w => w.Length > 0).ToList();
            if (resp["allowed"]?.GetValueKind() == JsonValueKind.True)
            {
                return new(null, warnings);
            }

            return new(Denied(h.Name, resp["status"] as JsonObject), warnings);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Failed(h, $"Post \"{url}\": context deadline exceeded");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or InvalidOperationException or System.Security.Authentication.AuthenticationException)
        {
            return Failed(h, $"Post \"{url}\": {Innermost(e)}");
        }
    }

    /// <summary>kube-apiserver's ToStatusErr: the webhook's status, made a failure of at least 400, its message prefixed with who denied.</summary>
    private static ApiException Denied(string webhook, JsonObject? status)
    {
        var code = (int)(status.Long("code") ?? 0);
        if (code < 400)
        {
            code = 400;
        }

        var deniedBy = $"admission webhook \"{webhook}\" denied the request";
        var message = status.Str("message") is { Length: > 0 } m ? $"{deniedBy}: {m}"
            : status.Str("reason") is { Length: > 0 } r ? $"{deniedBy}: {r}"
            : $"{deniedBy} without explanation";
        return new ApiException(code, status.Str("reason") ?? string.Empty, message);
    }

    private Outcome Failed(Hook h, string why)
    {
        if (h.FailurePolicy == "Ignore")
        {
            LogIgnored(logger, h.Name, why);
            return new(null, []);
        }

        return new(new ApiException(500, "InternalError", $"Internal error occurred: failed calling webhook \"{h.Name}\": {why}"), []);
    }

    private static JsonObject Review(Hook h, AdmissionAttributes a, string uid)
    {
        var t = a.Type;
        var request = new JsonObject
        {
            ["uid"] = uid,
            ["kind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
            ["resource"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["resource"] = t.Plural },
            ["requestKind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
            ["requestResource"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["resource"] = t.Plural },
        };
        if (a.Subresource is { } sub)
        {
            request["subResource"] = sub;
            request["requestSubResource"] = sub;
        }

        if (a.Name.Length > 0)
        {
            request["name"] = a.Name;
        }

        if (a.Namespace.Length > 0)
        {
            request["namespace"] = a.Namespace;
        }

        request["operation"] = a.Operation;

        request["userInfo"] = UserJson(a.User ?? new Authorization.UserInfo("admin", [Authorization.UserInfo.Masters, Authorization.UserInfo.Authenticated]));
        request["object"] = a.Object?.DeepClone();
        request["oldObject"] = a.OldObject?.DeepClone();
        request["dryRun"] = a.DryRun;
        request["options"] = new JsonObject
        {
            ["kind"] = a.Operation switch { "CREATE" => "CreateOptions", "DELETE" => "DeleteOptions", _ => "UpdateOptions" },
            ["apiVersion"] = "meta.k8s.io/v1",
        };
        return new JsonObject
        {
            ["kind"] = "AdmissionReview",
            ["apiVersion"] = $"admission.k8s.io/{h.ReviewVersion}",
            ["request"] = request,
        };
    }

    /// <summary>authentication.k8s.io/v1 UserInfo: who asks, as webhooks see it.</summary>
    private static JsonObject UserJson(Authorization.UserInfo user)
    {
        var json = new JsonObject { ["username"] = user.Name };
        if (user.Uid.Length > 0)
        {
            json["uid"] = user.Uid;
        }

        json["groups"] = new JsonArray(user.Groups.Select(g => (JsonNode)JsonValue.Create(g)).ToArray());
        if (user.Extra.Count > 0)
        {
            var extra = new JsonObject();
            foreach (var (key, values) in user.Extra)
            {
                extra[key] = new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            }

            json["extra"] = extra;
        }

        return json;
    }

    /// <summary>The URL to post to, with kube-apiserver's <c>timeout</c> query parameter.</summary>
    private string Target(Hook h)
    {
        string url;
        if (h.Url is { } u)
        {
            url = u;
        }
        else
        {
            var s = h.Service!;
            url = $"https://{s.Name}.{s.Namespace}.svc:{s.Port}{s.Path}";
            _ = Endpoint(s);
        }

        return url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + $"timeout={h.TimeoutSeconds}s";
    }

    /// <summary>
    /// A service reference resolves as kube-apiserver's endpoint routing does: to an address of
    /// the Service's Endpoints (the embedded server runs no cluster DNS or proxy).
    /// </summary>
    private (string Host, int Port) Endpoint(ServiceRef s)
    {
        var endpoints = registry.Find(string.Empty, "v1", "endpoints")
            is { } type && store.Get(type, s.Namespace, s.Name) is { } ep ? ep.Object : null;
        var service = registry.Find(string.Empty, "v1", "services") is { } st ? store.Get(st, s.Namespace, s.Name)?.Object : null;
        if (service is null)
        {
            throw new WebhookCallException($"service \"{s.Name}\" not found");
        }

        var port = (service.At("spec", "ports") as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(p => p.Long("port") == s.Port);
        if (port is null)
        {
            throw new WebhookCallException($"service \"{s.Name}\" has no port {s.Port}");
        }

        foreach (var subset in (endpoints?["subsets"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var address = (subset["addresses"] as JsonArray ?? []).OfType<JsonObject>().Select(x => x.Str("ip")).FirstOrDefault(x => x is not null);
            var epPort = (subset["ports"] as JsonArray ?? []).OfType<JsonObject>()
                .FirstOrDefault(p => p.Str("name") == port.Str("name") || (subset["ports"] as JsonArray)!.Count == 1)?.Long("port");
            if (address is not null && epPort is { } pn)
            {
                return (address, (int)pn);
            }
        }

        throw new WebhookCallException($"service \"{s.Namespace}/{s.Name}\" has no ready endpoints");
    }

    private HttpClient Client(Hook h)
    {
        var key = $"{h.Service?.Namespace}/{h.Service?.Name}|{Convert.ToHexString(SHA256.HashData(h.CaBundle))}";
        return _clients.GetOrAdd(key, _ =>
        {
            var roots = new X509Certificate2Collection();
            if (h.CaBundle.Length > 0)
            {
                roots.ImportFromPem(Encoding.UTF8.GetString(h.CaBundle));
            }

            var handler = new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(1),
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, cert, chain, errors) => Trusted(roots, cert, chain, errors),
                },
            };
            if (h.Service is { } s)
            {
                handler.ConnectCallback = async (ctx, token) =>
                {
                    var (host, port) = Endpoint(s);
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(host, port, token);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                };
            }

            return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        });
    }

    /// <summary>The serving certificate must chain to the caBundle (or the system roots without one) and name the host.</summary>
    private static bool Trusted(X509Certificate2Collection roots, X509Certificate? cert, X509Chain? chain, SslPolicyErrors errors)
    {
        if (cert is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        if (roots.Count == 0)
        {
            return errors == SslPolicyErrors.None;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.CustomTrustStore.AddRange(roots);
        if (chain is not null)
        {
            foreach (var e in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(e.Certificate);
            }
        }

        using var leaf = new X509Certificate2(cert);
        return custom.Build(leaf);
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e.Message;
    }

    private IReadOnlyDictionary<string, string> NamespaceLabels(AdmissionAttributes a)
    {
        if (a.Type.Plural == "namespaces" && a.Type.Group.Length == 0)
        {
            return Labels(a.Object ?? a.OldObject);
        }

        var nsType = registry.Find(string.Empty, "v1", "namespaces");
        return nsType is not null && store.Get(nsType, string.Empty, a.Namespace) is { } ns ? ns.Labels : new Dictionary<string, string>();
    }

    private static Dictionary<string, string> Labels(JsonObject? o) =>
        (o?.At("metadata", "labels") as JsonObject ?? []).ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);

    /// <summary>The webhooks of every ValidatingWebhookConfiguration, compiled again only when one changed.</summary>
    private IReadOnlyList<Hook> Hooks()
    {
        var type = registry.Find("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations");
        if (type is null || store.Count(type) == 0)
        {
            return [];
        }

        var items = store.List(type, ListFilter.All, 0, null).Items;
        var key = string.Join(",", items.Select(i => $"{i.Name}@{i.ResourceVersion}"));
        lock (_gate)
        {
            if (key != _compiledKey)
            {
                _compiled = items.SelectMany(i => Hook.Compile(i.Object)).ToList();
                _compiledKey = key;
            }

            return _compiled;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "admission webhook {Webhook} failed and is ignored (failurePolicy Ignore): {Why}")]
    private static partial void LogIgnored(ILogger logger, string webhook, string why);
}

internal sealed class WebhookCallException : Exception
{
    public WebhookCallException()
    {
    }

    public WebhookCallException(string message)
        : base(message)
    {
    }

    public WebhookCallException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

public sealed record ServiceRef(string Namespace, string Name, string Path, int Port);

/// <summary>One webhook of a ValidatingWebhookConfiguration, defaulted as the v1 API defaults it.</summary>
public sealed record Hook(
    string Name, string? Url, ServiceRef? Service, byte[] CaBundle, IReadOnlyList<Rule> Rules, string FailurePolicy,
    LabelSelector NamespaceSelector, LabelSelector ObjectSelector, int TimeoutSeconds, string ReviewVersion)
{
    public static IEnumerable<Hook> Compile(JsonObject config)
    {
        foreach (var w in (config["webhooks"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var cc = w["clientConfig"] as JsonObject ?? [];
            ServiceRef? service = cc["service"] is JsonObject s
                ? new ServiceRef(s.Str("namespace") ?? string.Empty, s.Str("name") ?? string.Empty, s.Str("path") ?? "/", (int)(s.Long("port") ?? 443))
                : null;
            var ca = cc.Str("caBundle") is { Length: > 0 } b ? Convert.FromBase64String(b) : [];
            var versions = (w["admissionReviewVersions"] as JsonArray ?? []).Select(v => v?.ToString()).ToList();
            yield return new Hook(
                w.Str("name") ?? string.Empty,
                cc.Str("url"),
                service,
                ca,
                (w["rules"] as JsonArray ?? []).OfType<JsonObject>().Select(Rule.Of).ToList(),
                w.Str("failurePolicy") ?? "Fail",
                Selector(w["namespaceSelector"] as JsonObject),
                Selector(w["objectSelector"] as JsonObject),
                (int)(w.Long("timeoutSeconds") ?? 10),
                versions.Contains("v1") ? "v1" : "v1beta1");
        }
    }

    private static LabelSelector Selector(JsonObject? o)
    {
        if (o is null)
        {
            return LabelSelector.Everything;
        }

        var labels = (o["matchLabels"] as JsonObject ?? []).ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
        var expressions = (o["matchExpressions"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(e => SelectorRequirement.TryParseOperator(e.Str("operator"), out var op)
                ? new SelectorRequirement(e.Str("key") ?? string.Empty, op, (e["values"] as JsonArray ?? []).Select(v => v?.ToString() ?? string.Empty).ToList())
                : throw new InvalidOperationException($"unknown selector operator {e.Str("operator")}"))
            .ToList();
        return new LabelSelector { MatchLabels = labels, MatchExpressions = expressions };
    }
}

/// <summary>A RuleWithOperations: which writes a webhook sees.</summary>
public sealed record Rule(IReadOnlyList<string> Operations, IReadOnlyList<string> Groups, IReadOnlyList<string> Versions, IReadOnlyList<string> Resources, string Scope)
{
    public static Rule Of(JsonObject r) => new(
        List(r, "operations"), List(r, "apiGroups"), List(r, "apiVersions"), List(r, "resources"), r.Str("scope") ?? "*");

    private static List<string> List(JsonObject r, string field) => (r[field] as JsonArray ?? []).Select(v => v?.ToString() ?? string.Empty).ToList();

    public bool Matches(AdmissionAttributes a)
    {
        var t = a.Type;
        static bool Has(IReadOnlyList<string> list, string value) => list.Contains("*") || list.Contains(value);
        if (!Has(Operations, a.Operation) || !Has(Groups, t.Group) || !Has(Versions, t.Version))
        {
            return false;
        }

        var namespaced = t.Namespaced;
        if ((Scope == "Cluster" && namespaced) || (Scope == "Namespaced" && !namespaced))
        {
            return false;
        }

        var sub = a.Subresource ?? string.Empty;
        foreach (var res in Resources)
        {
            if (res == "*/*")
            {
                return true;
            }

            var slash = res.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                if (sub.Length == 0 && (res == "*" || res == t.Plural))
                {
                    return true;
                }

                continue;
            }

            var (r, s) = (res[..slash], res[(slash + 1)..]);
            if ((r == "*" || r == t.Plural) && (s == "*" || s == sub))
            {
                return true;
            }
        }

        return false;
    }
}
