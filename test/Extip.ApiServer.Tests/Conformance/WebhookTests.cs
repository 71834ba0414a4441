using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Extip.Kubernetes.Admission;
using Extip.Testing.Fixtures;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Extip.Core.Security;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// Issue 11, admission at the door: the server calls validating admission webhooks as
/// kube-apiserver v1.20 does (rules, selectors, failure policies, timeouts, TLS against the
/// caBundle, the denial's code and message). Each webhook here sees only objects carrying its
/// own label, so a test never touches another's writes.
/// </summary>
public abstract partial class ConformanceTests<TFixture>
{
    private static readonly Lazy<Pki> TestPki = new(() =>
        Certificates.Create(["localhost"], [IPAddress.Loopback], DateTimeOffset.UtcNow, TimeSpan.FromDays(30), TimeSpan.FromDays(30)));

    private static readonly Lazy<Pki> OtherPki = new(() =>
        Certificates.Create(["localhost"], [IPAddress.Loopback], DateTimeOffset.UtcNow, TimeSpan.FromDays(30), TimeSpan.FromDays(30)));

    /// <summary>A webhook server: /deny refuses objects labelled deny=yes, /slow answers after 3 s, /dryrun refuses dry runs.</summary>
    private static async Task<AdmissionServer> TestWebhookAsync(Pki pki)
    {
        var cert = pki.Serving();
        var server = new AdmissionServer(new IPEndPoint(IPAddress.Loopback, 0), () => cert, new Dictionary<string, Func<AdmissionRequest, AdmissionVerdict>>
        {
            ["/deny"] = r => r.Object?["metadata"]?["labels"]?["deny"]?.GetValue<string>() == "yes"
                ? AdmissionVerdict.Deny($"metadata.labels.deny: \"yes\" is refused by the test webhook ({r.Operation} {r.Name})")
                : new AdmissionVerdict(true, Warnings: ["the test webhook saw this"]),
            ["/slow"] = _ =>
            {
                Thread.Sleep(3000);
                return AdmissionVerdict.Allow;
            },
            ["/dryrun"] = r => r.Raw["dryRun"]?.GetValue<bool>() == true ? AdmissionVerdict.Deny("dry run seen", 422) : AdmissionVerdict.Allow,
        });
        await server.StartAsync();
        return server;
    }

