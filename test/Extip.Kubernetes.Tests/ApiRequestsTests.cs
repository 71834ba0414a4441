using System.Net;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Election;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.Models;

namespace Extip.Kubernetes.Tests;

/// <summary>
/// extip's own requests (<see cref="ApiRequests"/>, <see cref="ApiPath"/>) and its Lease lock,
/// against the embedded API server: what the daemons use instead of KubernetesClient's generated
/// operations, checked through those operations where they read back.
/// </summary>
public sealed class ApiRequestsTests : EmbeddedServerTest
{
    [Fact]
    public async Task CreateGetReplacePatchDelete_RoundTripAnObject_AndTheServerSeesEachWrite()
    {
        var path = ApiPath.Core("configmaps", "default");
        var created = await Client.CreateAsync(path, new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "a" }, Data = new Dictionary<string, string> { ["k"] = "1" } }, CancellationToken.None);
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));

        var read = await Client.GetAsync<V1ConfigMap>(ApiPath.Core("configmaps", "default", "a"), CancellationToken.None);
        Assert.Equal("1", read.Data["k"]);

        read.Data["k"] = "2";
        var replaced = await Client.ReplaceAsync(ApiPath.Core("configmaps", "default", "a"), read, CancellationToken.None);
        Assert.NotEqual(created.Metadata.ResourceVersion, replaced.Metadata.ResourceVersion);
        Assert.Equal("2", (await Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default")).Data["k"]);

        var merged = await Client.PatchAsync<V1ConfigMap>(ApiPath.Core("configmaps", "default", "a"), new V1Patch("""{"data":{"m":"3"}}""", V1Patch.PatchType.MergePatch), CancellationToken.None);
        Assert.Equal(new Dictionary<string, string> { ["k"] = "2", ["m"] = "3" }, merged.Data);

        await Client.PatchAsync(ApiPath.Core("configmaps", "default", "a"), new V1Patch("""[{"op":"remove","path":"/data/k"}]""", V1Patch.PatchType.JsonPatch), CancellationToken.None);
        Assert.Equal(new Dictionary<string, string> { ["m"] = "3" }, (await Client.CoreV1.ReadNamespacedConfigMapAsync("a", "default")).Data);

        await Client.DeleteAsync(ApiPath.Core("configmaps", "default", "a"), CancellationToken.None);
        var gone = await Assert.ThrowsAsync<HttpOperationException>(() => Client.GetAsync<V1ConfigMap>(ApiPath.Core("configmaps", "default", "a"), CancellationToken.None));
        Assert.Equal(HttpStatusCode.NotFound, gone.Response.StatusCode);
    }

    [Fact]
    public async Task AStaleReplace_IsAConflict_AsWithTheClientsOperations()
    {
        var path = ApiPath.Core("configmaps", "default", "c");
        await Client.CreateAsync(ApiPath.Core("configmaps", "default"), new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "c" } }, CancellationToken.None);
        var stale = await Client.GetAsync<V1ConfigMap>(path, CancellationToken.None);
        await Client.PatchAsync(path, new V1Patch("""{"data":{"x":"1"}}""", V1Patch.PatchType.MergePatch), CancellationToken.None);

        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.ReplaceAsync(path, stale, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
    }

    [Fact]
    public async Task ListQuery_PagesAndSelects()
    {
        for (var i = 0; i < 5; i++)
        {
            await Client.CreateAsync(ApiPath.Core("configmaps", "default"), new V1ConfigMap { Metadata = new V1ObjectMeta { Name = $"p{i}", Labels = new Dictionary<string, string> { ["app"] = i % 2 == 0 ? "even" : "odd" } } }, CancellationToken.None);
        }

        var names = new List<string>();
        string? cont = null;
        var pages = 0;
        do
        {
            var page = await Client.GetAsync<V1ConfigMapList>(ApiPath.Query(ApiPath.Core("configmaps", "default"), limit: 2, continueToken: cont, labelSelector: "app=even"), CancellationToken.None);
            names.AddRange(page.Items.Select(c => c.Metadata.Name));
            cont = string.IsNullOrEmpty(page.Metadata.ContinueProperty) ? null : page.Metadata.ContinueProperty;
            pages++;
        }
        while (cont is not null);

        Assert.Equal(["p0", "p2", "p4"], names.Order(StringComparer.Ordinal));
        Assert.Equal(2, pages);
    }

    [Fact]
    public void Paths_EscapeNamesAndPlaceNamespacesAndSubresources()
    {
        Assert.Equal("api/v1/namespaces/a%2Fb/services/x%20y/status", ApiPath.Core("services", "a/b", "x y", "status"));
        Assert.Equal("apis/coordination.k8s.io/v1/namespaces/ns/leases", ApiPath.Group("coordination.k8s.io/v1", "leases", "ns"));
        Assert.Equal($"apis/{ExtipApi.Group}/{ExtipApi.Version}/ipnodes/n1/status", ApiPath.Extip("ipnodes", "n1", "status"));
        Assert.Equal("api/v1/nodes?limit=500&fieldSelector=metadata.name%3Dk8s1", ApiPath.Query("api/v1/nodes", 500, fieldSelector: "metadata.name=k8s1"));
    }

    [Fact]
    public async Task Requests_RefuseAClientExtipDidNotMake_ByName()
    {
        using var plain = new k8s.Kubernetes(Config());
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => plain.GetAsync<V1Namespace>(ApiPath.Core("namespaces", name: "default"), CancellationToken.None));
        Assert.Contains(nameof(ExtipKubernetes), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARequestTheServerNeverAnswers_EndsAtTheConfigurationsTimeout()
    {
        // A server that accepts the connection and never answers.
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var connected = new TaskCompletionSource<System.Net.Sockets.TcpClient>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () => connected.TrySetResult(await silent.AcceptTcpClientAsync()));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var client = new ExtipKubernetes(new KubernetesClientConfiguration
        {
            Host = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}",
        })
        { Time = time };

        // The caller's own token never ends the request here: the client's timeout (100 s by default) does.
        var pending = client.GetAsync<V1Namespace>(ApiPath.Core("namespaces", name: "default"), CancellationToken.None);
        using var connection = await connected.Task;
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(99));
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Fact]
    public async Task LeaseLock_CreatesReadsAndUpdatesTheLease_AndAnOutdatedHolderCannotWrite()
    {
        var first = new ApiLeaseLock(Client, "default", "elect", "one");
        var now = DateTime.UtcNow;
        Assert.True(await first.CreateAsync(new LeaderElectionRecord { HolderIdentity = "one", AcquireTime = now, RenewTime = now, LeaseDurationSeconds = 7 }));

        var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync("elect", "default");
        Assert.Equal("one", lease.Spec.HolderIdentity);
        Assert.Equal(7, lease.Spec.LeaseDurationSeconds);

        var second = new ApiLeaseLock(Client, "default", "elect", "two");
        var seen = await second.GetAsync();
        Assert.Equal("one", seen.HolderIdentity);
        Assert.True(await second.UpdateAsync(new LeaderElectionRecord { HolderIdentity = "two", AcquireTime = now, RenewTime = now, LeaseDurationSeconds = 7, LeaderTransitions = 1 }));
        Assert.Equal("two", (await Client.CoordinationV1.ReadNamespacedLeaseAsync("elect", "default")).Spec.HolderIdentity);

        // The first lock's copy is older than the second's write: its update is refused, not applied.
        await first.GetAsync();
        await Client.PatchAsync(ApiPath.Group("coordination.k8s.io/v1", "leases", "default", "elect"), new V1Patch("""{"metadata":{"labels":{"x":"y"}}}""", V1Patch.PatchType.MergePatch), CancellationToken.None);
        Assert.False(await first.UpdateAsync(new LeaderElectionRecord { HolderIdentity = "one", RenewTime = now, LeaseDurationSeconds = 7 }));
        Assert.Equal("two", (await Client.CoordinationV1.ReadNamespacedLeaseAsync("elect", "default")).Spec.HolderIdentity);
    }
}
