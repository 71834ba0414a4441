using System.Text.RegularExpressions;
using k8s;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>The machine's real kubectl against the server, as a user would drive it.</summary>
public abstract partial class ConformanceTests<TFixture>
{
    private const string SeedService = """
        kind: Service
        apiVersion: v1
        metadata:
          name: "frontend"
        spec:
          selector:
            app: "frontend"
          ports:
            - protocol: "TCP"
              port: 443
              targetPort: 443
          type: NodePort
          externalIPs:
            - 203.0.113.1
        """;

    private async Task<string> KubectlOk(string args, string? stdin = null)
    {
        var (exit, stdout, stderr) = await Fixture.KubectlAsync(args, stdin);
        Assert.True(exit == 0, $"kubectl {args} failed ({exit}): {stderr}{stdout}");
        return stdout;
    }

    [Fact]
    public async Task Kubectl_CreateGetWideYamlDelete_TheSeedService()
    {
        var ns = await Fixture.NewNamespaceAsync();
        Assert.Contains("service/frontend created", await KubectlOk($"-n {ns} create -f -", SeedService), StringComparison.Ordinal);
        var table = await KubectlOk($"-n {ns} get svc");
        Assert.Matches(new Regex(@"^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE", RegexOptions.Multiline), table);
        Assert.Matches(new Regex(@"^frontend\s+NodePort\s+10\.96\.\d+\.\d+\s+203\.0\.113\.1\s+443:3\d{4}/TCP\s+\d+s", RegexOptions.Multiline), table);
        var wide = await KubectlOk($"-n {ns} get svc frontend -o wide");
        Assert.Matches(new Regex(@"SELECTOR\s*$", RegexOptions.Multiline), wide.Split('\n')[0]);
        Assert.Contains("app=frontend", wide, StringComparison.Ordinal);
        var yaml = await KubectlOk($"-n {ns} get svc frontend -o yaml");
        Assert.Contains("externalIPs:\n  - 203.0.113.1", yaml, StringComparison.Ordinal);
        Assert.Contains("kind: Service", yaml, StringComparison.Ordinal);
        Assert.Contains("service \"frontend\" deleted", await KubectlOk($"-n {ns} delete svc frontend"), StringComparison.Ordinal);
        var (exit, _, err) = await Fixture.KubectlAsync($"-n {ns} get svc frontend");
        Assert.NotEqual(0, exit);
        Assert.Contains("NotFound", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubectl_ApplyClientSide_ThenChange_ThenServerSide()
    {
        var ns = await Fixture.NewNamespaceAsync();
        Assert.Contains("created", await KubectlOk($"-n {ns} apply -f -", SeedService), StringComparison.Ordinal);
        var changed = SeedService.Replace("targetPort: 443", "targetPort: 8443", StringComparison.Ordinal);
        Assert.Contains("configured", await KubectlOk($"-n {ns} apply -f -", changed), StringComparison.Ordinal);
        Assert.Equal("8443", await KubectlOk($"-n {ns} get svc frontend -o jsonpath={{.spec.ports[0].targetPort}}"));
        var ssa = SeedService.Replace("app: \"frontend\"", "app: \"frontend2\"", StringComparison.Ordinal);
        Assert.Contains("serverside-applied", await KubectlOk($"-n {ns} apply --server-side --force-conflicts -f -", ssa), StringComparison.Ordinal);
        Assert.Equal("frontend2", await KubectlOk($"-n {ns} get svc frontend -o jsonpath={{.spec.selector.app}}"));
        var managers = await KubectlOk($"-n {ns} get svc frontend -o jsonpath={{.metadata.managedFields[*].manager}}");
        Assert.Contains("kubectl", managers.Split(' '));
    }

    /// <summary>
    /// After a controller wrote the status (a managedFields entry for the status subresource), a
    /// client-side apply of the Service draws no "unknown field" warning about what the server wrote.
    /// </summary>
    [Fact]
    public async Task Kubectl_ApplyAfterAStatusWrite_NoWarningAboutTheServersOwnFields()
    {
        var ns = await Fixture.NewNamespaceAsync();
        var lb = SeedService.Replace("type: NodePort", "type: LoadBalancer", StringComparison.Ordinal);
        await KubectlOk($"-n {ns} apply -f -", lb);
        var svc = await Client.CoreV1.ReadNamespacedServiceAsync("frontend", ns);
        svc.Status = new k8s.Models.V1ServiceStatus { LoadBalancer = new k8s.Models.V1LoadBalancerStatus { Ingress = [new k8s.Models.V1LoadBalancerIngress { Ip = "203.0.113.9" }] } };
        await Client.CoreV1.ReplaceNamespacedServiceStatusAsync(svc, "frontend", ns);
        var (exit, stdout, stderr) = await Fixture.KubectlAsync($"-n {ns} apply -f -", lb.Replace("targetPort: 443", "targetPort: 8443", StringComparison.Ordinal));
        Assert.True(exit == 0, $"kubectl apply failed ({exit}): {stderr}{stdout}");
        Assert.Contains("configured", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown field", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubectl_PatchAndLabel()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await KubectlOk($"-n {ns} create -f -", SeedService);
        Assert.Contains("labeled", await KubectlOk($"-n {ns} label svc frontend tier=web"), StringComparison.Ordinal);
        Assert.Contains("patched", await KubectlOk($"-n {ns} patch svc frontend -p '{{\"spec\":{{\"externalIPs\":[\"203.0.113.2\"]}}}}'"), StringComparison.Ordinal);
        Assert.Contains("patched", await KubectlOk($"-n {ns} patch svc frontend --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/sessionAffinity\",\"value\":\"ClientIP\"}}]'"), StringComparison.Ordinal);
        var shown = await KubectlOk($"-n {ns} get svc -l tier=web --show-labels");
        Assert.Contains("203.0.113.2", shown, StringComparison.Ordinal);
        Assert.Contains("tier=web", shown, StringComparison.Ordinal);
        Assert.Equal("ClientIP", await KubectlOk($"-n {ns} get svc frontend -o jsonpath={{.spec.sessionAffinity}}"));
    }

    [Fact]
    public async Task Kubectl_GetWatch_SeesTheChange()
    {
        var ns = await Fixture.NewNamespaceAsync();
        await KubectlOk($"-n {ns} create -f -", SeedService);
        using var watch = Fixture.StartKubectl($"-n {ns} get svc --watch --request-timeout=20s");
        var lines = new List<string>();
        var reader = Task.Run(async () =>
        {
            while (await watch.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        });
        await Task.Delay(1500);
        await KubectlOk($"-n {ns} patch svc frontend -p '{{\"spec\":{{\"externalIPs\":[\"203.0.113.77\"]}}}}'");
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            lock (lines)
            {
                if (lines.Any(l => l.Contains("203.0.113.77", StringComparison.Ordinal)))
                {
                    break;
                }
            }

            await Task.Delay(100);
        }

        watch.Kill();
        await reader;
        Assert.Matches(new Regex(@"^NAME\s+TYPE"), lines[0]);
        Assert.Contains(lines, l => l.StartsWith("frontend", StringComparison.Ordinal) && l.Contains("203.0.113.1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("frontend", StringComparison.Ordinal) && l.Contains("203.0.113.77", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Kubectl_ApiResources_ListsTheBuiltIns()
    {
        var output = await KubectlOk("api-resources");
        Assert.Matches(new Regex(@"^services\s+svc\s+v1\s+true\s+Service", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^leases\s+coordination\.k8s\.io/v1\s+true\s+Lease", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io/v1\s+false", RegexOptions.Multiline), output);
    }

    [Fact]
    public async Task Kubectl_CrdThenTheNewKind()
    {
        var group = $"k{Guid.NewGuid().ToString("N")[..8]}.example.com";
        var crd = $$$"""
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata:
              name: ippools.{{{group}}}
            spec:
              group: {{{group}}}
              scope: Cluster
              names: {plural: ippools, singular: ippool, kind: IPPool}
              versions:
              - name: v1alpha1
                served: true
                storage: true
                additionalPrinterColumns:
                - name: Addresses
                  type: string
                  jsonPath: .spec.addresses[0]
                schema:
                  openAPIV3Schema:
                    type: object
                    properties:
                      spec:
                        type: object
                        properties:
                          addresses: {type: array, items: {type: string}}
            """;
        await KubectlOk("apply -f -", crd);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string output = string.Empty;
        var lastError = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            var (exit, _, stderr) = await Fixture.KubectlAsync("create -f -", $"apiVersion: {group}/v1alpha1\nkind: IPPool\nmetadata: {{name: seed}}\nspec: {{addresses: [192.0.2.0/24]}}\n");
            if (exit == 0)
            {
                output = await KubectlOk($"get ippools.{group}");
                break;
            }

            lastError = stderr;
            await Task.Delay(500);
        }

        Assert.True(output.Length > 0, lastError);

        Assert.Matches(new Regex(@"^NAME\s+ADDRESSES", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^seed\s+192\.0\.2\.0/24", RegexOptions.Multiline), output);
        await KubectlOk($"delete crd ippools.{group}");
    }
}
