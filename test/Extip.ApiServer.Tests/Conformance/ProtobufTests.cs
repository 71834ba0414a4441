using k8s;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Extip.ApiServer.Protobuf;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// Protobuf bodies (application/vnd.kubernetes.protobuf), as kubectl and client-go send and ask
/// for them. Against the real kube-apiserver these prove the codec speaks its wire format: what
/// extip encodes, kube-apiserver reads; what kube-apiserver writes, extip decodes to the same JSON
/// that kube-apiserver serves.
/// </summary>
public abstract partial class ConformanceTests<TFixture>
{
    private const string Pb = KubeProtobuf.MediaType;

    public static TheoryData<string, string> ProtobufObjects => new()
    {
        {
            "configmaps", """
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pb-cm","labels":{"app":"pb"},"annotations":{"a":""}},
             "data":{"k":"v","empty":""},"binaryData":{"bin":"AAEC/w=="}}
            """
        },
        {
            "secrets", """
            {"apiVersion":"v1","kind":"Secret","metadata":{"name":"pb-secret"},"type":"Opaque","data":{"password":"czNjcjN0"},"immutable":false}
            """
        },
        {
            "services", """
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"pb-svc"},
             "spec":{"type":"NodePort","selector":{"app":"pb"},"externalIPs":["203.0.113.9"],"sessionAffinity":"ClientIP",
               "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}},"externalTrafficPolicy":"Local",
               "ports":[{"name":"web","protocol":"TCP","port":80,"targetPort":8080},{"name":"dns","protocol":"UDP","port":53,"targetPort":"dns"}]}}
            """
        },
        {
            "pods", """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"pb-pod","labels":{"app":"pb"}},
             "spec":{"terminationGracePeriodSeconds":0,"automountServiceAccountToken":false,"securityContext":{"runAsUser":0,"runAsNonRoot":false},
               "volumes":[{"name":"scratch","emptyDir":{"sizeLimit":"64Mi"}},{"name":"cfg","configMap":{"name":"pb-cm","defaultMode":420}}],
               "containers":[{"name":"web","image":"registry.example/web:1","args":["--port","8080"],
                 "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
                 "env":[{"name":"MODE","value":"lab"},{"name":"NODE","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"spec.nodeName"}}}],
                 "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"100m"}},
                 "livenessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"periodSeconds":5,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},
                 "volumeMounts":[{"name":"scratch","mountPath":"/scratch"}]}]}}
            """
        },
        {
            "leases", """
            {"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"pb-lease"},
             "spec":{"holderIdentity":"k8s1","leaseDurationSeconds":3,"acquireTime":"2026-12-03T10:00:00.000000Z","renewTime":"2026-12-03T10:00:01.123456Z","leaseTransitions":0}}
            """
        },
        {
            "events", """
            {"apiVersion":"v1","kind":"Event","metadata":{"name":"pb-event"},
             "involvedObject":{"kind":"Service","namespace":"NS","name":"pb-svc","apiVersion":"v1"},
             "reason":"AddressAssigned","message":"Assigned 203.0.113.9","type":"Normal","count":2,
             "source":{"component":"extip-controller"},"firstTimestamp":"2026-12-03T10:00:00Z","lastTimestamp":"2026-12-03T10:00:05Z"}
            """
        },
        {
            "roles", """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pb-role"},
             "rules":[{"apiGroups":[""],"resources":["services","services/status"],"verbs":["get","list","watch","patch"]}]}
            """
        },
        {
            "rolebindings", """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"pb-binding"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pb-role"},
             "subjects":[{"kind":"ServiceAccount","name":"extip-agent","namespace":"NS"},{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"jane"}]}
            """
        },
    };

    [Theory]
    [MemberData(nameof(ProtobufObjects))]
    public async Task Protobuf_CreatedInProtobuf_ReadsBackTheSameAsJsonAndAsProtobuf(string plural, string json)
    {
        var ns = await Fixture.NewNamespaceAsync();
        var input = JsonNode.Parse(json.Replace("\"NS\"", $"\"{ns}\"", StringComparison.Ordinal))!.AsObject();
        var apiVersion = input["apiVersion"]!.GetValue<string>();
        var basePath = apiVersion == "v1" ? $"/api/v1/namespaces/{ns}/{plural}" : $"/apis/{apiVersion}/namespaces/{ns}/{plural}";
        var body = KubeProtobuf.TryEncode(input);
        Assert.NotNull(body);
        if (plural == "pods")
        {
            // kube-apiserver's ServiceAccount admission wants the Pod's account to exist.
            await Fixture.KubectlAsync($"-n {ns} create serviceaccount default");
        }

        var (code, created, createdType) = await SendBytesAsync(HttpMethod.Post, basePath, body, Pb, $"{Pb}, application/json");
        Assert.True(code == HttpStatusCode.Created, $"POST {basePath} in protobuf: {(int)code} {System.Text.Encoding.UTF8.GetString(created)}");
        Assert.Equal(Pb, createdType);
        var fromCreate = KubeProtobuf.Decode(created);

        var name = input["metadata"]!["name"]!.GetValue<string>();
        var (jsonCode, asJson, jsonType) = await SendBytesAsync(HttpMethod.Get, $"{basePath}/{name}", null, Pb, "application/json");
        Assert.Equal(HttpStatusCode.OK, jsonCode);
        Assert.Equal("application/json", jsonType);
        var served = JsonNode.Parse(asJson)!.AsObject();
        var (pbCode, asPb, pbType) = await SendBytesAsync(HttpMethod.Get, $"{basePath}/{name}", null, Pb, $"{Pb}, application/json");
        Assert.Equal(HttpStatusCode.OK, pbCode);
        Assert.Equal(Pb, pbType);
        var fromGet = KubeProtobuf.Decode(asPb);

        // Everything sent arrived (the server adds its defaults and metadata).
        AssertSubset(input, served, "$");

        // What came back in protobuf is what the server serves as JSON (managedFields aside: v1.20
        // writes them only for some requests, and their times are the server's).
        foreach (var o in new[] { served, fromCreate, fromGet })
        {
            o["metadata"]!.AsObject().Remove("managedFields");
        }

        Assert.True(JsonNode.DeepEquals(served, fromGet), $"GET in protobuf decoded:\n{fromGet.ToJsonString()}\nGET as JSON:\n{served.ToJsonString()}");
        Assert.True(JsonNode.DeepEquals(served, fromCreate), $"POST answer in protobuf decoded:\n{fromCreate.ToJsonString()}\nGET as JSON:\n{served.ToJsonString()}");
    }

