using System.Net;
using System.Text;
using Extip.Controller.Webhook;
using Extip.Kubernetes.Admission;
using Extip.Kubernetes.Models;
using Extip.Testing.Cluster;
using k8s;
using k8s.Autorest;
using k8s.Models;
using static Extip.Testing.Cluster.TestEnv;
using Extip.Core.Security;

namespace Extip.Controller.Tests;

/// <summary>
/// Issue 11, admission at the door: the controller's validating webhook, called by the API
/// server over HTTPS with the certificate the controller made. Bad pools and peers are refused
/// with the field named; a down controller never blocks a pool write (Ignore); with Fail on
/// Services, an external-IP hijack is refused at the door.
/// </summary>
public abstract class WebhookTests
{
    protected abstract Task<TestEnv> NewEnvAsync();

    /// <summary>A fresh world without an earlier test's webhook configuration or certificate.</summary>
    private async Task<TestEnv> CleanEnvAsync()
    {
        var env = await NewEnvAsync();
        try
        {
            await env.Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync("extip");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }

        return env;
    }

    /// <summary>Without its webhook configuration, so that a Fail policy left behind blocks no later test.</summary>
    private static async Task RemoveConfigurationAsync(TestEnv env)
    {
        try
        {
            await env.Client.AdmissionregistrationV1.DeleteValidatingWebhookConfigurationAsync("extip");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    private static WebhookOptions Loopback(bool servicesFail = false) => new() { Listen = new IPEndPoint(IPAddress.Loopback, 0), ServicesFail = servicesFail };

    private static async Task<ExtipController> ControllerWithWebhookAsync(TestEnv env, WebhookOptions webhook)
    {
        var controller = await env.StartControllerAsync(env.Options() with { Webhook = webhook });
        await EventuallyAsync(() => Task.FromResult(controller.WebhookRegistered), r => r, what: "the webhook configuration written");
        return controller;
    }

    private static IpPool Pool(string name, params string[] addresses) =>
        new() { Metadata = new V1ObjectMeta { Name = name }, ApiVersion = ExtipApi.ApiVersion, Kind = "IPPool", Spec = new IpPoolSpecModel { Addresses = [.. addresses] } };

    private static Task CreatePoolAsync(TestEnv env, IpPool pool) =>
        env.Client.CustomObjects.CreateClusterCustomObjectAsync(pool, ExtipApi.Group, ExtipApi.Version, IpPool.Plural);

    private static async Task<string> RefusedAsync(HttpStatusCode code, Func<Task> write)
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(write);
        Assert.Equal(code, e.Response.StatusCode);
        return Extip.Testing.Fixtures.ClusterFixture.ParseStatus(e.Response.Content)["message"]!.GetValue<string>();
    }

    private static async Task ReadyAsync(TestEnv env, string pool) =>
        await EventuallyAsync(() => env.PoolStatusAsync(pool), p => p.Status?.Conditions.Any(c => c.Type == "Ready" && c.Status == "True") == true, what: $"pool {pool} Ready");

    [Fact]
    public async Task BadPoolsAndPeers_AreRefusedAtTheDoor_AndADownControllerBlocksNothing()
    {
        var env = await CleanEnvAsync();
        await using var _ = env;
        var controller = await ControllerWithWebhookAsync(env, Loopback());

        // The configuration the controller wrote: its own CA, Ignore for pools and peers.
        var config = await env.Client.AdmissionregistrationV1.ReadValidatingWebhookConfigurationAsync("extip");
        Assert.Equal(["ippools.extip.io", "bgppeers.extip.io", "services.extip.io", "agent-leases.extip.io", "agent-ipnodes.extip.io"], config.Webhooks.Select(w => w.Name));
        Assert.All(config.Webhooks, w => Assert.Equal("Ignore", w.FailurePolicy));
        var secret = await env.Client.CoreV1.ReadNamespacedSecretAsync("extip-webhook-tls", env.Namespace);
        Assert.Equal(Encoding.UTF8.GetString(secret.Data["ca.crt"]), Encoding.UTF8.GetString(config.Webhooks[0].ClientConfig.CaBundle));

        await CreatePoolAsync(env, Pool("a", "192.0.2.0/28"));
        await ReadyAsync(env, "a");

        var message = await RefusedAsync(HttpStatusCode.UnprocessableEntity, () => CreatePoolAsync(env, Pool("b", "192.0.2.8/29")));
        Assert.Equal("admission webhook \"ippools.extip.io\" denied the request: spec.addresses: 192.0.2.8/29 overlaps 192.0.2.0/28 of pool \"a\"", message);

        message = await RefusedAsync(HttpStatusCode.UnprocessableEntity, () => CreatePoolAsync(env, Pool("loop", "127.0.0.0/30")));
        Assert.StartsWith("admission webhook \"ippools.extip.io\" denied the request: spec.addresses", message, StringComparison.Ordinal);
        Assert.Contains("every address is in a range that is never handed out: 127.0.0.0/8", message, StringComparison.Ordinal);

        // An edit of a live pool into another's addresses is refused too; the pool keeps its spec.
        await CreatePoolAsync(env, Pool("c", "198.51.100.0/28"));
        await ReadyAsync(env, "c");
        message = await RefusedAsync(HttpStatusCode.UnprocessableEntity, () => env.Client.CustomObjects.PatchClusterCustomObjectAsync(
            new V1Patch("""{"spec":{"addresses":["192.0.2.0/30"]}}""", V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpPool.Plural, "c"));
        Assert.Contains("overlaps 192.0.2.0/28 of pool \"a\"", message, StringComparison.Ordinal);
        Assert.Equal(["198.51.100.0/28"], (await env.PoolStatusAsync("c")).Spec.Addresses);

        // A label edit of the same pool passes: only a changed spec is judged.
        await env.Client.CustomObjects.PatchClusterCustomObjectAsync(
            new V1Patch("""{"metadata":{"labels":{"team":"a"}}}""", V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, IpPool.Plural, "c");

        message = await RefusedAsync(HttpStatusCode.UnprocessableEntity, () => env.Client.CustomObjects.CreateClusterCustomObjectAsync(new BgpPeer
        {
            Metadata = new V1ObjectMeta { Name = "tor" },
            ApiVersion = ExtipApi.ApiVersion,
            Kind = "BGPPeer",
            Spec = new BgpPeerSpecModel { PeerAddress = "198.51.100.1", PeerAsn = 64500, LocalAsn = 64512, HoldTime = "2s" },
        }, ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural));
        Assert.Equal("admission webhook \"bgppeers.extip.io\" denied the request: spec.holdTime 2 s: must be 0 or 3 to 65535 whole seconds (RFC 4271 §4.2)", message);

        // The controller goes away: failurePolicy Ignore lets the write in, and the controller's
        // own rules (overlap: the younger pool is not used) still protect the data plane.
        await env.KillAsync(controller);
        await CreatePoolAsync(env, Pool("b", "192.0.2.8/29"));
        await env.StartControllerAsync(env.Options());
        var b = await EventuallyAsync(() => env.PoolStatusAsync("b"), p => p.Status?.Conditions.Any(c => c.Type == "Overlap" && c.Status == "True") == true, what: "pool b Overlap");
        Assert.Contains(b.Status!.Conditions, c => c.Type == "Ready" && c.Status == "False");
        await RemoveConfigurationAsync(env);
    }

    [Fact]
    public async Task ServicesOnFail_AHijackIsRefusedAtTheDoor_WithoutNamingTheOtherService()
    {
        var env = await CleanEnvAsync();
        await using var _ = env;
        var run = Guid.NewGuid().ToString("N")[..5];
        var (nsA, nsB, infra) = ($"h-a-{run}", $"h-b-{run}", $"infra-{run}");
        foreach (var (ns, labels) in new[] { (nsA, null), (nsB, null), (infra, new Dictionary<string, string> { ["extip.io/admission"] = "skip" }) })
        {
            await env.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns, Labels = labels } });
        }

        await env.PoolAsync("ext", ["198.51.100.0/28"], s => s.AllowExternalIPs = true);
        var controller = await ControllerWithWebhookAsync(env, Loopback(servicesFail: true));
        await ReadyAsync(env, "ext");

        V1Service External(string name, params string[] ips) => new()
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Port = 80, Protocol = "TCP" }], ExternalIPs = [.. ips] },
        };

        await env.Client.CoreV1.CreateNamespacedServiceAsync(External("owner", "198.51.100.1"), nsA);

        // The webhook judges from the controller's cache, which sees the owner a moment later: a
        // hijack that got in before that is taken out again and the write is tried once more.
        var attempt = 0;
        var message = await EventuallyAsync(async () =>
        {
            var name = $"thief-{attempt++}";
            try
            {
                await env.Client.CoreV1.CreateNamespacedServiceAsync(External(name, "198.51.100.1"), nsB);
                await env.DeleteServiceAsync(nsB, name);
                return null;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
            {
                return Extip.Testing.Fixtures.ClusterFixture.ParseStatus(e.Response.Content)["message"]!.GetValue<string>();
            }
        }, m => m is not null, what: "the hijack refused at the door");
        Assert.Equal("admission webhook \"services.extip.io\" denied the request: spec.externalIPs: 198.51.100.1 is in use by a Service in another namespace; an address is never shared across namespaces (CVE-2020-8554)", message);
        Assert.DoesNotContain("owner", message, StringComparison.Ordinal);
        Assert.DoesNotContain(nsA, message, StringComparison.Ordinal);

        message = await RefusedAsync(HttpStatusCode.Forbidden, () => env.Client.CoreV1.CreateNamespacedServiceAsync(External("outside", "203.0.113.5"), nsB));
        Assert.Equal("admission webhook \"services.extip.io\" denied the request: spec.externalIPs: 203.0.113.5 is not inside any IPPool; only pools with allowExternalIPs may be used (CVE-2020-8554)", message);

        // Within one namespace the controller's own rules decide (sharing keys); a Service without
        // external IPs is never refused.
        await env.Client.CoreV1.CreateNamespacedServiceAsync(External("plain"), nsB);

        // With Fail, no controller means no Service writes, except in namespaces marked skip.
        await env.KillAsync(controller);
        message = await RefusedAsync(HttpStatusCode.InternalServerError, () => env.Client.CoreV1.CreateNamespacedServiceAsync(External("while-down"), nsB));
        Assert.StartsWith("Internal error occurred: failed calling webhook \"services.extip.io\": ", message, StringComparison.Ordinal);
        await env.Client.CoreV1.CreateNamespacedServiceAsync(External("infra-svc"), infra);
        await RemoveConfigurationAsync(env);
    }

    private static string Names(string ns) => $"extip-webhook.{ns}.svc,extip-webhook.{ns}.svc.cluster.local,localhost,127.0.0.1,::1";

    [Fact]
    public async Task AServingCertificateNearItsEnd_IsRenewedFromTheSameCa()
    {
        var env = await CleanEnvAsync();
        await using var _ = env;

        // A certificate issued long ago: past two thirds of its life, its CA good for years.
        var old = Certificates.Create(["extip-webhook.extip-system.svc"], [IPAddress.Loopback], DateTimeOffset.UtcNow.AddDays(-300), TimeSpan.FromDays(3650), TimeSpan.FromDays(365));
        await env.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            // The names the controller serves under (as it records them): only the age is wrong.
            Metadata = new V1ObjectMeta { Name = "extip-webhook-tls", Annotations = new Dictionary<string, string> { ["extip.io/serving-names"] = Names(env.Namespace) } },
            Data = new Dictionary<string, byte[]>
            {
                ["ca.crt"] = Encoding.UTF8.GetBytes(old.CaCert), ["ca.key"] = Encoding.UTF8.GetBytes(old.CaKey),
                ["tls.crt"] = Encoding.UTF8.GetBytes(old.Cert), ["tls.key"] = Encoding.UTF8.GetBytes(old.Key),
            },
        }, env.Namespace);

        await ControllerWithWebhookAsync(env, Loopback());
        var secret = await env.Client.CoreV1.ReadNamespacedSecretAsync("extip-webhook-tls", env.Namespace);
        Assert.Equal(Names(env.Namespace), secret.Metadata.Annotations["extip.io/serving-names"]);
        Assert.Equal(old.CaCert, Encoding.UTF8.GetString(secret.Data["ca.crt"]));
        Assert.NotEqual(old.Cert, Encoding.UTF8.GetString(secret.Data["tls.crt"]));
        var renewed = new Pki(old.CaCert, old.CaKey, Encoding.UTF8.GetString(secret.Data["tls.crt"]), Encoding.UTF8.GetString(secret.Data["tls.key"]));
        Assert.True(renewed.NotAfter > DateTimeOffset.UtcNow.AddDays(300));

        // The API server trusts the renewed certificate: the webhook still refuses.
        await CreatePoolAsync(env, Pool("a", "192.0.2.0/28"));
        await ReadyAsync(env, "a");
        var message = await RefusedAsync(HttpStatusCode.UnprocessableEntity, () => CreatePoolAsync(env, Pool("b", "192.0.2.0/30")));
        Assert.Contains("overlaps", message, StringComparison.Ordinal);

        // A certificate with life left is kept: a second replica serves the same one.
        var second = await env.StartControllerAsync(env.Options("c2") with { Webhook = Loopback() });
        await EventuallyAsync(() => Task.FromResult(second.WebhookRegistered), r => r, what: "the second replica's webhook");
        var kept = await env.Client.CoreV1.ReadNamespacedSecretAsync("extip-webhook-tls", env.Namespace);
        Assert.Equal(secret.Data["tls.crt"], kept.Data["tls.crt"]);
        await RemoveConfigurationAsync(env);
    }
}

public sealed class EmbeddedWebhookTests : WebhookTests
{
    protected override Task<TestEnv> NewEnvAsync() => TestEnv.EmbeddedAsync();
}

/// <summary>The same, called by kube-apiserver v1.20.</summary>
public sealed class RealWebhookTests(Extip.Testing.Fixtures.RealFixture fixture) : WebhookTests, IClassFixture<Extip.Testing.Fixtures.RealFixture>
{
    protected override Task<TestEnv> NewEnvAsync() => TestEnv.RealAsync(fixture);
}