    private static V1ValidatingWebhook Hook(string name, string url, string? failurePolicy = null, Pki? pki = null, string label = "", V1LabelSelector? namespaceSelector = null, int? timeout = null) => new()
    {
        Name = name,
        ClientConfig = new Admissionregistrationv1WebhookClientConfig { Url = url, CaBundle = Encoding.UTF8.GetBytes((pki ?? TestPki.Value).CaCert) },
        Rules = [new V1RuleWithOperations { Operations = ["CREATE", "UPDATE"], ApiGroups = [""], ApiVersions = ["v1"], Resources = ["configmaps"] }],
        FailurePolicy = failurePolicy,
        SideEffects = "None",
        AdmissionReviewVersions = ["v1"],
        TimeoutSeconds = timeout,
        ObjectSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["wh"] = label } },
        NamespaceSelector = namespaceSelector,
    };

    private async Task<string> WebhookConfigAsync(params V1ValidatingWebhook[] hooks)
    {
        var name = $"wh-{Guid.NewGuid().ToString("N")[..10]}";
        await Client.AdmissionregistrationV1.CreateValidatingWebhookConfigurationAsync(new V1ValidatingWebhookConfiguration
        {
            Metadata = new V1ObjectMeta { Name = name },
            Webhooks = hooks.ToList(),
        });
        return name;
    }

    private static V1ConfigMap Labelled(string name, string label, bool deny = false) =>
        ConfigMap(name, deny ? new Dictionary<string, string> { ["wh"] = label, ["deny"] = "yes" } : new Dictionary<string, string> { ["wh"] = label });

    /// <summary>The API server picks a new configuration up on its own time: waits until a write of <paramref name="probe"/> fails with <paramref name="code"/>.</summary>
    private async Task<JsonObject> WaitRefusedAsync(string ns, Func<int, V1ConfigMap> probe, HttpStatusCode code)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                await Client.CoreV1.CreateNamespacedConfigMapAsync(probe(i), ns);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == code)
            {
                return ClusterFixture.ParseStatus(e.Response.Content);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.InternalServerError
                && e.Response.Content.Contains("failed calling webhook", StringComparison.Ordinal) && e.Response.Content.Contains(": EOF", StringComparison.Ordinal))
            {
                // kube-apiserver keeps idle connections to webhooks: one to an earlier test's
                // webhook, on the port this one got again, ends in EOF when reused (a POST is not
                // retried). A transport failure while the configuration is being picked up, not
                // the answer under test (seen once in CI, 2026-12-04).
            }

            await Task.Delay(100);
        }
    }

    private async Task<string> WebhookNamespaceAsync(Dictionary<string, string>? labels = null)
    {
        var ns = $"wh-{Guid.NewGuid().ToString("N")[..8]}";
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns, Labels = labels } });
        return ns;
    }

    [Fact]
    public async Task Webhook_Denial_CarriesItsCodeAndMessage_AndAllowedWritesGoThrough()
    {
        await using var webhook = await TestWebhookAsync(TestPki.Value);
        var label = Guid.NewGuid().ToString("N")[..8];
        var hook = $"deny.{label}.extip.io";
        var config = await WebhookConfigAsync(Hook(hook, new Uri(webhook.Url, "deny").ToString(), label: label));
        var ns = await WebhookNamespaceAsync();
        var status = await WaitRefusedAsync(ns, i => Labelled($"probe-{i}", label, deny: true), HttpStatusCode.Forbidden);
        Assert.StartsWith($"admission webhook \"{hook}\" denied the request: metadata.labels.deny: \"yes\" is refused by the test webhook (CREATE probe-", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Forbidden", status["reason"]?.GetValue<string>());

        // Allowed, and the webhook's warning reaches the client.
        var created = await Client.CoreV1.CreateNamespacedConfigMapWithHttpMessagesAsync(Labelled("fine", label), ns);
        Assert.Contains(created.Response.Headers.GetValues("Warning"), w => w.Contains("the test webhook saw this", StringComparison.Ordinal));

        // An update that adds the label is refused; the stored object is unchanged.
        var cm = await Client.CoreV1.ReadNamespacedConfigMapAsync("fine", ns);
        cm.Metadata.Labels["deny"] = "yes";
        var e = await FailsWith(HttpStatusCode.Forbidden, () => Client.CoreV1.ReplaceNamespacedConfigMapAsync(cm, "fine", ns));
        Assert.Contains("(UPDATE fine)", e["message"]!.GetValue<string>(), StringComparison.Ordinal);
        e = await FailsWith(HttpStatusCode.Forbidden, () => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""{"metadata":{"labels":{"deny":"yes"}}}""", V1Patch.PatchType.MergePatch), "fine", ns));
        Assert.Contains("(UPDATE fine)", e["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False((await Client.CoreV1.ReadNamespacedConfigMapAsync("fine", ns)).Metadata.Labels.ContainsKey("deny"));

        // Objects the rules do not name are not sent: no label, no call.
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("unlabelled", new Dictionary<string, string> { ["deny"] = "yes" }), ns);

        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(config);
        await Client.CoreV1.DeleteNamespaceAsync(ns);
    }

    [Fact]
    public async Task Webhook_Unreachable_IgnoreLetsTheWriteThrough_FailRefusesIt()
    {
        await using var webhook = await TestWebhookAsync(TestPki.Value);
        var label = Guid.NewGuid().ToString("N")[..8];
        var closed = $"https://127.0.0.1:{ClosedPort()}/";
        var ignored = await WebhookConfigAsync(
            Hook($"down.{label}.extip.io", closed, "Ignore", label: label),
            Hook($"deny.{label}.extip.io", new Uri(webhook.Url, "deny").ToString(), label: label));
        var ns = await WebhookNamespaceAsync();

        // Once the deny webhook of the same configuration acts, the unreachable one is in force too.
        await WaitRefusedAsync(ns, i => Labelled($"probe-{i}", label, deny: true), HttpStatusCode.Forbidden);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(Labelled("through", label), ns);
        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(ignored);

        var failLabel = label + "f";
        var failing = await WebhookConfigAsync(Hook($"down.{failLabel}.extip.io", closed, "Fail", label: failLabel));
        var status = await WaitRefusedAsync(ns, i => Labelled($"fail-{i}", failLabel), HttpStatusCode.InternalServerError);
        Assert.StartsWith($"Internal error occurred: failed calling webhook \"down.{failLabel}.extip.io\": ", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("InternalError", status["reason"]?.GetValue<string>());
        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(failing);
        await Client.CoreV1.DeleteNamespaceAsync(ns);
    }

    [Fact]
    public async Task Webhook_ServingCertificateMustChainToTheCaBundle()
    {
        await using var webhook = await TestWebhookAsync(TestPki.Value);
        var label = Guid.NewGuid().ToString("N")[..8];

        // The caBundle names another CA: the call fails TLS, and Fail refuses the write.
        var config = await WebhookConfigAsync(Hook($"wrongca.{label}.extip.io", new Uri(webhook.Url, "deny").ToString(), "Fail", OtherPki.Value, label));
        var ns = await WebhookNamespaceAsync();
        var status = await WaitRefusedAsync(ns, i => Labelled($"probe-{i}", label), HttpStatusCode.InternalServerError);
        Assert.StartsWith($"Internal error occurred: failed calling webhook \"wrongca.{label}.extip.io\": ", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(config);
        await Client.CoreV1.DeleteNamespaceAsync(ns);
    }

    [Fact]
    public async Task Webhook_Timeout_FailsTheCall()
    {
        await using var webhook = await TestWebhookAsync(TestPki.Value);
        var label = Guid.NewGuid().ToString("N")[..8];
        var config = await WebhookConfigAsync(Hook($"slow.{label}.extip.io", new Uri(webhook.Url, "slow").ToString(), "Fail", label: label, timeout: 1));
        var ns = await WebhookNamespaceAsync();
        var status = await WaitRefusedAsync(ns, i => Labelled($"probe-{i}", label), HttpStatusCode.InternalServerError);
        Assert.StartsWith($"Internal error occurred: failed calling webhook \"slow.{label}.extip.io\": ", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(config);
        await Client.CoreV1.DeleteNamespaceAsync(ns);
    }

    [Fact]
    public async Task Webhook_NamespaceSelector_ChoosesTheNamespaces()
    {
        await using var webhook = await TestWebhookAsync(TestPki.Value);
        var label = Guid.NewGuid().ToString("N")[..8];
        var config = await WebhookConfigAsync(Hook($"ns.{label}.extip.io", new Uri(webhook.Url, "deny").ToString(), label: label,
            namespaceSelector: new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = "team", OperatorProperty = "In", Values = [label] }] }));
        var chosen = await WebhookNamespaceAsync(new Dictionary<string, string> { ["team"] = label });
        var other = await WebhookNamespaceAsync();
        await WaitRefusedAsync(chosen, i => Labelled($"probe-{i}", label, deny: true), HttpStatusCode.Forbidden);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(Labelled("elsewhere", label, deny: true), other);
        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(config);
        await Client.CoreV1.DeleteNamespaceAsync(chosen);
        await Client.CoreV1.DeleteNamespaceAsync(other);
    }

    [Fact]
    public async Task Webhook_SeesDryRuns()
    {
        await using var webhook = await TestWebhookAsync(TestPki.Value);
        var label = Guid.NewGuid().ToString("N")[..8];
        var config = await WebhookConfigAsync(
            Hook($"dry.{label}.extip.io", new Uri(webhook.Url, "dryrun").ToString(), label: label),
            Hook($"deny.{label}.extip.io", new Uri(webhook.Url, "deny").ToString(), label: label));
        var ns = await WebhookNamespaceAsync();
        await WaitRefusedAsync(ns, i => Labelled($"probe-{i}", label, deny: true), HttpStatusCode.Forbidden);
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.CreateNamespacedConfigMapAsync(Labelled("dry", label), ns, dryRun: "All"));
        Assert.Equal($"admission webhook \"dry.{label}.extip.io\" denied the request: dry run seen", status["message"]!.GetValue<string>());
        await Client.CoreV1.CreateNamespacedConfigMapAsync(Labelled("wet", label), ns);
        await Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync(config);
        await Client.CoreV1.DeleteNamespaceAsync(ns);
    }

    [Fact]
    public async Task WebhookConfiguration_Invalid_IsRefusedNamingTheField()
    {
        var bad = Hook("bad.extip.io", "https://127.0.0.1:1/", label: "x");
        bad.SideEffects = null;
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.AdmissionregistrationV1.CreateValidatingWebhookConfigurationAsync(
            new V1ValidatingWebhookConfiguration { Metadata = new V1ObjectMeta { Name = "bad-sideeffects" }, Webhooks = [bad] }));
        Assert.Contains("webhooks[0].sideEffects: Required value", status["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var http = Hook("plain.http.extip.io", "http://127.0.0.1:1/", label: "x");
        status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.AdmissionregistrationV1.CreateValidatingWebhookConfigurationAsync(
            new V1ValidatingWebhookConfiguration { Metadata = new V1ObjectMeta { Name = "bad-scheme" }, Webhooks = [http] }));
        Assert.Contains("webhooks[0].clientConfig.url", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