    [Fact]
    public async Task Protobuf_ListInProtobuf_HoldsEveryItem()
    {
        var ns = await Fixture.NewNamespaceAsync();
        foreach (var name in new[] { "a", "b", "c" })
        {
            await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap(name), ns);
        }

        var (code, body, type) = await SendBytesAsync(HttpMethod.Get, $"/api/v1/namespaces/{ns}/configmaps", null, Pb, $"{Pb}, application/json");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(Pb, type);
        var list = KubeProtobuf.Decode(body);
        Assert.Equal("ConfigMapList", list["kind"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(list["metadata"]?["resourceVersion"]?.GetValue<string>()));
        Assert.Equal(["a", "b", "c"], list["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()));
        Assert.All(list["items"]!.AsArray(), i => Assert.Equal("v", i!["data"]!["k"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Protobuf_BodyWithoutTheEnvelope_IsRefusedWithStatus()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var (code, body, type) = await SendBytesAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps", "{\"kind\":\"ConfigMap\"}"u8.ToArray(), Pb, "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("application/json", type);
        Assert.Contains("protobuf", System.Text.Encoding.UTF8.GetString(body), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Kubectl_CreateGenerators_WhichSendProtobuf()
    {
        var ns = $"pb-{Guid.NewGuid():N}"[..12];
        Assert.Contains($"namespace/{ns} created", await KubectlOk($"create namespace {ns}"), StringComparison.Ordinal);
        Assert.Contains("service/web created", await KubectlOk($"-n {ns} create service loadbalancer web --tcp=80:8080"), StringComparison.Ordinal);
        Assert.Contains("configmap/settings created", await KubectlOk($"-n {ns} create configmap settings --from-literal=mode=lab"), StringComparison.Ordinal);
        Assert.Contains("secret/key created", await KubectlOk($"-n {ns} create secret generic key --from-literal=password=s3cr3t"), StringComparison.Ordinal);
        Assert.Contains("role.rbac.authorization.k8s.io/reader created", await KubectlOk($"-n {ns} create role reader --verb=get,list --resource=services"), StringComparison.Ordinal);
        Assert.Contains("rolebinding.rbac.authorization.k8s.io/reader created", await KubectlOk($"-n {ns} create rolebinding reader --role=reader --user=jane"), StringComparison.Ordinal);
        Assert.Equal("LoadBalancer,80,8080", await KubectlOk($"-n {ns} get svc web -o jsonpath={{.spec.type}},{{.spec.ports[0].port}},{{.spec.ports[0].targetPort}}"));
        Assert.Equal("lab", await KubectlOk($"-n {ns} get configmap settings -o jsonpath={{.data.mode}}"));
        Assert.Equal("czNjcjN0", await KubectlOk($"-n {ns} get secret key -o jsonpath={{.data.password}}"));
        Assert.Equal("get,list", await KubectlOk($"-n {ns} get role reader -o jsonpath={{.rules[0].verbs[0]}},{{.rules[0].verbs[1]}}"));
        Assert.Equal("jane", await KubectlOk($"-n {ns} get rolebinding reader -o jsonpath={{.subjects[0].name}}"));
        await KubectlOk($"delete namespace {ns} --wait=false");
    }

    private static void AssertSubset(JsonNode? expected, JsonNode? actual, string at)
    {
        switch (expected)
        {
            case JsonObject o:
                var ao = Assert.IsType<JsonObject>(actual, exactMatch: false);
                foreach (var (k, v) in o)
                {
                    Assert.True(ao.ContainsKey(k), $"{at}.{k} was sent but is not served: {ao.ToJsonString()}");
                    AssertSubset(v, ao[k], $"{at}.{k}");
                }

                break;
            case JsonArray a:
                var aa = Assert.IsType<JsonArray>(actual, exactMatch: false);
                Assert.True(a.Count == aa.Count, $"{at}: sent {a.ToJsonString()}, served {aa.ToJsonString()}");
                for (var i = 0; i < a.Count; i++)
                {
                    AssertSubset(a[i], aa[i], $"{at}[{i}]");
                }

                break;
            default:
                Assert.True(JsonNode.DeepEquals(expected, actual), $"{at}: sent {expected?.ToJsonString()}, served {actual?.ToJsonString()}");
                break;
        }
    }

    private async Task<(HttpStatusCode Code, byte[] Body, string? ContentType)> SendBytesAsync(HttpMethod method, string path, byte[]? body, string contentType, string accept)
    {
        var (url, auth) = Raw();
        using var req = new HttpRequestMessage(method, url + path);
        if (body is not null)
        {
            req.Content = new ByteArrayContent(body);
            req.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        req.Headers.TryAddWithoutValidation("Accept", accept);
        auth(req);
        using var res = await RawClient.SendAsync(req);
        return (res.StatusCode, await res.Content.ReadAsByteArrayAsync(), res.Content.Headers.ContentType?.MediaType);
    }
}
