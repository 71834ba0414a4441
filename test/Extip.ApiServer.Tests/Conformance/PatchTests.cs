using Extip.Testing.Fixtures;
using System.Net;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    [Fact]
    public async Task Patch_MergePatch_SetsAndRemovesKeys()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("m", data: new() { ["a"] = "1", ["b"] = "2" }), ns);
        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"a":null,"c":"3"}}""", V1Patch.PatchType.MergePatch), "m", ns);
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2", ["c"] = "3" }, patched.Data);
    }

    [Fact]
    public async Task Patch_JsonPatch_AppliesOperations_AndAFailedTestIs422()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("j", data: new() { ["a"] = "1" }), ns);
        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            """[{"op":"test","path":"/data/a","value":"1"},{"op":"add","path":"/data/b","value":"2"},{"op":"remove","path":"/data/a"}]""", V1Patch.PatchType.JsonPatch), "j", ns);
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2" }, patched.Data);
        var status = await FailsWith(HttpStatusCode.UnprocessableEntity, () => Client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("""[{"op":"test","path":"/data/b","value":"nope"}]""", V1Patch.PatchType.JsonPatch), "j", ns));
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Patch_StrategicMerge_MergesServicePortsByPort()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedServiceAsync(Service("smp", "ClusterIP", 80, 443), ns);
        var patched = await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch(
            """{"spec":{"ports":[{"port":443,"name":"p443","targetPort":8443},{"port":53,"name":"dns","protocol":"UDP"}]}}""", V1Patch.PatchType.StrategicMergePatch), "smp", ns);
        Assert.Equal([80, 443, 53], patched.Spec.Ports.Select(p => p.Port));
        Assert.Equal("8443", patched.Spec.Ports.Single(p => p.Port == 443).TargetPort.Value);
        var deleted = await Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch(
            """{"spec":{"ports":[{"port":80,"$patch":"delete"}]}}""", V1Patch.PatchType.StrategicMergePatch), "smp", ns);
        Assert.Equal([443, 53], deleted.Spec.Ports.Select(p => p.Port));
    }

    [Fact]
    public async Task Patch_StrategicMerge_FinalizersMergeAsASet()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var cm = ConfigMap("f");
        cm.Metadata.Finalizers = ["a.example.com/x"];
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, ns);
        var patched = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"finalizers":["b.example.com/y"]}}""", V1Patch.PatchType.StrategicMergePatch), "f", ns);
        Assert.Equal(["b.example.com/y", "a.example.com/x"], patched.Metadata.Finalizers);
        var removed = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"$deleteFromPrimitiveList/finalizers":["a.example.com/x","b.example.com/y"]}}""", V1Patch.PatchType.StrategicMergePatch), "f", ns);
        Assert.Empty(removed.Metadata.Finalizers ?? []);
    }

    [Fact]
    public async Task Patch_ServerSideApply_CreatesTracksManagersAndDetectsConflicts()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var applied = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa","namespace":"{{{ns}}}"},"data":{"owner":"alice"}}""", V1Patch.PatchType.ApplyPatch), "ssa", ns, fieldManager: "alice");
        Assert.Equal("alice", applied.Data["owner"]);
        Assert.Contains(applied.Metadata.ManagedFields, m => m.Manager == "alice" && m.Operation == "Apply");
        var status = await FailsWith(HttpStatusCode.Conflict, () => Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa","namespace":"{{{ns}}}"},"data":{"owner":"bob"}}""", V1Patch.PatchType.ApplyPatch), "ssa", ns, fieldManager: "bob"));
        Assert.Equal("Conflict", status["reason"]!.GetValue<string>());
        Assert.Contains("conflict with \"alice\"", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var forced = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa","namespace":"{{{ns}}}"},"data":{"owner":"bob"}}""", V1Patch.PatchType.ApplyPatch), "ssa", ns, fieldManager: "bob", force: true);
        Assert.Equal("bob", forced.Data["owner"]);
    }

    [Fact]
    public async Task Patch_ServerSideApply_RemovesFieldsTheManagerNoLongerApplies()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"r","namespace":"{{{ns}}}"},"data":{"a":"1","b":"2"}}""", V1Patch.PatchType.ApplyPatch), "r", ns, fieldManager: "m");
        var again = await Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"r","namespace":"{{{ns}}}"},"data":{"a":"1"}}""", V1Patch.PatchType.ApplyPatch), "r", ns, fieldManager: "m");
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1" }, again.Data);
    }

    [Fact]
    public async Task Patch_Missing_Is404()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await FailsWith(HttpStatusCode.NotFound, () => Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("{}", V1Patch.PatchType.MergePatch), "none", ns));
    }

    [Fact]
    public async Task Patch_UnsupportedContentType_Is415()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("t"), ns);
        var (code, body) = await SendRawAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/t", "{}", "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, code);
        var status = ClusterFixture.ParseStatus(body);
        Assert.Equal("UnsupportedMediaType", status["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task StatusSubresource_UpdatesOnlyStatus_AndMainResourceIgnoresStatus()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedServiceAsync(Service("st", "LoadBalancer"), ns);
        var svc = await Client.CoreV1.ReadNamespacedServiceAsync("st", ns);
        svc.Status.LoadBalancer.Ingress = [new V1LoadBalancerIngress { Ip = "203.0.113.10" }];
        svc.Spec.Selector = new Dictionary<string, string> { ["app"] = "ignored" };
        var afterStatus = await Client.CoreV1.ReplaceNamespacedServiceStatusAsync(svc, "st", ns);
        Assert.Equal("203.0.113.10", afterStatus.Status.LoadBalancer.Ingress.Single().Ip);
        Assert.Equal("st", afterStatus.Spec.Selector["app"]);
        afterStatus.Status.LoadBalancer.Ingress = [new V1LoadBalancerIngress { Ip = "203.0.113.99" }];
        afterStatus.Spec.Selector = new Dictionary<string, string> { ["app"] = "changed" };
        var afterMain = await Client.CoreV1.ReplaceNamespacedServiceAsync(afterStatus, "st", ns);
        Assert.Equal("203.0.113.10", afterMain.Status.LoadBalancer.Ingress.Single().Ip);
        Assert.Equal("changed", afterMain.Spec.Selector["app"]);
    }
}
