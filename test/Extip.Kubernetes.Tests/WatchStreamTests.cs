using System.Text.Json;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Kubernetes.Tests;

/// <summary>extip's own watch (<see cref="ExtipKubernetes.WatchAsync{T}"/>), against the embedded API server.</summary>
public sealed class WatchStreamTests : EmbeddedServerTest
{
    [Fact]
    public async Task Watch_DeliversAddedModifiedDeleted_InOrder_WithTheirObjects_AndHonoursTheLabelSelector()
    {
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<(WatchEventType, string, string?)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, cm) in Client.WatchAsync("api/v1/namespaces/default/configmaps", list.Metadata.ResourceVersion, ExtipKubernetes.Read<V1ConfigMap>, labelSelector: "app=a", ct: cts.Token))
            {
                if (type == WatchEventType.Bookmark)
                {
                    continue;
                }

                seen.Add((type, cm.Metadata.Name, (cm.Data is { } d && d.TryGetValue("k", out var k) ? k : null)));
                if (type == WatchEventType.Deleted)
                {
                    return;
                }
            }
        });

        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "other", Labels = new Dictionary<string, string> { ["app"] = "b" } } }, "default");
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "one", Labels = new Dictionary<string, string> { ["app"] = "a" } }, Data = new Dictionary<string, string> { ["k"] = "1" } }, "default");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("{\"data\":{\"k\":\"2\"}}", V1Patch.PatchType.MergePatch), "one", "default");
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("one", "default");
        await watching.WaitAsync(cts.Token);

        Assert.Equal([(WatchEventType.Added, "one", "1"), (WatchEventType.Modified, "one", "2"), (WatchEventType.Deleted, "one", "2")], seen);
    }

    [Fact]
    public async Task Watch_OfAResourceNotServed_IsTheClientsNotFound()
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(async () =>
        {
            await foreach (var unused in Client.WatchAsync("apis/nothing.example.com/v1/things", "0", ExtipKubernetes.Read<V1ConfigMap>))
            {
            }
        });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, e.Response.StatusCode);
    }

    [Fact]
    public void ErrorEvent_IsAnExpiredWatch_WithTheServersCodeAndMessage()
    {
        var e = Assert.Throws<WatchExpiredException>(() => ExtipKubernetes.ParseEvent(
            """{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 5 (90)","reason":"Expired","code":410}}"""));
        Assert.Contains("410", e.Message, StringComparison.Ordinal);
        Assert.Contains("too old resource version: 5 (90)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"ADDED","object":{"metadata":{"name":"a"}}}""", WatchEventType.Added)]
    [InlineData("""{"type":"MODIFIED","object":{"metadata":{"name":"a"}}}""", WatchEventType.Modified)]
    [InlineData("""{"type":"DELETED","object":{"metadata":{"name":"a"}}}""", WatchEventType.Deleted)]
    [InlineData("""{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}""", WatchEventType.Bookmark)]
    public void Event_TypeAndObject(string line, WatchEventType type)
    {
        var (t, raw) = ExtipKubernetes.ParseEvent(line);
        Assert.Equal(type, t);
        Assert.StartsWith("{\"metadata\":", raw, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"RENAMED","object":{}}""", "unknown type \"RENAMED\"")]
    [InlineData("""{"type":"ADDED"}""", "without an object")]
    [InlineData("""{"type":"ADDED","object":null}""", "without an object")]
    public void MalformedEvent_IsAnErrorThatQuotesIt(string line, string says)
    {
        var e = Assert.ThrowsAny<JsonException>(() => ExtipKubernetes.ParseEvent(line));
        Assert.Contains(says, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Informers_RefuseAClientWithoutThisWatch_ByName()
    {
        using var plain = new k8s.Kubernetes(Config());
        var ops = Resources.Services(plain);
        var e = await Assert.ThrowsAsync<NotSupportedException>(async () =>
        {
            await foreach (var unused in ops.Watch("0", CancellationToken.None))
            {
            }
        });
        Assert.Contains(nameof(ExtipKubernetes), e.Message, StringComparison.Ordinal);
    }
}
