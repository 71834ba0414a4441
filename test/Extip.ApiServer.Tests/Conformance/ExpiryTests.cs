using System.Net;
using System.Text.Json.Nodes;
using k8s;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    /// <summary>
    /// A watch from a resourceVersion the server no longer remembers gets the real 410: an ERROR
    /// event whose Status says Expired, and a relist then a watch from the new version works.
    /// </summary>
    [Fact]
    public async Task Watch_FromExpiredResourceVersion_GetsExpiredErrorEvent_AndRelistRecovers()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var first = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("old"), ns);
        await Fixture.ExpireHistoryAsync(ns);
        var (code, body) = await SendRawAsync(HttpMethod.Get, $"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={first.Metadata.ResourceVersion}&timeoutSeconds=5");
        Assert.Equal(HttpStatusCode.OK, code);
        var evt = JsonNode.Parse(body.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0])!;
        Assert.Equal("ERROR", evt["type"]!.GetValue<string>());
        Assert.Equal(410, evt["object"]!["code"]!.GetValue<int>());
        Assert.Equal("Expired", evt["object"]!["reason"]!.GetValue<string>());
        Assert.StartsWith("too old resource version", evt["object"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var relist = await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, cm) in Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: relist.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                if (cm.Metadata.Name == "fresh")
                {
                    return type;
                }
            }

            return WatchEventType.Error;
        }, cts.Token);
        await Task.Delay(300);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("fresh"), ns);
        Assert.Equal(WatchEventType.Added, await watching);
    }
}
