using System.Net;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    [Fact]
    public async Task Watch_FromListResourceVersion_SeesEveryLaterChangeInOrder()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("before"), ns);
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = new List<(WatchEventType, string, string)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, cm) in Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                if (cm.Metadata.Name == "kube-root-ca.crt")
                {
                    continue;
                }

                events.Add((type, cm.Metadata.Name, (cm.Data is { } d && d.TryGetValue("k", out var v) ? v : string.Empty)));
                if (events.Count == 4)
                {
                    return;
                }
            }
        }, cts.Token);
        await Task.Delay(300);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("after"), ns);
        var after = await Client.CoreV1.ReadNamespacedConfigMapAsync("after", ns);
        after.Data["k"] = "2";
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(after, "after", ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("before", ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("after", ns);
        await watching;
        Assert.Equal(
            [(WatchEventType.Added, "after", "v"), (WatchEventType.Modified, "after", "2"), (WatchEventType.Deleted, "before", "v"), (WatchEventType.Deleted, "after", "2")],
            events);
    }

    [Fact]
    public async Task Watch_WithoutResourceVersion_StartsWithAddedForExistingObjects()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("one"), ns);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("two"), ns);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<string>();
        await foreach (var (type, cm) in Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, cancellationToken: cts.Token))
        {
            Assert.Equal(WatchEventType.Added, type);
            if (cm.Metadata.Name != "kube-root-ca.crt")
            {
                seen.Add(cm.Metadata.Name);
            }

            if (seen.Count == 2)
            {
                break;
            }
        }

        Assert.Equal(["one", "two"], seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Watch_LabelSelector_SeesObjectsLeaveAndEnterTheSelection()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = new List<(WatchEventType, string)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, cm) in Client.CoreV1.WatchListNamespacedConfigMapAsync(ns, labelSelector: "tier=front", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                events.Add((type, (cm.Metadata.Labels is { } l && l.TryGetValue("tier", out var t) ? t : "-")));
                if (events.Count == 3)
                {
                    return;
                }
            }
        }, cts.Token);
        await Task.Delay(300);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("s", new() { ["tier"] = "front" }), ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"tier":"back"}}}""", V1Patch.PatchType.MergePatch), "s", ns);
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"tier":"front"}}}""", V1Patch.PatchType.MergePatch), "s", ns);
        await watching;
        // Leaving the selection is a DELETED carrying the content that matched.
        Assert.Equal([(WatchEventType.Added, "front"), (WatchEventType.Deleted, "front"), (WatchEventType.Added, "front")], events);
    }

    [Fact]
    public async Task Watch_TimeoutSeconds_EndsTheStream()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var started = DateTime.UtcNow;

        // Raw HTTP: KubernetesClient treats a watch that ends without a single event as an error.
        var (code, body) = await SendRawAsync(HttpMethod.Get, $"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(string.Empty, body.Trim());
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 0.5, 15);
    }
}
