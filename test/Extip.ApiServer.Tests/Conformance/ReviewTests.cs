using System.Net;
using System.Text.Json.Nodes;
using k8s;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>The review kinds kubectl and webhooks use: answered, never stored, as kube-apiserver answers them (AlwaysAllow here).</summary>
public abstract partial class ConformanceTests<TFixture>
{
    private async Task<JsonObject> ReviewAsync(string path, string body)
    {
        var (code, text) = await SendRawAsync(HttpMethod.Post, path, body);
        Assert.True(code == HttpStatusCode.Created, $"POST {path}: {(int)code} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task Kubectl_AuthCanIList_ShowsEverything_UnderAlwaysAllow()
    {
        var list = await KubectlOk("auth can-i --list");
        Assert.Matches(@"(?m)^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs", list);
        Assert.Matches(@"(?m)^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]", list);
        Assert.Matches(@"(?m)^\s+\[\*\]\s+\[\]\s+\[\*\]", list);
        Assert.Equal("yes", (await KubectlOk("auth can-i create services")).Trim());
    }

    [Fact]
    public async Task TokenReview_KnowsTheKubeconfigsToken_AndNotAnInventedOne()
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Fixture.Kubeconfig);
        var known = await ReviewAsync("/apis/authentication.k8s.io/v1/tokenreviews", $$$"""{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"{{{config.AccessToken}}}"}}""");
        Assert.Equal("TokenReview", known["kind"]!.GetValue<string>());
        Assert.True(known["status"]!["authenticated"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(known["status"]!["user"]!["username"]!.GetValue<string>()));
        Assert.Contains(known["status"]!["user"]!["groups"]!.AsArray(), g => g!.GetValue<string>() == "system:masters");

        var unknown = await ReviewAsync("/apis/authentication.k8s.io/v1/tokenreviews", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"not-a-token"}}""");
        Assert.Null(unknown["status"]!["authenticated"]);
        Assert.Equal("{}", unknown["status"]!["user"]!.ToJsonString());

        var (code, _) = await SendRawAsync(HttpMethod.Get, "/apis/authentication.k8s.io/v1/tokenreviews");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, code);
    }

    [Fact]
    public async Task SubjectAccessReview_AnswersForAnotherUser_AndNeedsOne()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var sar = await ReviewAsync("/apis/authorization.k8s.io/v1/subjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"jane","resourceAttributes":{"verb":"get","resource":"services","namespace":"x"}}}""");
        Assert.True(sar["status"]!["allowed"]!.GetValue<bool>());
        var local = await ReviewAsync($"/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews",
            "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"LocalSubjectAccessReview\",\"metadata\":{\"namespace\":\"" + ns + "\"},\"spec\":{\"user\":\"jane\",\"resourceAttributes\":{\"verb\":\"list\",\"resource\":\"pods\",\"namespace\":\"" + ns + "\"}}}");
        Assert.True(local["status"]!["allowed"]!.GetValue<bool>());

        var (code, text) = await SendRawAsync(HttpMethod.Post, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"services"}}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Contains("spec.user", text, StringComparison.Ordinal);
    }
}
