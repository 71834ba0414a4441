using System.Net;
using k8s;
using k8s.Models;

namespace Extip.ApiServer.Tests.Conformance;

public abstract partial class ConformanceTests<TFixture>
{
    private async Task<string> LabelledConfigMapsAsync()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("web-prod", new() { ["app"] = "web", ["env"] = "prod" }), ns);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("web-dev", new() { ["app"] = "web", ["env"] = "dev" }), ns);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("db", new() { ["app"] = "db" }), ns);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("plain"), ns);
        return ns;
    }

    [Theory]
    [InlineData("app=web", "web-dev,web-prod")]
    [InlineData("app==web", "web-dev,web-prod")]
    [InlineData("app!=web", "db,plain")]
    [InlineData("env in (prod,stage)", "web-prod")]
    [InlineData("env notin (prod)", "db,plain,web-dev")]
    [InlineData("env", "web-dev,web-prod")]
    [InlineData("!env", "db,plain")]
    [InlineData("app=web,env=dev", "web-dev")]
    public async Task List_LabelSelectors_MatchAsKubernetesDefines(string selector, string expected)
    {
        var ns = await LabelledConfigMapsAsync();
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(ns, labelSelector: selector);
        Assert.Equal(expected, string.Join(",", list.Items.Select(i => i.Metadata.Name).Where(n => n != "kube-root-ca.crt").Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task List_FieldSelectors_OnNameAndNamespace()
    {
        var ns = await LabelledConfigMapsAsync();
        var byName = await Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "metadata.name=db");
        Assert.Equal("db", Assert.Single(byName.Items).Metadata.Name);
        var notName = await Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "metadata.name!=db");
        Assert.DoesNotContain(notName.Items, i => i.Metadata.Name == "db");
        var all = await Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: $"metadata.namespace={ns}");
        Assert.Equal(4, all.Items.Count(i => i.Metadata.Name != "kube-root-ca.crt"));
    }

    [Fact]
    public async Task List_PodsByNodeName_FieldSelector()
    {
        var ns = await Fixture.NewNamespaceAsync();

        // The real server admits pods only with their service account (no controller makes it here).
        await Client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "default" } }, ns);
        foreach (var (name, node) in new[] { ("a", "k8s6"), ("b", "k8s9"), ("c", "k8s6") })
        {
            await Client.CoreV1.CreateNamespacedPodAsync(new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = name },
                Spec = new V1PodSpec { NodeName = node, AutomountServiceAccountToken = false, Containers = [new V1Container { Name = "c", Image = "example.com/claimcontroller:1" }] },
            }, ns);
        }

        var onK8s6 = await Client.CoreV1.ListNamespacedPodAsync(ns, fieldSelector: "spec.nodeName=k8s6");
        Assert.Equal(["a", "c"], onK8s6.Items.Select(p => p.Metadata.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task List_UnknownFieldSelector_Is400()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var status = await FailsWith(HttpStatusCode.BadRequest, () => Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "spec.foo=bar"));
        Assert.Contains("\"spec.foo\" is not a known field selector", status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_LimitAndContinue_PageThroughEverythingOnce()
    {
        var ns = await Fixture.NewNamespaceAsync();
        for (var i = 0; i < 7; i++)
        {
            await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"page-{i}"), ns);
        }

        var seen = new List<string>();
        string? cont = null;
        var pages = 0;
        do
        {
            var page = await Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 3, continueParameter: cont, labelSelector: null);
            seen.AddRange(page.Items.Select(i => i.Metadata.Name).Where(n => n.StartsWith("page-", StringComparison.Ordinal)));
            cont = page.Metadata.ContinueProperty;
            if (cont is not null)
            {
                Assert.True(page.Metadata.RemainingItemCount > 0);
            }

            pages++;
        }
        while (!string.IsNullOrEmpty(cont));
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"page-{i}"), seen);
        Assert.True(pages >= 3);
    }

    [Fact]
    public async Task List_IsOrderedByName_AndCarriesAResourceVersion()
    {
        var ns = await Fixture.NewNamespaceAsync();
        foreach (var n in new[] { "c", "a", "b" })
        {
            await Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap(n), ns);
        }

        var list = await Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        Assert.Equal(["a", "b", "c"], list.Items.Select(i => i.Metadata.Name).Where(n => n.Length == 1));
        Assert.False(string.IsNullOrEmpty(list.Metadata.ResourceVersion));
    }
}
