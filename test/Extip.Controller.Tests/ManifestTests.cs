using Extip.Testing.Fixtures;

namespace Extip.Controller.Tests;

/// <summary>
/// deploy/: the kustomize base and each overlay render with kubectl's kustomize, and the real
/// kube-apiserver v1.20 accepts every object of every rendering in a server-side dry run (its
/// own validation, defaulting and admission), once the CRDs are in, as an operator applies them.
/// </summary>
public sealed class ManifestTests(RealFixture real) : IClassFixture<RealFixture>
{
    private static readonly string Deploy = Path.Combine(ClusterFixture.RepoRoot(), "deploy");

    [Theory]
    [InlineData("base")]
    [InlineData("overlays/bgp")]
    [InlineData("overlays/l2")]
    [InlineData("overlays/local")]
    public async Task Rendering_IsAcceptedByTheRealApiServer_InAServerSideDryRun(string kustomization)
    {
        var crds = await KubectlAsync(["apply", "-k", Path.Combine(Deploy, "crds")]);
        Assert.True(crds.Code == 0, crds.Output);

        // A dry run creates nothing: the namespace must exist for the namespaced objects' dry run.
        var ns = await KubectlAsync(["apply", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata: {name: extip-system}\n");
        Assert.True(ns.Code == 0, ns.Output);

        // kube-apiserver v1.20 serves PodDisruptionBudget as policy/v1beta1 only: the component
        // for such clusters goes into the rendering, as its comment tells users to do.
        // Kustomize takes only relative paths to other kustomizations: the wrapper lives in deploy/ for the test.
        var dir = Directory.CreateDirectory(Path.Combine(Deploy, $".test-{Guid.NewGuid():N}"));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "kustomization.yaml"), $"""
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources: [../{kustomization}]
                components: [../components/kube-1.20]
                """);
            var rendered = await KubectlAsync(["kustomize", dir.FullName]);
            Assert.True(rendered.Code == 0, rendered.Output);
            var kinds = rendered.Output.Split('\n').Where(l => l.StartsWith("kind: ", StringComparison.Ordinal)).Select(l => l[6..].Trim()).ToList();
            Assert.Contains("Deployment", kinds);
            Assert.Contains("DaemonSet", kinds);
            Assert.Contains("PodDisruptionBudget", kinds);
            Assert.Contains("policy/v1beta1", rendered.Output, StringComparison.Ordinal);
            if (kustomization != "base")
            {
                Assert.Contains("IPPool", kinds);
            }

            var dryRun = await KubectlAsync(["apply", "--dry-run=server", "-f", "-"], rendered.Output);
            Assert.True(dryRun.Code == 0, dryRun.Output);
            var accepted = dryRun.Output.Split('\n').Count(l => l.Contains("(server dry run)", StringComparison.Ordinal));
            Assert.True(accepted == kinds.Count, $"{accepted} of {kinds.Count} objects accepted:\n{dryRun.Output}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Overlays_RenderWithoutTheComponent_ForCurrentClusters()
    {
        foreach (var overlay in new[] { "bgp", "l2", "local" })
        {
            var rendered = await KubectlAsync(["kustomize", Path.Combine(Deploy, "overlays", overlay)]);
            Assert.True(rendered.Code == 0, rendered.Output);
            Assert.Contains("apiVersion: policy/v1\n", rendered.Output, StringComparison.Ordinal);
            Assert.Contains("priorityClassName: system-node-critical", rendered.Output, StringComparison.Ordinal);
            Assert.Contains("runAsUser: 65532", rendered.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>kubectl against the real server (the fixture's runner), its output and errors together.</summary>
    private async Task<(int Code, string Output)> KubectlAsync(string[] args, string? input = null)
    {
        var (exit, stdout, stderr) = await real.KubectlAsync(string.Join(' ', args.Select(a => $"'{a}'")), input);
        return (exit, stdout + stderr);
    }
}

/// <summary>
/// deploy/ applied for real to the embedded server, as a lab user installs extip into the lab:
/// every kind of the manifests (apps/v1, policy/v1, RBAC, CRDs and their objects) is served,
/// stored with kube-apiserver's defaults, listed in kubectl's tables, and a second apply changes nothing.
/// </summary>
public sealed class EmbeddedManifestTests(EmbeddedFixture embedded) : IClassFixture<EmbeddedFixture>
{
    private static readonly string Deploy = Path.Combine(ClusterFixture.RepoRoot(), "deploy");

    [Theory]
    [InlineData("bgp")]
    [InlineData("l2")]
    public async Task Overlay_AppliesToTheLab_AndASecondApplyChangesNothing(string overlay)
    {
        var crds = await KubectlAsync($"apply -k {Path.Combine(Deploy, "crds")}");
        Assert.True(crds.Code == 0, crds.Output);
        var first = await KubectlAsync($"apply -k {Path.Combine(Deploy, "overlays", overlay)}");
        Assert.True(first.Code == 0, first.Output);
        Assert.Contains("deployment.apps/extip-controller", first.Output, StringComparison.Ordinal);
        Assert.Contains("daemonset.apps/extip-agent", first.Output, StringComparison.Ordinal);
        Assert.Contains("poddisruptionbudget.policy/extip-controller", first.Output, StringComparison.Ordinal);

        const string Versions = "get deploy,ds,pdb,sa,role,rolebinding,svc -n extip-system -o jsonpath={range.items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion},{end}";
        var before = await KubectlAsync(Versions);
        var again = await KubectlAsync($"apply -k {Path.Combine(Deploy, "overlays", overlay)}");
        Assert.True(again.Code == 0, again.Output);
        var lines = again.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        // kubectl's three-way patch of a PodDisruptionBudget always holds its selector (patch
        // strategy "replace" since policy/v1), so it says "configured"; the server changes nothing.
        Assert.True(lines.All(l => l.EndsWith(" unchanged", StringComparison.Ordinal) || l == "poddisruptionbudget.policy/extip-controller configured"), again.Output);
        var after = await KubectlAsync(Versions);
        Assert.Contains("Deployment/extip-controller=", before.Output, StringComparison.Ordinal);
        Assert.Equal(before.Output, after.Output);

        // Stored with the real server's defaults, shown in its tables.
        var strategy = await KubectlAsync("-n extip-system get deploy extip-controller -o jsonpath={.spec.strategy.type},{.spec.revisionHistoryLimit},{.spec.progressDeadlineSeconds}");
        Assert.Equal("RollingUpdate,10,600", strategy.Output);
        var ds = await KubectlAsync("-n extip-system get ds extip-agent -o jsonpath={.spec.updateStrategy.rollingUpdate.maxUnavailable},{.spec.template.spec.dnsPolicy}");
        Assert.StartsWith("1,", ds.Output, StringComparison.Ordinal);
        var table = await KubectlAsync("-n extip-system get deploy,ds,pdb");
        Assert.Matches(@"(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE", table.Output);
        Assert.Matches(@"(?m)^deployment\.apps/extip-controller\s+0/\d+\s+0\s+0\s+", table.Output);
        Assert.Matches(@"(?m)^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE", table.Output);
        Assert.Matches(@"(?m)^poddisruptionbudget\.policy/extip-controller\s+", table.Output);
    }

    private async Task<(int Code, string Output)> KubectlAsync(string args)
    {
        var (exit, stdout, stderr) = await embedded.KubectlAsync(args);
        return (exit, stdout + stderr);
    }
}
