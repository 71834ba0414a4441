using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Extip.Controller.Webhook;
using Extip.Kubernetes.Models;
using Extip.Testing.Cluster;
using Extip.Testing.Fixtures;
using k8s;
using k8s.Models;
using Xunit.Abstractions;
using static Extip.Testing.Cluster.TestEnv;

namespace Extip.Controller.Tests;

/// <summary>
/// Issue 12: the controller runs with exactly the RBAC of deploy/base/controller.yaml, against
/// kube-apiserver v1.20 enforcing it, under the controller ServiceAccount's identity. Every call
/// it makes in a full scenario (leader election, allocation, claims, statuses, Events, the
/// admission webhook's Secret and configuration) must be allowed; the test lists them.
/// </summary>
public sealed class RbacTests(ITestOutputHelper output)
{
    private const string StrangerToken = "extip-stranger-test-token";

    private sealed class Recorder : DelegatingHandler
    {
        public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

        public ConcurrentBag<string> Forbidden { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var call = Describe(request);
            Calls.AddOrUpdate(call, 1, (_, n) => n + 1);
            if (response.StatusCode == HttpStatusCode.Forbidden)
            {
                Forbidden.Add($"{call}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }

            return response;
        }

        /// <summary>verb group/resource[/subresource] as RBAC sees the request.</summary>
        private static string Describe(HttpRequestMessage r)
        {
            var segs = r.RequestUri!.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var (group, rest) = segs[0] == "api" ? ("", segs[2..]) : (segs[1], segs[3..]);
            if (rest.Length >= 2 && rest[0] == "namespaces" && rest.Length > 2)
            {
                rest = rest[2..];
            }

            var resource = rest[0] + (rest.Length > 2 ? "/" + rest[2] : string.Empty);
            var named = rest.Length > 1;
            var watch = r.RequestUri.Query.Contains("watch=true", StringComparison.OrdinalIgnoreCase);
            var verb = r.Method.Method switch
            {
                "GET" => watch ? "watch" : named ? "get" : "list",
                "POST" => "create",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => named ? "delete" : "deletecollection",
                _ => r.Method.Method,
            };
            return $"{verb} {(group.Length == 0 ? "core" : group)}/{resource}";
        }
    }

    [Theory]
    [InlineData("embedded")]
    [InlineData("real")]
    public async Task Controller_WithTheManifestsRbac_OnAnRbacServer_IsNeverForbidden(string server)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"extip-rbac-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var tokens = Path.Combine(dir, "tokens.extra");
        const string controllerToken = "extip-controller-test-token";
        await File.WriteAllTextAsync(tokens, $"{controllerToken},system:serviceaccount:extip-system:extip-controller,ctl-uid,\"system:serviceaccounts,system:serviceaccounts:extip-system,system:authenticated\"\n"
            + $"{StrangerToken},system:serviceaccount:extip-system:nobody,nobody-uid\n");
        var repo = ClusterFixture.RepoRoot();
        try
        {
            if (server == "embedded")
            {
                await using var embedded = new Extip.ApiServer.EmbeddedApiServer(new Extip.ApiServer.Http.ApiServerOptions
                {
                    Authorization = Extip.ApiServer.Http.AuthorizationMode.RBAC,
                    TokenFile = tokens,
                });
                await embedded.StartAsync();
                await RunScenarioAsync(embedded.WriteKubeconfig(Path.Combine(dir, "kubeconfig")), controllerToken, repo);
                return;
            }

            var start = new ProcessStartInfo("bash", [Path.Combine(repo, "tools", "real-apiserver", "start.sh"), Path.Combine(dir, "server"), RealFixture.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["AUTHORIZATION_MODE"] = "RBAC";
            start.Environment["EXTRA_TOKENS"] = tokens;
            using var p = Process.Start(start)!;
            var stdout = await p.StandardOutput.ReadToEndAsync();
            var stderr = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, $"the real kube-apiserver did not start:\n{stderr}\n{stdout}");
            var adminConfig = stdout.Trim().Split('\n')[^1].Trim();
            await RunScenarioAsync(adminConfig, controllerToken, repo);
        }
        finally
        {
            if (server == "real")
            {
                using var stop = Process.Start(new ProcessStartInfo("bash", [Path.Combine(repo, "tools", "real-apiserver", "stop.sh"), Path.Combine(dir, "server")]))!;
                await stop.WaitForExitAsync();
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    private async Task RunScenarioAsync(string adminConfig, string controllerToken, string repo)
    {
        var admin = new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(adminConfig));
        await Extip.Kubernetes.Crds.CrdInstaller.InstallAsync(admin, CancellationToken.None);

        // The manifests' RBAC (and the namespace and ServiceAccount it binds), as an operator
        // applies it; the Deployment and Service are not what this test is about (and the
        // embedded server serves no Deployments yet, issue 16).
        var rbacDocs = new[] { "controller.yaml", "agent.yaml" }.SelectMany(f => File.ReadAllText(Path.Combine(repo, "deploy", "base", f)).Split("\n---", StringSplitOptions.RemoveEmptyEntries))
            .Where(d => System.Text.RegularExpressions.Regex.IsMatch(d, @"^kind: (Namespace|ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline));
        async Task ApplyRbacAsync()
        {
            var apply = new ProcessStartInfo("kubectl", ["--kubeconfig", adminConfig, "apply", "-f", "-"]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            using var k = Process.Start(apply)!;
            await k.StandardInput.WriteAsync(string.Join("\n---\n", rbacDocs));
            k.StandardInput.Close();
            var err = await k.StandardError.ReadToEndAsync();
            var @out = await k.StandardOutput.ReadToEndAsync();
            await k.WaitForExitAsync();
            Assert.True(k.ExitCode == 0, $"kubectl apply of deploy/base/controller.yaml's RBAC: {err}\n{@out}");
        }

        await ApplyRbacAsync();
        Assert.Equal(HttpStatusCode.OK, (await admin.RbacAuthorizationV1.ReadClusterRoleBindingWithHttpMessagesAsync("extip-controller")).Response.StatusCode);

        // The controller, as its ServiceAccount, every call recorded.
        var controllerConfig = adminConfig + ".controller";
        var adminToken = KubernetesClientConfiguration.BuildConfigFromConfigFile(adminConfig).AccessToken!;

        // The bindings are what let it through: an identity with none is refused, as RBAC words it.
        var strangerConfig = adminConfig + ".stranger";
        await File.WriteAllTextAsync(strangerConfig, (await File.ReadAllTextAsync(adminConfig)).Replace(adminToken, StrangerToken, StringComparison.Ordinal));
        var stranger = new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(strangerConfig));
        var refusal = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => stranger.CustomObjects.ListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpPool.Plural));
        Assert.Equal(HttpStatusCode.Forbidden, refusal.Response.StatusCode);
        Assert.Equal("ippools.extip.io is forbidden: User \"system:serviceaccount:extip-system:nobody\" cannot list resource \"ippools\" in API group \"extip.io\" at the cluster scope",
            ClusterFixture.ParseStatus(refusal.Response.Content)["message"]?.GetValue<string>());
        await File.WriteAllTextAsync(controllerConfig, (await File.ReadAllTextAsync(adminConfig)).Replace(adminToken, controllerToken, StringComparison.Ordinal));

        // What kubectl auth can-i asks (SelfSubjectAccessReview) is answered from the same rules.
        Assert.Equal("no", await CanIAsync(strangerConfig, "list ippools.extip.io"));
        Assert.Equal("yes", await CanIAsync(controllerConfig, "create ipclaims.extip.io"));
        Assert.Equal("no", await CanIAsync(controllerConfig, "delete namespaces"));
        Assert.Equal("yes", await CanIAsync(adminConfig, "delete namespaces"));

        // ... and what kubectl auth can-i --list shows (a SelfSubjectRulesReview): the Role's rules, not another's.
        var rules = await CanIAsync(controllerConfig, "--list -n extip-system");
        Assert.Matches(@"(?m)^ipclaims\.extip\.io\s+\[\]\s+\[\]\s+\[[^\]]*create", rules);
        Assert.DoesNotMatch(@"(?m)^\*\.\*\s", rules);
        Assert.Matches(@"(?m)^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]", rules);

        var recorder = new Recorder();
        var client = new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(controllerConfig), recorder);
        await using var agents = new FakeAgents(admin, "extip-system");
        await agents.StartAsync("k8s1", "k8s2");
        var options = new ControllerOptions { Namespace = "extip-system", Identity = "rbac-1", Webhook = new WebhookOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0) } };
        await using (var controller = new ExtipController(client, options))
        {
            await controller.StartAsync();
            await EventuallyAsync(() => Task.FromResult(controller.IsLeader && controller.WebhookRegistered), r => r, what: "leading, webhook registered");

            await admin.CustomObjects.CreateClusterCustomObjectAsync(new IpPool { Metadata = new V1ObjectMeta { Name = "rbac" }, Spec = new IpPoolSpecModel { Addresses = ["203.0.113.0/28"] } }, ExtipApi.Group, ExtipApi.Version, IpPool.Plural);
            await admin.CustomObjects.CreateClusterCustomObjectAsync(new BgpPeer
            {
                Metadata = new V1ObjectMeta { Name = "tor" },
                Spec = new BgpPeerSpecModel { PeerAddress = "198.51.100.1", PeerAsn = 64500, LocalAsn = 64512 },
            }, ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural);
            await admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "apps" } });
            await admin.CoreV1.CreateNamespacedServiceAsync(LoadBalancer("web"), "apps");
            var refused = LoadBalancer("refused");
            refused.Spec.LoadBalancerIP = "192.0.2.77";
            await admin.CoreV1.CreateNamespacedServiceAsync(refused, "apps");
            await EventuallyAsync(async () => (await admin.CoreV1.ReadNamespacedServiceAsync("web", "apps")).Status?.LoadBalancer?.Ingress?.Count ?? 0, n => n == 1, what: "web's address");
            await EventuallyAsync(async () => (await admin.CoreV1.ListNamespacedEventAsync("apps")).Items.Count, n => n > 0, what: "an Event for the refused Service");
            await AgentsAreHeldToTheirOwnNodeAsync(admin, adminConfig, adminToken);
            await AgentsReadOnlyTheSecretsPeersNameAsync(admin, adminConfig, adminToken, ApplyRbacAsync);
            await EventuallyAsync(async () => KubernetesJson.Deserialize<BgpPeer>(((System.Text.Json.JsonElement)await admin.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural, "tor")).GetRawText()).Status?.Conditions.Count ?? 0,
                n => n > 0, what: "the peer's status");

            // A deleted Service's claim goes.
            try
            {
                await admin.CoreV1.DeleteNamespacedServiceAsync("web", "apps");
            }
            catch (System.Text.Json.JsonException)
            {
            }

            await EventuallyAsync(async () => (await admin.CustomObjects.ListClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpClaim.Plural)).ToString()!.Contains("203.0.113", StringComparison.Ordinal),
                has => !has, what: "the claim deleted");
        }

        foreach (var call in recorder.Calls.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{call.Key} ×{call.Value}");
        }

        Assert.True(recorder.Forbidden.IsEmpty, "forbidden calls:\n" + string.Join("\n", recorder.Forbidden));

        // And the role grants nothing it does not call: what this scenario did not call is one
        // of the paths it does not reach, each named here.
        var rare = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["patch core/events"] = "a repeated Event is counted on the first one",
            ["patch extip.io/ipclaims"] = "a claim's nodes change (an agent dies or comes back)",
            ["patch extip.io/ipnodes"] = "the agent label, when claims move off or onto a node with an IPNode",
            ["update admissionregistration.k8s.io/validatingwebhookconfigurations"] = "the configuration changed (a new CA, another URL)",
            ["update core/secrets"] = "the webhook's certificate is renewed",
            ["watch discovery.k8s.io/endpointslices"] = "servers with discovery.k8s.io/v1 (v1.21 on); v1.20 serves v1beta1, which the controller does not read yet (issue 15)",
        };
        var granted = Granted(Path.Combine(repo, "deploy", "base", "controller.yaml"));

        // escalate is no request of its own: the server asks it of whoever writes a Role that
        // grants what the writer does not hold (the agents' Secrets Role, here).
        Assert.Contains("escalate rbac.authorization.k8s.io/roles", granted);
        var unused = granted.Where(g => !recorder.Calls.ContainsKey(g) && !rare.ContainsKey(g) && !g.StartsWith("escalate ", StringComparison.Ordinal)).ToList();
        Assert.True(unused.Count == 0, "granted and never called: " + string.Join(", ", unused));
        Assert.All(rare.Keys, r => Assert.Contains(r, granted));
    }

    /// <summary>
    /// Every agent shares the extip-agent ServiceAccount; the webhook holds each to its own node's
    /// Lease and IPNode, knowing the node from the pod its bound token names (as the kubelet mounts
    /// it from the DaemonSet's projected volume). Without the webhook rule, RBAC lets an agent on
    /// k9 renew k8s1's Lease (keeping a dead node alive) or take the controller's leader Lease.
    /// </summary>
    private static async Task AgentsAreHeldToTheirOwnNodeAsync(IKubernetes admin, string adminConfig, string adminToken)
    {
        const string ns = "extip-system";
        var pod = await admin.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "extip-agent-k9" },
            Spec = new V1PodSpec { NodeName = "k9", ServiceAccountName = "extip-agent", AutomountServiceAccountToken = false, Containers = [new V1Container { Name = "agent", Image = "extip:test" }] },
        }, ns);
        var token = (await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec { Audiences = [], ExpirationSeconds = 3600, BoundObjectRef = new V1BoundObjectReference { Kind = "Pod", ApiVersion = "v1", Name = pod.Metadata.Name, Uid = pod.Metadata.Uid } },
        }, "extip-agent", ns)).Status.Token;
        var agentConfig = adminConfig + ".agent-k9";
        await File.WriteAllTextAsync(agentConfig, (await File.ReadAllTextAsync(adminConfig)).Replace(adminToken, token, StringComparison.Ordinal));
        var agent = new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(agentConfig));

        // Its own Lease and IPNode: created and written.
        var own = await agent.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new V1ObjectMeta { Name = "extip-agent-k9" }, Spec = new V1LeaseSpec { HolderIdentity = "k9", LeaseDurationSeconds = 2 } }, ns);
        own.Spec.RenewTime = DateTime.UtcNow;
        await agent.CoordinationV1.ReplaceNamespacedLeaseAsync(own, own.Metadata.Name, ns);
        await agent.CustomObjects.CreateClusterCustomObjectAsync(new IpNode { Metadata = new V1ObjectMeta { Name = "k9" } }, ExtipApi.Group, ExtipApi.Version, IpNode.Plural);

        // Another node's Lease, the controller's, and another node's IPNode status: refused, each saying why.
        async Task<string> RefusedAsync(Func<Task> write)
        {
            while (true)
            {
                var e = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(write);
                if (e.Response.StatusCode == HttpStatusCode.Conflict)
                {
                    // Written by the controller or a fake agent meanwhile: read and try again.
                    continue;
                }

                Assert.True(e.Response.StatusCode == HttpStatusCode.Forbidden, e.Response.Content);
                return ClusterFixture.ParseStatus(e.Response.Content)["message"]?.GetValue<string>() ?? string.Empty;
            }
        }

        // Read just before each write: the fake agents and the controller renew theirs all the time.
        async Task RenewAsAsync(string lease)
        {
            var l = await admin.CoordinationV1.ReadNamespacedLeaseAsync(lease, ns);
            l.Spec.HolderIdentity = "k9";
            l.Spec.RenewTime = DateTime.UtcNow;
            await agent.CoordinationV1.ReplaceNamespacedLeaseAsync(l, lease, ns);
        }

        Assert.Equal(
            "admission webhook \"agent-leases.extip.io\" denied the request: the extip agent on node \"k9\" may write only its own Lease, \"extip-agent-k9\", not \"extip-agent-k8s1\"",
            await RefusedAsync(() => RenewAsAsync("extip-agent-k8s1")));
        var leader = (await admin.CoordinationV1.ListNamespacedLeaseAsync(ns)).Items.Single(l => !l.Metadata.Name.StartsWith(ExtipApi.AgentLeasePrefix, StringComparison.Ordinal)).Metadata.Name;
        Assert.Contains($"not \"{leader}\"", await RefusedAsync(() => RenewAsAsync(leader)), StringComparison.Ordinal);
        Assert.Contains("may hold its Lease only as itself: spec.holderIdentity \"k8s1\"", await RefusedAsync(() =>
        {
            own = agent.CoordinationV1.ReadNamespacedLease(own.Metadata.Name, ns);
            own.Spec.HolderIdentity = "k8s1";
            return agent.CoordinationV1.ReplaceNamespacedLeaseAsync(own, own.Metadata.Name, ns);
        }), StringComparison.Ordinal);
        Assert.Contains("may write only its own Lease", await RefusedAsync(() =>
            agent.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new V1ObjectMeta { Name = "extip-agent-k7" }, Spec = new V1LeaseSpec { HolderIdentity = "k7" } }, ns)), StringComparison.Ordinal);
        await admin.CustomObjects.CreateClusterCustomObjectAsync(new IpNode { Metadata = new V1ObjectMeta { Name = "k8s1" } }, ExtipApi.Group, ExtipApi.Version, IpNode.Plural);
        Assert.Equal(
            "admission webhook \"agent-ipnodes.extip.io\" denied the request: the extip agent on node \"k9\" may write only its own IPNode, \"k9\", not \"k8s1\"",
            await RefusedAsync(async () =>
            {
                // Read just before: the controller labels a new IPNode (a Conflict would say nothing).
                var k8s1 = System.Text.Json.Nodes.JsonNode.Parse(((System.Text.Json.JsonElement)await admin.CustomObjects.GetClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpNode.Plural, "k8s1")).GetRawText())!;
                k8s1["status"] = new System.Text.Json.Nodes.JsonObject { ["addresses"] = new System.Text.Json.Nodes.JsonArray() };
                await agent.CustomObjects.ReplaceClusterCustomObjectStatusAsync(k8s1, ExtipApi.Group, ExtipApi.Version, IpNode.Plural, "k8s1");
            }));

        // The ServiceAccount's token without a pod (v1.20's long-lived Secret token) tells no node: refused.
        var unbound = (await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec { Audiences = [], ExpirationSeconds = 3600 },
        }, "extip-agent", ns)).Status.Token;
        var unboundConfig = adminConfig + ".agent-unbound";
        await File.WriteAllTextAsync(unboundConfig, (await File.ReadAllTextAsync(adminConfig)).Replace(adminToken, unbound, StringComparison.Ordinal));
        var anonymous = new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(unboundConfig));
        Assert.Contains("this request's token names no pod, so no node", await RefusedAsync(() =>
            anonymous.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new V1ObjectMeta { Name = "extip-agent-k6" } }, ns)), StringComparison.Ordinal);

        // The pod gone, its token is worth nothing (the API server refuses it: 401).
        await admin.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        await EventuallyAsync(async () =>
        {
            try
            {
                await agent.CoordinationV1.ReadNamespacedLeaseAsync(own.Metadata.Name, ns);
                return HttpStatusCode.OK;
            }
            catch (k8s.Autorest.HttpOperationException e)
            {
                return e.Response.StatusCode;
            }
        }, c => c == HttpStatusCode.Unauthorized, what: "the deleted pod's token refused");
    }

    /// <summary>
    /// The agents read Secrets by name only: the heartbeat key, and a BGP password while a
    /// BGPPeer names it (the controller keeps the Role's resourceNames to those).
    /// </summary>
    private static async Task AgentsReadOnlyTheSecretsPeersNameAsync(IKubernetes admin, string adminConfig, string adminToken, Func<Task> reapplyManifests)
    {
        const string ns = "extip-system";
        var token = (await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec { Audiences = [], ExpirationSeconds = 3600 },
        }, "extip-agent", ns)).Status.Token;
        var agentConfig = adminConfig + ".agent-secrets";
        await File.WriteAllTextAsync(agentConfig, (await File.ReadAllTextAsync(adminConfig)).Replace(adminToken, token, StringComparison.Ordinal));
        var agent = new Extip.Kubernetes.Client.ExtipKubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(agentConfig));
        foreach (var name in new[] { "tor-password", "unnamed" })
        {
            await admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = name }, StringData = new Dictionary<string, string> { ["password"] = "not-a-real-one" } }, ns);
        }

        async Task<HttpStatusCode> ReadAsync(string name)
        {
            try
            {
                await agent.CoreV1.ReadNamespacedSecretAsync(name, ns);
                return HttpStatusCode.OK;
            }
            catch (k8s.Autorest.HttpOperationException e)
            {
                return e.Response.StatusCode;
            }
        }

        Task PasswordAsync(string secret) => admin.CustomObjects.PatchClusterCustomObjectAsync(
            new V1Patch($"{{\"spec\":{{\"passwordSecret\":{secret}}}}}", V1Patch.PatchType.MergePatch), ExtipApi.Group, ExtipApi.Version, BgpPeer.Plural, "tor");

        // The heartbeat key, from the start; a password no BGPPeer names, never.
        await EventuallyAsync(() => ReadAsync(ExtipApi.PeerKeySecret), c => c == HttpStatusCode.OK, what: "the agent reading extip-peer-key");
        Assert.Equal(HttpStatusCode.Forbidden, await ReadAsync("tor-password"));

        // Named by a BGPPeer: readable. Any other Secret there still is not, and the refusal says so.
        await PasswordAsync($"{{\"namespace\":\"{ns}\",\"name\":\"tor-password\"}}");
        await EventuallyAsync(() => ReadAsync("tor-password"), c => c == HttpStatusCode.OK, what: "the agent reading tor-password once BGPPeer tor names it");
        var refused = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => agent.CoreV1.ReadNamespacedSecretAsync("unnamed", ns));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Response.StatusCode);
        Assert.Equal("secrets \"unnamed\" is forbidden: User \"system:serviceaccount:extip-system:extip-agent\" cannot get resource \"secrets\" in API group \"\" in the namespace \"extip-system\"",
            ClusterFixture.ParseStatus(refused.Response.Content)["message"]?.GetValue<string>());

        // The manifests applied again (an operator, a GitOps sync): the controller's names stay.
        await reapplyManifests();
        Assert.Equal(HttpStatusCode.OK, await ReadAsync("tor-password"));

        // A BGPPeer that names one of the controller's own Secrets (the webhook's key) hands it to
        // nobody; tor-password, no longer named, is no longer readable.
        await PasswordAsync($"{{\"namespace\":\"{ns}\",\"name\":\"extip-webhook-tls\"}}");
        await EventuallyAsync(async () => (await admin.RbacAuthorizationV1.ReadNamespacedRoleAsync(ExtipApi.AgentSecretsRole, ns)).Rules?.Count ?? 0, n => n == 0, what: "the agents' Secrets Role without rules");
        Assert.Equal(HttpStatusCode.Forbidden, await ReadAsync("extip-webhook-tls"));
        Assert.Equal(HttpStatusCode.Forbidden, await ReadAsync("tor-password"));
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(ExtipApi.PeerKeySecret));
        await PasswordAsync("null");
    }

    /// <summary><c>kubectl auth can-i ARGS</c> as the kubeconfig's user (kubectl 1.32 asks in protobuf): its answer.</summary>
    private static async Task<string> CanIAsync(string kubeconfig, string what)
    {
        var psi = new ProcessStartInfo("kubectl", ["--kubeconfig", kubeconfig, "auth", "can-i", .. what.Split(' ')]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var k = Process.Start(psi)!;
        var stdout = k.StandardOutput.ReadToEndAsync();
        var stderr = k.StandardError.ReadToEndAsync();
        await k.WaitForExitAsync();
        var answer = (await stdout).Trim();
        Assert.True(answer.Length > 0, $"kubectl auth can-i {what}: {await stderr}");
        return answer;
    }

    /// <summary>"verb group/resource" for every rule of the controller's ClusterRole and Role in the manifest.</summary>
    private static HashSet<string> Granted(string manifest)
    {
        var granted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var doc in KubernetesYaml.LoadAllFromString(File.ReadAllText(manifest)))
        {
            var rules = doc switch
            {
                V1ClusterRole { Metadata.Name: "extip-controller" } cr => cr.Rules,
                V1Role { Metadata.Name: "extip-controller" } r => r.Rules,
                _ => null,
            };
            foreach (var rule in rules ?? [])
            {
                foreach (var g in rule.ApiGroups)
                {
                    foreach (var res in rule.Resources)
                    {
                        foreach (var verb in rule.Verbs)
                        {
                            granted.Add($"{verb} {(g.Length == 0 ? "core" : g)}/{res}");
                        }
                    }
                }
            }
        }

        return granted;
    }
}
