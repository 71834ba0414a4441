using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Extip.Controller.Mapping;
using Extip.Core.Pools;
using Extip.Kubernetes.Admission;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Extip.Core.Security;

namespace Extip.Controller.Webhook;

/// <summary>How the controller serves its validating admission webhook.</summary>
public sealed record WebhookOptions
{
    /// <summary>Where the HTTPS server listens.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Any, 9443);

    /// <summary>
    /// How the API server reaches it, as a base URL (outside a cluster: the lab). Null: through
    /// the Service <see cref="ServiceName"/> in the controller's namespace, or, when the server
    /// listens on loopback, https://LOOPBACK:PORT/.
    /// </summary>
    public Uri? Url { get; init; }

    public string ServiceName { get; init; } = "extip-webhook";

    public int ServicePort { get; init; } = 443;

    /// <summary>
    /// failurePolicy of the Services webhook: Ignore (default) never blocks a Service write when
    /// the controller is down; Fail keeps every external-IP hijack out at the cost of Service
    /// writes failing while no controller answers.
    /// </summary>
    public bool ServicesFail { get; init; }

    /// <summary>The ValidatingWebhookConfiguration the controller owns.</summary>
    public string ConfigurationName { get; init; } = "extip";

    /// <summary>The Secret (in the controller's namespace) holding the CA and the serving certificate.</summary>
    public string SecretName { get; init; } = "extip-webhook-tls";

    public TimeSpan CaLifetime { get; init; } = TimeSpan.FromDays(3650);

    /// <summary>The serving certificate is renewed once two thirds of this have passed.</summary>
    public TimeSpan ServingLifetime { get; init; } = TimeSpan.FromDays(365);

    /// <summary>How often the certificate and the configuration are checked.</summary>
    public TimeSpan CheckEvery { get; init; } = TimeSpan.FromHours(1);

    public int TimeoutSeconds { get; init; } = 5;

    /// <summary>The agents' ServiceAccount (in the controller's namespace), whose writes to Leases and IPNodes are held to their own node's.</summary>
    public string AgentServiceAccount { get; init; } = "extip-agent";
}

/// <summary>
/// The controller's validating admission webhook (issue 11): IPPools and BGPPeers refused when
/// invalid or overlapping, Services whose new <c>spec.externalIPs</c> the rules refuse. Every
/// replica serves it; the certificate lives in a Secret they share (the first to need it makes
/// it, anyone renews it), and the configuration with its caBundle is written when it differs.
/// </summary>
internal sealed partial class ControllerWebhook(IKubernetes client, ClusterView view, ControllerOptions options, WebhookOptions webhook, ILogger logger) : IAsyncDisposable
{
    /// <summary>The label every namespace carries from v1.21 on (set by deploy/base on older servers).</summary>
    public const string NamespaceNameLabel = "kubernetes.io/metadata.name";

    private const string HashAnnotation = "extip.io/config-hash";
    private const string NamesAnnotation = "extip.io/serving-names";
    private readonly AgentWrites _agentWrites = new(client, $"system:serviceaccount:{options.Namespace}:{webhook.AgentServiceAccount}");
    private X509Certificate2? _certificate;
    private string? _servingPem;
    private AdmissionServer? _server;

    /// <summary>The server's base URL once it serves.</summary>
    public Uri? Url => _server?.Url;

