using System.Net;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    [Fact]
    public async Task Create_SetsUidCreationTimestampAndResourceVersion()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), ns);
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.True(long.Parse(created.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(ns, created.Metadata.NamespaceProperty);
        var got = await Client.CoreV1.ReadNamespacedConfigMapAsync("a", ns);
        Assert.Equal(created.Metadata.Uid, got.Metadata.Uid);
        Assert.Equal("v", got.Data["k"]);
    }

    [Fact]
    public async Task ResourceVersion_IncreasesWithEveryWrite()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var a = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), ns);
        var b = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        a.Data["k"] = "changed";
        var a2 = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(a, "a", ns);
        var rvs = new[] { a, b, a2 }.Select(o => long.Parse(o.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(rvs[0] < rvs[1] && rvs[1] < rvs[2], string.Join(",", rvs));
    }

    [Fact]
    public async Task Get_Missing_Is404WithNotFoundStatus()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var status = await FailsWith(HttpStatusCode.NotFound, () => Client.CoreV1.ReadNamespacedServiceAsync("nope", ns));
        Assert.Equal("NotFound", status["reason"]!.GetValue<string>());
        Assert.Equal("services \"nope\" not found", status["message"]!.GetValue<string>());
        Assert.Equal("nope", status["details"]!["name"]!.GetValue<string>());
        Assert.Equal("services", status["details"]!["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_MissingGroupedResource_NamesTheGroup()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var status = await FailsWith(HttpStatusCode.NotFound, () => Client.CoordinationV1.ReadNamespacedLeaseAsync("nope", ns));
        Assert.Equal("leases.coordination.k8s.io \"nope\" not found", status["message"]!.GetValue<string>());
        Assert.Equal("coordination.k8s.io", status["details"]!["group"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_Twice_Is409AlreadyExists()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("dup"), ns);
        var status = await FailsWith(HttpStatusCode.Conflict, () => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("dup"), ns));
        Assert.Equal("AlreadyExists", status["reason"]!.GetValue<string>());
        Assert.Equal("configmaps \"dup\" already exists", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Update_WithStaleResourceVersion_Is409Conflict()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var first = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c"), ns);
        var fresh = await Client.CoreV1.ReadNamespacedConfigMapAsync("c", ns);
        fresh.Data["k"] = "1";
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(fresh, "c", ns);
        first.Data["k"] = "2";
        var status = await FailsWith(HttpStatusCode.Conflict, () => Client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "c", ns));
        Assert.Equal("Conflict", status["reason"]!.GetValue<string>());
        Assert.StartsWith("Operation cannot be fulfilled on configmaps \"c\": the object has been modified", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("1", (await Client.CoreV1.ReadNamespacedConfigMapAsync("c", ns)).Data["k"]);
    }

    [Fact]
    public async Task Update_WithoutChanges_KeepsResourceVersion()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("same"), ns);
        var again = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "same", ns);
        Assert.Equal(created.Metadata.ResourceVersion, again.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Delete_RemovesTheObject_AndReturnsSuccessStatus()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("gone"), ns);
        var status = await Client.CoreV1.DeleteNamespacedConfigMapAsync("gone", ns);
        Assert.Equal("Success", status.Status);
        Assert.Equal(created.Metadata.Uid, status.Details.Uid);
        await FailsWith(HttpStatusCode.NotFound, () => Client.CoreV1.ReadNamespacedConfigMapAsync("gone", ns));
        await FailsWith(HttpStatusCode.NotFound, () => Client.CoreV1.DeleteNamespacedConfigMapAsync("gone", ns));
    }

    [Fact]
    public async Task Delete_WithWrongUidPrecondition_Is409()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("p"), ns);
        var status = await FailsWith(HttpStatusCode.Conflict, () => Client.CoreV1.DeleteNamespacedConfigMapAsync("p", ns,
            new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = "00000000-0000-0000-0000-000000000000" } }));
        Assert.Equal("Conflict", status["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Finalizers_DeferDeletion_UntilRemoved()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var cm = ConfigMap("fin");
        cm.Metadata.Finalizers = ["extip.io/test"];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, ns);
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("fin", ns);
        var terminating = await Client.CoreV1.ReadNamespacedConfigMapAsync("fin", ns);
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);
        terminating.Metadata.Finalizers = [];
        await Client.CoreV1.ReplaceNamespacedConfigMapAsync(terminating, "fin", ns);
        await FailsWith(HttpStatusCode.NotFound, () => Client.CoreV1.ReadNamespacedConfigMapAsync("fin", ns));
    }

    [Fact]
    public async Task Create_InMissingNamespace_Is404ForTheNamespace()
    {
        var status = await FailsWith(HttpStatusCode.NotFound, () => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("x"), "no-such-ns"));
        Assert.Equal("namespaces \"no-such-ns\" not found", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_WithGenerateName_GetsAUniqueName()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "gen-" } }, ns);
        Assert.StartsWith("gen-", created.Metadata.Name, StringComparison.Ordinal);
        Assert.Equal(9, created.Metadata.Name.Length);
    }

    [Fact]
    public async Task Create_WithBadName_Is422NamingMetadataName()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("Bad_Name"), ns));
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
        Assert.Equal("metadata.name", status["details"]!["causes"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Namespace_Deletion_MakesItTerminating()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var (code, _) = await SendRawAsync(HttpMethod.Delete, $"/api/v1/namespaces/{ns}");
        Assert.Equal(HttpStatusCode.OK, code);
        var deleted = await Client.CoreV1.ReadNamespaceAsync(ns);
        Assert.NotNull(deleted.Metadata.DeletionTimestamp);
        Assert.Equal("Terminating", deleted.Status.Phase);
        var status = await FailsWith(HttpStatusCode.Forbidden, () => Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("late"), ns));
        Assert.Contains("because it is being terminated", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lease_CreateAndRenew_AsLeaderElectionDoes()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var lease = new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "leader" },
            Spec = new V1LeaseSpec { HolderIdentity = "a", LeaseDurationSeconds = 15, AcquireTime = DateTime.UtcNow, RenewTime = DateTime.UtcNow },
        };
        var created = await Client.CoordinationV1.CreateNamespacedLeaseAsync(lease, ns);
        created.Spec.RenewTime = DateTime.UtcNow.AddSeconds(1);
        var renewed = await Client.CoordinationV1.ReplaceNamespacedLeaseAsync(created, "leader", ns);
        Assert.Equal("a", renewed.Spec.HolderIdentity);
        created.Spec.HolderIdentity = "b";
        await FailsWith(HttpStatusCode.Conflict, () => Client.CoordinationV1.ReplaceNamespacedLeaseAsync(created, "leader", ns));
    }

    [Fact]
    public async Task Events_CoreEventsAreVisibleThroughEventsV1()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = "e1" },
            InvolvedObject = new V1ObjectReference { Kind = "Service", Name = "web", NamespaceProperty = ns },
            Reason = "AddressAssigned",
            Message = "assigned 192.0.2.10",
            Type = "Normal",
            Source = new V1EventSource { Component = "extip" },
            FirstTimestamp = DateTime.UtcNow,
            LastTimestamp = DateTime.UtcNow,
            Count = 1,
        }, ns);
        var v1 = await Client.EventsV1.ReadNamespacedEventAsync("e1", ns);
        Assert.Equal("assigned 192.0.2.10", v1.Note);
        Assert.Equal("web", v1.Regarding.Name);
        Assert.Equal("AddressAssigned", v1.Reason);
        var byField = await Client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: "involvedObject.name=web");
        Assert.Single(byField.Items);
    }
}
