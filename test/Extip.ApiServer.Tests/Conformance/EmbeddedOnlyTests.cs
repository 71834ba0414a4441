using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Extip.ApiServer.Http;
using Extip.Testing.Fixtures;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// Behaviour the v1.20 reference server lacks, because it came later in Kubernetes (each test
/// names the version) or because another component does it there; and the embedded server's
/// own features (fault injection, persistence).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EmbeddedOnlyTests(EmbeddedFixture fixture) : ApiTests<EmbeddedFixture>(fixture)
{
    /// <summary>On a real cluster kube-controller-manager's namespace controller does this.</summary>
    [Fact]
    public async Task Namespace_Deletion_RemovesContents_ThenTheNamespace()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("in-ns"), ns);
        await SendRawAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}");
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var (code, _) = await SendRawAsync(HttpMethod.Get, $"/api/v1/namespaces/{ns}");
            if (code == HttpStatusCode.NotFound)
            {
                Assert.Empty(Fixture.Server.Store.List(Fixture.Server.Registry.Find(string.Empty, "v1", "configmaps")!, new Storage.ListFilter(ns, Core.Selectors.LabelSelector.Everything, []), 0, null).Items);
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the namespace was not removed");
    }

    /// <summary>The real server sends bookmarks about once a minute; here the interval is 1 s.</summary>
    [Fact]
    public async Task Watch_AllowBookmarks_GetsBookmarksCarryingTheCurrentVersion()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        var (code, body) = await SendRawAsync(HttpMethod.Get, $"/api/v1/namespaces/{ns}/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion={created.Metadata.ResourceVersion}&timeoutSeconds=3");
        Assert.Equal(HttpStatusCode.OK, code);
        var bookmarks = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).Where(e => e["type"]!.GetValue<string>() == "BOOKMARK").ToList();
        Assert.NotEmpty(bookmarks);
        Assert.All(bookmarks, b =>
        {
            Assert.Equal("ConfigMap", b["object"]!["kind"]!.GetValue<string>());
            Assert.True(long.Parse(b["object"]!["metadata"]!["resourceVersion"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) >= long.Parse(created.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture));
        });
    }

    [Fact]
    public async Task Fault_DropWatches_EndsOpenWatches_AndNewOnesWork()
    {
        var ns = await Fixture.NewNamespaceAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ended = Task.Run(async () =>
        {
            await foreach (var _ in Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, cancellationToken: cts.Token))
            {
            }
        }, cts.Token);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("x"), ns);
        await Task.Delay(300);
        var (code, body) = await SendRawAsync(HttpMethod.Post, "/_extip/faults/drop-watches");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.True(JsonNode.Parse(body)!["dropped"]!.GetValue<int>() >= 1);
        await ended.WaitAsync(TimeSpan.FromSeconds(10));
        var again = await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        Assert.Contains(again.Items, i => i.Metadata.Name == "x");
    }

    [Fact]
    public async Task Fault_FailNext_FailsExactlyThatManyMatchingRequests()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("f"), ns);
        Fixture.Server.Faults.FailNext(2, 503, verb: "get", resource: "configmaps");
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        Assert.NotEmpty(list.Items);
        var s1 = await FailsWith(HttpStatusCode.ServiceUnavailable, () => Client.CoreV1.ReadNamespacedConfigMapAsync("f", ns));
        Assert.Equal("ServiceUnavailable", s1["reason"]!.GetValue<string>());
        await FailsWith(HttpStatusCode.ServiceUnavailable, () => Client.CoreV1.ReadNamespacedConfigMapAsync("f", ns));
        Assert.Equal("f", (await Client.CoreV1.ReadNamespacedConfigMapAsync("f", ns)).Metadata.Name);

        var (code, _) = await SendRawAsync(HttpMethod.Post, "/_extip/faults/fail?count=1&status=409&verb=update&resource=configmaps");
        Assert.Equal(HttpStatusCode.OK, code);
        var cm = await Client.CoreV1.ReadNamespacedConfigMapAsync("f", ns);
        await FailsWith(HttpStatusCode.Conflict, () => Client.CoreV1.ReplaceNamespacedConfigMapAsync(cm, "f", ns));
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(cm, "f", ns);
    }

    [Fact]
    public async Task Fault_Latency_DelaysEveryRequest()
    {
        var ns = await Fixture.NewNamespaceAsync();
        // Two seconds: a lower bound that a busy machine cannot fake, and, once the fault is
        // cleared, a request that no busy machine here takes as long unless still delayed.
        await SendRawAsync(HttpMethod.Post, "/_extip/faults/latency?ms=2000");
        try
        {
            var sw = Stopwatch.StartNew();
            await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
            Assert.True(sw.ElapsedMilliseconds >= 1990, $"took {sw.ElapsedMilliseconds} ms");
        }
        finally
        {
            await SendRawAsync(HttpMethod.Delete, "/_extip/faults");
        }

        var fast = Stopwatch.StartNew();
        await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        Assert.True(fast.ElapsedMilliseconds < 1990, $"still delayed: {fast.ElapsedMilliseconds} ms");
    }

    /// <summary>fieldValidation is GA since Kubernetes 1.27 (beta 1.25).</summary>
    [Fact]
    public async Task FieldValidation_Strict_RejectsUnknownFields_Warn_DropsThem()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var body = """{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80,"bogus":1}],"wat":true}}""";
        var (code, text) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/services?fieldValidation=Strict", body);
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.ports[0].bogus\", unknown field \"spec.wat\"",
            ClusterFixture.ParseStatus(text)["message"]!.GetValue<string>());
        var (okCode, okText) = await SendRawAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/services?fieldValidation=Warn", body);
        Assert.Equal(HttpStatusCode.Created, okCode);
        Assert.Null(JsonNode.Parse(okText)!["spec"]!["wat"]);
    }

    /// <summary>discovery.k8s.io/v1 is GA since Kubernetes 1.21.</summary>
    [Fact]
    public async Task EndpointSlice_V1_CreateListAndValidate()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var slice = new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "web-abc", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "web" } },
            AddressType = "IPv4",
            Endpoints = [new V1Endpoint { Addresses = ["10.1.3.6"], NodeName = "k8s6", Conditions = new V1EndpointConditions { Ready = true } }],
            Ports = [new Discoveryv1EndpointPort { Port = 443, Protocol = "TCP" }],
        };
        await Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(slice, ns);
        var list = await Client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: "kubernetes.io/service-name=web");
        Assert.Equal("k8s6", Assert.Single(list.Items).Endpoints[0].NodeName);
        var bad = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(
            new V1EndpointSlice { Metadata = new V1ObjectMeta { Name = "bad" }, AddressType = "Carrier-Pigeon", Endpoints = [] }, ns));
        Assert.Contains(bad["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "addressType");
    }

    /// <summary>Dual-stack fields are filled since 1.21 (beta), internalTrafficPolicy since 1.22.</summary>
    [Fact]
    public async Task Service_Defaults_IpFamiliesAndPolicies()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var svc = await Client.CoreV1.CreateNamespacedServiceAsync(Service("d", "LoadBalancer"), ns);
        Assert.Equal(["IPv4"], svc.Spec.IpFamilies);
        Assert.Equal("SingleStack", svc.Spec.IpFamilyPolicy);
        Assert.Equal("Cluster", svc.Spec.InternalTrafficPolicy);
        Assert.True(svc.Spec.AllocateLoadBalancerNodePorts);
    }

    /// <summary>spec.loadBalancerClass exists since 1.21.</summary>
    [Fact]
    public async Task Service_LoadBalancerClass_OnlyOnLoadBalancer_AndImmutable()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var cip = Service("c");
        cip.Spec.LoadBalancerClass = "extip.io/lb";
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.CreateNamespacedServiceAsync(cip, ns));
        Assert.Contains(status["details"]!["causes"]!.AsArray(), c => c!["field"]!.GetValue<string>() == "spec.loadBalancerClass");
        var lb = Service("l", "LoadBalancer");
        lb.Spec.LoadBalancerClass = "extip.io/lb";
        var created = await Client.CoreV1.CreateNamespacedServiceAsync(lb, ns);
        created.Spec.LoadBalancerClass = "other.example.com/lb";
        await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.ReplaceNamespacedServiceAsync(created, "l", ns));
    }

    [Fact]
    public async Task OpenApiV3_DeclaresFieldValidation_SoKubectlValidatesOnTheServer()
    {
        var (code, root) = await SendRawAsync(HttpMethod.Get, "/openapi/v3");
        Assert.Equal(HttpStatusCode.OK, code);
        var url = JsonNode.Parse(root)!["paths"]!["api/v1"]!["serverRelativeURL"]!.GetValue<string>();
        var (docCode, doc) = await SendRawAsync(HttpMethod.Get, url);
        Assert.Equal(HttpStatusCode.OK, docCode);
        var patch = JsonNode.Parse(doc)!["paths"]!["/api/v1/namespaces/{namespace}/services/{name}"]!["patch"]!;
        Assert.Equal("Service", patch["x-kubernetes-group-version-kind"]!["kind"]!.GetValue<string>());
        Assert.Contains(patch["parameters"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "fieldValidation");
    }

    [Fact]
    public async Task DataDir_KeepsObjectsAcrossARestart()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"extip-data-{Guid.NewGuid():N}");
        try
        {
            string rv;
            string clusterIp;
            string firstToken;
            await using (var first = new EmbeddedApiServer(new ApiServerOptions { DataDir = dir }))
            {
                await first.StartAsync();
                var client = new Extip.Kubernetes.Client.ExtipKubernetes(new KubernetesClientConfiguration { Host = first.Url.ToString(), AccessToken = first.Token, SslCaCerts = first.Authority() });
                var svc = await client.CoreV1.CreateNamespacedServiceAsync(Service("kept", "NodePort"), "default");
                rv = svc.Metadata.ResourceVersion;
                clusterIp = svc.Spec.ClusterIP;
                firstToken = first.Token;
            }

            await using var second = new EmbeddedApiServer(new ApiServerOptions { DataDir = dir });
            await second.StartAsync();
            var again = new Extip.Kubernetes.Client.ExtipKubernetes(new KubernetesClientConfiguration { Host = second.Url.ToString(), AccessToken = second.Token, SslCaCerts = second.Authority() });

            // The token is kept with the objects (a kubeconfig written before the restart still
            // works), and both are the owner's only: objects.json holds Secrets.
            Assert.Equal(firstToken, second.Token);
            foreach (var file in new[] { "objects.json", "token" })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, file)));
            }

            var back = await again.CoreV1.ReadNamespacedServiceAsync("kept", "default");
            Assert.Equal(rv, back.Metadata.ResourceVersion);
            Assert.Equal(clusterIp, back.Spec.ClusterIP);
            var next = await again.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("after-restart"), "default");
            Assert.True(long.Parse(next.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture) > long.Parse(rv, System.Globalization.CultureInfo.InvariantCulture));
            var clash = Service("clash", "NodePort");
            clash.Spec.Ports[0].NodePort = back.Spec.Ports[0].NodePort;
            await FailsWith(HttpStatusCode.UnprocessableEntity, () => again.CoreV1.CreateNamespacedServiceAsync(clash, "default"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Issue 12: the token was never checked; anyone on loopback read Secrets and injected faults.</summary>
    [Theory]
    [InlineData("/api/v1/namespaces/default/secrets", null)]
    [InlineData("/api/v1/namespaces/default/secrets", "Bearer wrong")]
    [InlineData("/api/v1/namespaces/default/secrets", "Bearer ")]
    [InlineData("/apis", null)]
    [InlineData("/openapi/v3", null)]
    [InlineData("/_extip/faults", null)]
    public async Task WithoutTheToken_Unauthorized(string path, string? authorization)
    {
        using var req = new HttpRequestMessage(path.StartsWith("/_extip", StringComparison.Ordinal) ? HttpMethod.Delete : HttpMethod.Get, new Uri(Fixture.Server.Url, path));
        if (authorization is not null)
        {
            req.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var res = await RawClient.SendAsync(req);
        Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        var status = JsonNode.Parse(await res.Content.ReadAsStringAsync())!;
        Assert.Equal(("Status", "Unauthorized", "Unauthorized", 401), (status["kind"]!.GetValue<string>(), status["reason"]!.GetValue<string>(), status["message"]!.GetValue<string>(), status["code"]!.GetValue<int>()));
    }

    /// <summary>Health and version stay open, as kube-apiserver serves them to anonymous clients.</summary>
    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/livez")]
    [InlineData("/version")]
    public async Task HealthAndVersion_NeedNoToken(string path)
    {
        using var res = await RawClient.GetAsync(new Uri(Fixture.Server.Url, path));
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
    }

    [Fact]
    public async Task Kubeconfig_CarriesTheToken_OwnerOnly()
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Fixture.Kubeconfig);
        Assert.Equal(Fixture.Server.Token, config.AccessToken);
        Assert.True(Fixture.Server.Token.Length >= 32);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Fixture.Kubeconfig));
        await Client.CoreV1.ListNamespaceAsync();
    }

    /// <summary>Issue 12: --listen 0.0.0.0:0 bound every interface without a word, and then printed 127.0.0.1.</summary>
    [Fact]
    public async Task ListeningBeyondLoopback_NeedsAllowRemote_AndSaysWhatItBound()
    {
        await using (var refused = new EmbeddedApiServer(new ApiServerOptions { Listen = "0.0.0.0:0" }))
        {
            var e = await Assert.ThrowsAsync<ArgumentException>(() => refused.StartAsync());
            Assert.Contains("--allow-remote", e.Message, StringComparison.Ordinal);
        }

        await using var remote = new EmbeddedApiServer(new ApiServerOptions { Listen = "0.0.0.0:0", AllowRemote = true });
        await remote.StartAsync();
        Assert.Equal("0.0.0.0", remote.Bound.Host);
    }

    /// <summary>Issue 12: watches were unlimited (2,000 accepted).</summary>
    [Fact]
    public async Task Watches_OverTheLimit_Get429WithRetryAfter_AndAFreedOneIsReused()
    {
        await using var server = new EmbeddedApiServer(new ApiServerOptions { MaxWatches = 3 });
        await server.StartAsync();
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var http = new HttpClient(handler) { BaseAddress = server.Url };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", server.Token);
        Task<HttpResponseMessage> Watch() => http.GetAsync("/api/v1/configmaps?watch=true", HttpCompletionOption.ResponseHeadersRead);
        var open = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            open.Add(await Watch());
            Assert.Equal(HttpStatusCode.OK, open[^1].StatusCode);
        }

        using (var refused = await Watch())
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
            var status = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal(("TooManyRequests", 1), (status["reason"]!.GetValue<string>(), status["details"]!["retryAfterSeconds"]!.GetValue<int>()));
        }

        // A watch that ends frees its place (the server sees the connection close on its own time).
        open[0].Dispose();
        while (true)
        {
            var again = await Watch();
            if (again.StatusCode == HttpStatusCode.OK)
            {
                again.Dispose();
                break;
            }

            again.Dispose();
            await Task.Delay(50);
        }

        open.ForEach(r => r.Dispose());
    }

    /// <summary>Issue 12: big objects deleted long ago stayed in memory through their watch events.</summary>
    [Fact]
    public void WatchHistory_IsBoundedInBytes_TheOldestBigEventsFallOut()
    {
        var store = new Storage.ObjectStore(historyCapacity: 1000, historyBytes: 1_000_000);
        var type = Resources.Builtins.All().First(t => t.Plural == "configmaps" && t.Group.Length == 0);
        store.EnsureBucket(type);
        long first = 0;
        for (var i = 0; i < 20; i++)
        {
            var obj = new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "ConfigMap",
                ["metadata"] = new JsonObject { ["name"] = $"big-{i}", ["namespace"] = "default" },
                ["data"] = new JsonObject { ["blob"] = new string('x', 100_000) },
            };
            var (stored, _, _) = store.Mutate(type, "default", $"big-{i}", _ => Storage.Mutation.Put(obj));
            first = first == 0 ? stored!.ResourceVersion : first;
        }

        // 20 events of 200 KB each do not fit in 1 MB: a watch from the first is too old...
        var e = Assert.Throws<ApiException>(() => store.Watch(type, Storage.ListFilter.All, first));
        Assert.Equal(410, e.Code);

        // ...and one from a recent version gets what is kept, fewer than five.
        var (watcher, initial) = store.Watch(type, Storage.ListFilter.All, store.CurrentResourceVersion - 3);
        Assert.Equal(3, initial.Count);
        store.StopWatch(watcher);
    }
}
