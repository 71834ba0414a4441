using Extip.ApiServer;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace Extip.Kubernetes.Tests;

public sealed class InformerTests : EmbeddedServerTest
{
    private readonly Extip.Testing.Cluster.RecordingLogger _log = new();

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    private Task Create(string name) => Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name } }, "default");

    private Informer<V1ConfigMap> NewInformer() => new(new ResourceOps<V1ConfigMap>("configmaps",
        async (cont, ct) =>
        {
            var l = await Client.CoreV1.ListNamespacedConfigMapAsync("default", continueParameter: cont, limit: 2, cancellationToken: ct);
            return (l.Items, l.Metadata.ResourceVersion, l.Metadata.ContinueProperty);
        },
        (rv, ct) => ((ExtipKubernetes)Client).WatchAsync("api/v1/namespaces/default/configmaps", rv, ExtipKubernetes.Read<V1ConfigMap>, ct: ct)), _log.CreateLogger("informer"));

    [Fact]
    public async Task ListsAllPages_ThenIsReady_ThenFollowsTheWatch()
    {
        for (var i = 0; i < 5; i++)
        {
            await Create($"pre-{i}");
        }

        var informer = NewInformer();
        var changes = new List<(WatchEventType, string)>();
        informer.Changed += (t, o, _) =>
        {
            lock (changes)
            {
                changes.Add((t, o.Metadata.Name));
            }
        };
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.ReadyAsync(CancellationToken.None);
        Assert.Equal(5, informer.Count);
        await Create("live");
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("pre-0", "default");
        await Until(() => informer.Get("default/live") is not null && informer.Get("default/pre-0") is null, "watch events");
        lock (changes)
        {
            Assert.Contains((WatchEventType.Added, "live"), changes);
            Assert.Contains((WatchEventType.Deleted, "pre-0"), changes);
        }

        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task DroppedWatch_IsResumedWithoutRelisting()
    {
        var informer = NewInformer();
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.ReadyAsync(CancellationToken.None);
        Server.Faults.DropWatches();
        await Task.Delay(200);
        await Create("after-drop");
        await Until(() => informer.Get("default/after-drop") is not null, "event after the drop");
        Assert.True(informer.Relists == 1, $"{informer.Relists} lists:\n{_log.Dump()}");
        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task ExpiredWatch_Relists_AndMissesNothing()
    {
        // Requests take 300 ms: between the list and the watch taking effect, a change happens
        // and the history is compacted, so the watch from the list's version gets 410 Expired.
        Server.Faults.Latency = TimeSpan.FromMilliseconds(300);
        var informer = NewInformer();
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.ReadyAsync(CancellationToken.None);
        var type = Server.Registry.Find(string.Empty, "v1", "configmaps")!;
        Server.Store.Mutate(type, "default", "during", _ => ApiServer.Storage.Mutation.Put(new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "during", ["namespace"] = "default", ["uid"] = Guid.NewGuid().ToString() },
        }));
        Server.Faults.Compact();
        Server.Faults.Latency = TimeSpan.Zero;
        await Until(() => informer.Get("default/during") is not null, "the change made while compacted");
        Assert.True(informer.Relists >= 2, $"relists: {informer.Relists}");
        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task RequiredResource_NotServedYet_NotReady_ThenReadyWithItsObjects_OnceItsCrdIsInstalled()
    {
        var claims = new Informer<Extip.Kubernetes.Models.IpClaim>(Resources.Custom<Extip.Kubernetes.Models.IpClaim>(Client, Extip.Kubernetes.Models.IpClaim.Plural), _log.CreateLogger("informer")) { Required = true };
        using var cts = new CancellationTokenSource();
        var run = claims.RunAsync(cts.Token);
        await Until(() => claims.NotServed, "the informer finding the resource not served");
        Assert.False(claims.IsReady);

        // The CRDs arrive (applied with the DaemonSet, say), then a claim: the informer lists it, without a restart.
        await Extip.Kubernetes.Crds.CrdInstaller.InstallAsync(Client, CancellationToken.None);
        await Client.CustomObjects.CreateClusterCustomObjectAsync(new Extip.Kubernetes.Models.IpClaim
        {
            ApiVersion = Extip.Kubernetes.Models.ExtipApi.ApiVersion,
            Metadata = new V1ObjectMeta { Name = "192-0-2-1" },
            Spec = new Extip.Kubernetes.Models.IpClaimSpecModel { Address = "192.0.2.1", PrefixLength = 32, Nodes = ["n1"] },
        }, Extip.Kubernetes.Models.ExtipApi.Group, Extip.Kubernetes.Models.ExtipApi.Version, Extip.Kubernetes.Models.IpClaim.Plural);
        await Until(() => claims.IsReady && claims.Items.Any(c => c.Spec.Address == "192.0.2.1"), "the informer ready with the claim");
        Assert.False(claims.NotServed);
        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task OptionalResource_NotServed_ReadyWithoutIt()
    {
        var claims = new Informer<Extip.Kubernetes.Models.IpClaim>(Resources.Custom<Extip.Kubernetes.Models.IpClaim>(Client, Extip.Kubernetes.Models.IpClaim.Plural), _log.CreateLogger("informer"));
        using var cts = new CancellationTokenSource();
        var run = claims.RunAsync(cts.Token);
        await claims.ReadyAsync(CancellationToken.None);
        Assert.True(claims.NotServed);
        Assert.Empty(claims.Items);
        await cts.CancelAsync();
        await run;
    }
}