    /// <summary>True once the configuration points at this server with the current CA.</summary>
    public bool Registered { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!ct.IsCancellationRequested)
        {
            TimeSpan next;
            try
            {
                var pki = await EnsureCertificateAsync(ct);
                if (pki.Cert != _servingPem)
                {
                    _certificate = pki.Serving();
                    _servingPem = pki.Cert;
                    LogCertificate(logger, pki.NotAfter);
                }

                if (_server is null)
                {
                    _server = new AdmissionServer(webhook.Listen, () => _certificate!, Handlers(), logger);
                    await _server.StartAsync(ct);
                    LogServing(logger, _server.Url);
                }

                await EnsureConfigurationAsync(pki.CaCert, ct);
                Registered = true;
                backoff = TimeSpan.FromSeconds(1);
                var renewAt = RenewAt(pki);
                next = TimeSpan.FromTicks(Math.Clamp((renewAt - options.Time.GetUtcNow()).Ticks, TimeSpan.FromSeconds(1).Ticks, webhook.CheckEvery.Ticks));
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or TimeoutException
                || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                LogRetry(logger, e.Message);
                next = backoff;
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }

            try
            {
                await Task.Delay(next, options.Time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Dictionary<string, Func<AdmissionRequest, CancellationToken, ValueTask<AdmissionVerdict>>> Handlers() => new(StringComparer.Ordinal)
    {
        ["/validate/ippools"] = AdmissionServer.Async(r => view.Pools.IsReady ? AdmissionRules.Pool(r, view.Pools.Items) : NotSynced("IPPools")),
        ["/validate/bgppeers"] = AdmissionServer.Async(AdmissionRules.Peer),
        ["/validate/services"] = AdmissionServer.Async(r => view.Pools.IsReady && view.Services.IsReady && view.Namespaces.IsReady
            ? AdmissionRules.Service(r, options.ExternalIPs, PoolSet.Build(view.Pools.Items.Select(PoolMapping.ToSpec)), view.NamespaceLabels(r.Namespace), view.Services.Items)
            : NotSynced("Services")),
        [AgentWritesPath] = _agentWrites.ReviewAsync,
    };

    private const string AgentWritesPath = "/validate/agent-writes";

    private static AdmissionVerdict NotSynced(string what) =>
        new(true, Warnings: [$"extip's admission webhook has not read the cluster's {what} yet: not checked at the door (the controller still checks it)"]);

    private DateTimeOffset RenewAt(Pki pki) => pki.NotBefore + ((pki.NotAfter - pki.NotBefore) * 2 / 3);

    private IReadOnlyList<string> DnsNames()
    {
        var svc = $"{webhook.ServiceName}.{options.Namespace}.svc";
        var names = new List<string> { svc, svc + ".cluster.local", "localhost" };
        if (webhook.Url is { HostNameType: UriHostNameType.Dns } u)
        {
            names.Add(u.Host);
        }

        return names;
    }

    private IReadOnlyList<IPAddress> Addresses()
    {
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        if (!webhook.Listen.Address.Equals(IPAddress.Any) && !webhook.Listen.Address.Equals(IPAddress.IPv6Any) && !addresses.Contains(webhook.Listen.Address))
        {
            addresses.Add(webhook.Listen.Address);
        }

        if (webhook.Url is { HostNameType: UriHostNameType.IPv4 or UriHostNameType.IPv6 } u && IPAddress.TryParse(u.Host.Trim('[', ']'), out var ip) && !addresses.Contains(ip))
        {
            addresses.Add(ip);
        }

        return addresses;
    }

    /// <summary>The CA and serving certificate from the shared Secret, made or renewed when needed.</summary>
    private async Task<Pki> EnsureCertificateAsync(CancellationToken ct)
    {
        var names = string.Join(",", DnsNames().Concat(Addresses().Select(a => a.ToString())));
        for (var attempt = 0; ; attempt++)
        {
            V1Secret? secret = null;
            try
            {
                secret = await client.GetAsync<V1Secret>(ApiPath.Core("secrets", options.Namespace, webhook.SecretName), ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
            }

            var now = options.Time.GetUtcNow();
            var current = Read(secret);
            if (current is not null && now < RenewAt(current) && Annotation(secret!.Metadata, NamesAnnotation) == names)
            {
                return current;
            }

            // Renew from the CA while it outlives the new certificate; otherwise start over.
            using var ca = current is null ? null : X509Certificate2.CreateFromPem(current.CaCert);
            var pki = ca is not null && ca.NotAfter.ToUniversalTime() > now + webhook.ServingLifetime
                ? Certificates.Issue(current!.CaCert, current.CaKey, DnsNames(), Addresses(), now, webhook.ServingLifetime)
                : Certificates.Create(DnsNames(), Addresses(), now, webhook.CaLifetime, webhook.ServingLifetime);
            var data = new Dictionary<string, byte[]>
            {
                ["ca.crt"] = Encoding.UTF8.GetBytes(pki.CaCert),
                ["ca.key"] = Encoding.UTF8.GetBytes(pki.CaKey),
                ["tls.crt"] = Encoding.UTF8.GetBytes(pki.Cert),
                ["tls.key"] = Encoding.UTF8.GetBytes(pki.Key),
            };
            try
            {
                if (secret is null)
                {
                    await client.CreateAsync(ApiPath.Core("secrets", options.Namespace), new V1Secret
                    {
                        Metadata = new V1ObjectMeta
                        {
                            Name = webhook.SecretName,
                            Labels = new Dictionary<string, string> { [ExtipApi.ComponentLabel] = "controller" },
                            Annotations = new Dictionary<string, string> { [NamesAnnotation] = names },
                        },
                        Type = "Opaque",
                        Data = data,
                    }, ct);
                }
                else
                {
                    secret.Data = data;
                    secret.Metadata.Annotations ??= new Dictionary<string, string>();
                    secret.Metadata.Annotations[NamesAnnotation] = names;
                    await client.ReplaceAsync(ApiPath.Core("secrets", options.Namespace, webhook.SecretName), secret, ct);
                }

                LogIssued(logger, webhook.SecretName, pki.NotAfter);
                return pki;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < 5)
            {
                // Another replica wrote it first: use theirs.
            }
        }
    }

    private static Pki? Read(V1Secret? secret)
    {
        if (secret?.Data is not { } d
            || !d.TryGetValue("ca.crt", out var caCert) || !d.TryGetValue("ca.key", out var caKey)
            || !d.TryGetValue("tls.crt", out var cert) || !d.TryGetValue("tls.key", out var key))
        {
            return null;
        }

        var pki = new Pki(Encoding.UTF8.GetString(caCert), Encoding.UTF8.GetString(caKey), Encoding.UTF8.GetString(cert), Encoding.UTF8.GetString(key));
        try
        {
            using var serving = pki.Serving();
            return pki;
        }
        catch (CryptographicException)
        {
            // Damaged: made anew.
            return null;
        }
    }

    private V1ValidatingWebhookConfiguration Desired(string caPem)
    {
        var ca = Encoding.UTF8.GetBytes(caPem);
        var baseUrl = webhook.Url ?? (IPAddress.IsLoopback(webhook.Listen.Address) ? _server!.Url : null);
        Admissionregistrationv1WebhookClientConfig Client(string path) => baseUrl is not null
            ? new() { Url = new Uri(baseUrl, path.TrimStart('/')).ToString(), CaBundle = ca }
            : new() { Service = new Admissionregistrationv1ServiceReference { NamespaceProperty = options.Namespace, Name = webhook.ServiceName, Port = webhook.ServicePort, Path = path }, CaBundle = ca };
        V1ValidatingWebhook Hook(string name, string group, string version, string resource, string policy, string? path = null, string[]? resources = null) => new()
        {
            Name = name,
            ClientConfig = Client(path ?? $"/validate/{resource}"),
            Rules = [new V1RuleWithOperations { Operations = ["CREATE", "UPDATE"], ApiGroups = [group], ApiVersions = [version], Resources = resources ?? [resource], Scope = "*" }],
            FailurePolicy = policy,
            SideEffects = "None",
            AdmissionReviewVersions = ["v1", "v1beta1"],
            TimeoutSeconds = webhook.TimeoutSeconds,
        };
        var services = Hook("services.extip.io", string.Empty, "v1", "services", webhook.ServicesFail ? "Fail" : "Ignore");

        // A namespace labelled extip.io/admission=skip (kube-system, say) is never held up by extip.
        services.NamespaceSelector = new V1LabelSelector
        {
            MatchExpressions = [new V1LabelSelectorRequirement { Key = ExtipApi.AdmissionLabel, OperatorProperty = "NotIn", Values = ["skip"] }],
        };
        var hooks = new List<V1ValidatingWebhook>
        {
            Hook("ippools.extip.io", ExtipApi.Group, ExtipApi.Version, "ippools", "Ignore"),
            Hook("bgppeers.extip.io", ExtipApi.Group, ExtipApi.Version, "bgppeers", "Ignore"),
            services,
            AgentLeases(),
            AgentHook(Hook("agent-ipnodes.extip.io", ExtipApi.Group, ExtipApi.Version, "ipnodes", "Ignore", AgentWritesPath, ["ipnodes", "ipnodes/status"])),
        };
        // The agents' heartbeats pass through these: never held up for long (a frozen replica
        // costs a renewal 1 s, within the agent's 2 s bound on one), never refused for want of
        // an answer (Ignore: while no controller answers, RBAC alone applies).
        static V1ValidatingWebhook AgentHook(V1ValidatingWebhook hook)
        {
            hook.TimeoutSeconds = 1;
            return hook;
        }

        // The Leases of the controller's namespace only (not every kubelet's heartbeat): the
        // namespace carries kubernetes.io/metadata.name, which deploy/base sets (v1.21+ sets it itself).
        V1ValidatingWebhook AgentLeases()
        {
            var hook = AgentHook(Hook("agent-leases.extip.io", "coordination.k8s.io", "v1", "leases", "Ignore", AgentWritesPath));
            hook.NamespaceSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [NamespaceNameLabel] = options.Namespace } };
            return hook;
        }

        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ExtipJson.Serialize(hooks))))[..16];
        return new V1ValidatingWebhookConfiguration
        {
            Metadata = new V1ObjectMeta
            {
                Name = webhook.ConfigurationName,
                Labels = new Dictionary<string, string> { [ExtipApi.ComponentLabel] = "controller" },
                Annotations = new Dictionary<string, string> { [HashAnnotation] = hash },
            },
            Webhooks = hooks,
        };
    }

    private async Task EnsureConfigurationAsync(string caPem, CancellationToken ct)
    {
        var desired = Desired(caPem);
        var path = ApiPath.Group("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations");
        V1ValidatingWebhookConfiguration? existing = null;
        try
        {
            existing = await client.GetAsync<V1ValidatingWebhookConfiguration>($"{path}/{Uri.EscapeDataString(webhook.ConfigurationName)}", ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }

        if (existing is null)
        {
            try
            {
                await client.CreateAsync(path, desired, ct);
                LogRegistered(logger, webhook.ConfigurationName);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                // Another replica: checked again next round.
            }

            return;
        }

        if (Annotation(existing.Metadata, HashAnnotation) == desired.Metadata.Annotations[HashAnnotation])
        {
            return;
        }

        desired.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
        try
        {
            await client.ReplaceAsync($"{path}/{Uri.EscapeDataString(webhook.ConfigurationName)}", desired, ct);
            LogRegistered(logger, webhook.ConfigurationName);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }

    private static string? Annotation(V1ObjectMeta meta, string key) =>
        meta.Annotations is { } a && a.TryGetValue(key, out var v) ? v : null;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _certificate?.Dispose();
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "admission webhook serving on {Url}")]
    private static partial void LogServing(ILogger logger, Uri url);

    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "admission webhook certificate valid until {NotAfter:u}")]
    private static partial void LogCertificate(ILogger logger, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "issued a webhook serving certificate (Secret {Secret}), valid until {NotAfter:u}")]
    private static partial void LogIssued(ILogger logger, string secret, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 703, Level = LogLevel.Information, Message = "ValidatingWebhookConfiguration {Name} written")]
    private static partial void LogRegistered(ILogger logger, string name);

    [LoggerMessage(EventId = 704, Level = LogLevel.Warning, Message = "admission webhook setup: {Error}; trying again")]
    private static partial void LogRetry(ILogger logger, string error);
}
