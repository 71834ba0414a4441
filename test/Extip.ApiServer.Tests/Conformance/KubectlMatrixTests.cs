using System.Text;
using System.Text.RegularExpressions;
using Extip.Testing.Fixtures;
using Xunit.Abstractions;

namespace Extip.ApiServer.Tests.Conformance;

/// <summary>
/// The kubectl command matrix: what a lab user types, with the machine's kubectl (1.32) and with
/// Debian's (1.20), against the embedded server and against kube-apiserver v1.20. Each command runs
/// on both servers in a namespace of the same name; the outputs, normalised (times, ages, UIDs,
/// resource versions, allocated IPs and ports, managedFields), must be the same, and so must the
/// exit codes. The differences that remain on purpose are listed in <see cref="Known"/> and in
/// docs/lab.md, each with its reason.
/// </summary>
public sealed partial class KubectlMatrixTests(EmbeddedFixture embedded, RealFixture real, ITestOutputHelper output)
    : IClassFixture<EmbeddedFixture>, IClassFixture<RealFixture>
{
    private sealed record Step(string Args, string? Stdin = null, Dictionary<string, string>? Env = null, bool OnlyExit = false);

    /// <summary>Differences kept on purpose: (kubectl version, the step's args) and why.</summary>
    private static readonly Dictionary<(string Version, string Args), string> Known = new()
    {
        [("*", "api-versions")] = "the lab serves the groups extip and a lab user need, one version each; kube-apiserver v1.20 serves 37 group-versions",
        [("*", "api-resources --api-group=apps")] = "the lab serves Deployment, ReplicaSet and DaemonSet, not StatefulSet or ControllerRevision",
        [("1.32", "explain deployment.spec.replicas")] = "kubectl 1.32 explains from OpenAPI v3, which the lab serves and kube-apiserver v1.20 does not (its v2 answer is printed in the older layout)",
    };

    private const string ConfigMapYaml = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          labels: {app: web}
        data:
          mode: lab
        """;

    private static IEnumerable<Step> Steps(string ns)
    {
        // kubectl edit runs $KUBE_EDITOR FILE (through a shell when it has spaces): scripted editors.
        const string Edit = "sed -i 's/mode: prod/mode: edited/'";
        const string BadEdit = "sed -i 's/mode: edited/bad:key: x/'";
        return
        [
            new($"create namespace {ns}"),
            new($"-n {ns} create serviceaccount default"),
            new($"-n {ns} create configmap plain --from-literal=a=b"),
            new($"-n {ns} create secret generic key --from-literal=password=s3cr3t"),
            new($"-n {ns} create service loadbalancer lb --tcp=80:8080"),
            new($"-n {ns} create deployment web --image=registry.example/web:1.0"),
            new($"-n {ns} create role reader --verb=get,list --resource=services"),
            new($"-n {ns} create rolebinding reader --role=reader --user=jane"),
            new($"-n {ns} expose deployment web --port=80 --target-port=8080"),
            new($"-n {ns} run pod1 --image=registry.example/web:1.0 --restart=Never --labels=app=pod1 --overrides='{{\"spec\":{{\"automountServiceAccountToken\":false}}}}'"),
            new($"-n {ns} apply -f -", ConfigMapYaml),
            new($"-n {ns} apply -f -", ConfigMapYaml.Replace("mode: lab", "mode: prod", StringComparison.Ordinal)),
            new($"-n {ns} diff -f -", ConfigMapYaml.Replace("mode: lab", "mode: diff", StringComparison.Ordinal)),
            new($"-n {ns} apply --server-side --force-conflicts -f -", ConfigMapYaml.Replace("mode: lab", "mode: prod", StringComparison.Ordinal)),
            new($"-n {ns} edit configmap settings", Env: new() { ["KUBE_EDITOR"] = Edit }),
            new($"-n {ns} edit configmap settings", Env: new() { ["KUBE_EDITOR"] = BadEdit }),
            new($"-n {ns} get configmap settings -o jsonpath={{.data.mode}}"),
            new($"-n {ns} patch configmap settings -p '{{\"data\":{{\"s\":\"strategic\"}}}}'"),
            new($"-n {ns} patch configmap settings --type=merge -p '{{\"data\":{{\"m\":\"merge\"}}}}'"),
            new($"-n {ns} patch configmap settings --type=json -p '[{{\"op\":\"add\",\"path\":\"/data/j\",\"value\":\"json\"}}]'"),
            new($"-n {ns} patch service web -p '{{\"spec\":{{\"ports\":[{{\"port\":80,\"targetPort\":9090}}]}}}}'"),
            new($"-n {ns} get configmap settings -o jsonpath={{.data}}"),
            new($"-n {ns} get service web -o jsonpath={{.spec.ports}}"),
            new($"-n {ns} label configmap settings tier=front"),
            new($"-n {ns} annotate configmap settings note=hello"),
            new($"-n {ns} replace -f -", ConfigMapYaml.Replace("mode: lab", "mode: replaced", StringComparison.Ordinal)),
            new($"-n {ns} get configmap settings -o yaml"),
            new($"-n {ns} get configmap settings -o json"),
            new($"-n {ns} get configmaps"),
            new($"-n {ns} get configmaps -o wide"),
            new($"-n {ns} get configmaps -o name"),
            new($"-n {ns} get configmaps -o custom-columns=NAME:.metadata.name,MODE:.data.mode"),
            new($"-n {ns} get svc,deploy,secret,role,rolebinding,sa"),
            new($"-n {ns} get svc -o wide"),
            new($"-n {ns} get deploy web -o yaml"),
            new($"-n {ns} get pod pod1 -o jsonpath={{.spec.containers[0].image}},{{.spec.restartPolicy}},{{.metadata.labels.app}}"),
            new($"-n {ns} get configmap settings --watch --request-timeout=2s", OnlyExit: true),
            new($"-n {ns} events"),
            new($"-n {ns} auth can-i create services"),
            new("auth can-i --list"),
            new("api-versions"),
            new("api-resources --api-group=apps"),
            new("api-resources --namespaced=false --api-group=rbac.authorization.k8s.io"),
            new("explain deployment.spec.replicas"),
            new($"-n {ns} delete configmap plain --wait=false"),
            new($"-n {ns} wait --for=delete configmap/plain --timeout=20s"),
            new($"-n {ns} delete deployment web --cascade=orphan --wait=false"),
            new($"-n {ns} delete secret key --cascade=background"),
            new($"-n {ns} get configmap plain"),
        ];
    }

    [Theory]
    [InlineData("1.32")]
    [InlineData("1.20")]
    public async Task EveryCommand_AnswersAsOnKubeApiserver(string version)
    {
        var kubectl = version == "1.20" ? ClusterFixture.Kubectl120 : "kubectl";
        var ns = $"matrix-{version.Replace(".", string.Empty, StringComparison.Ordinal)}-{Guid.NewGuid():N}"[..20];
        var differences = new StringBuilder();
        var compared = 0;
        foreach (var step in Steps(ns))
        {
            var (onEmbedded, onReal) = (await RunAsync(embedded, kubectl, step), await RunAsync(real, kubectl, step));
            var same = step.OnlyExit ? onEmbedded.Exit == onReal.Exit : onEmbedded == onReal;
            output.WriteLine($"[{(same ? "same" : "DIFF")}] kubectl {step.Args} (exit {onEmbedded.Exit}/{onReal.Exit})");
            compared++;
            var key = step.Args.Replace(ns, "NS", StringComparison.Ordinal);
            if (same || Known.ContainsKey((version, key)) || Known.ContainsKey(("*", key)))
            {
                continue;
            }

            differences.AppendLine($"--- kubectl {step.Args}\n  embedded (exit {onEmbedded.Exit}):\n{Indent(onEmbedded.Text)}\n  kube-apiserver (exit {onReal.Exit}):\n{Indent(onReal.Text)}");
        }

        await embedded.KubectlAsync($"delete namespace {ns} --wait=false");
        await real.KubectlAsync($"delete namespace {ns} --wait=false");
        Assert.True(differences.Length == 0, $"kubectl {version}: of {compared} commands these answer differently:\n{differences}");
    }

    private static string Indent(string text) => string.Join('\n', text.Split('\n').Select(l => "    " + l));

    private static async Task<(int Exit, string Text)> RunAsync(ClusterFixture server, string kubectl, Step step)
    {
        var (exit, stdout, stderr) = await server.KubectlAsync(step.Args, step.Stdin, TimeSpan.FromSeconds(60), kubectl, step.Env);
        return (exit, Normalise(stdout + (stderr.Length > 0 ? "\nstderr: " + stderr : string.Empty), server));
    }

    /// <summary>What differs between any two servers, or two runs: times, ages, identities, allocations, paths.</summary>
    private static string Normalise(string text, ClusterFixture server)
    {
        var s = text.Replace(server.Kubeconfig, "KUBECONFIG", StringComparison.Ordinal);
        if (s.StartsWith('{'))
        {
            // managedFields are compared by the conformance suite; here they are noise (kubectl 1.20 prints them).
            try
            {
                var json = System.Text.Json.Nodes.JsonNode.Parse(s)!;
                json["metadata"]?.AsObject().Remove("managedFields");
                s = json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        s = ManagedFields().Replace(s, string.Empty);
        s = Timestamp().Replace(s, "TIME");
        s = Uid().Replace(s, "UID");
        s = ResourceVersion().Replace(s, "${1}RV${2}");
        s = ClusterIp().Replace(s, "CLUSTER-IP");
        s = NodePort().Replace(s, ":NODEPORT");
        s = NodePortField().Replace(s, "${1}NODEPORT");
        s = Age().Replace(s, "${1}AGE");
        s = TempPath().Replace(s, "TMP");
        s = DiffHeaderTime().Replace(s, "DIFFTIME");
        s = Padding().Replace(s, "  ");
        s = string.Join('\n', s.Split('\n').Select(l => l.TrimEnd())).Trim();
        return s.StartsWith("diff -u", StringComparison.Ordinal) ? ChangedLines(s) : s;
    }

    /// <summary>
    /// A diff's changed lines, without its hunks' context and positions, and without a line
    /// changed only in what was normalised: kubectl 1.20 shows managedFields, whose times change
    /// in one server's dry run and not the other's depending on the second the requests fall in.
    /// </summary>
    private static string ChangedLines(string diff)
    {
        var changed = diff.Split('\n')
            .Where(l => (l.StartsWith('-') || l.StartsWith('+')) && !l.StartsWith("---", StringComparison.Ordinal) && !l.StartsWith("+++", StringComparison.Ordinal))
            .ToList();
        var kept = new List<string>();
        for (var i = 0; i < changed.Count; i++)
        {
            if (i + 1 < changed.Count && changed[i][0] == '-' && changed[i + 1][0] == '+' && changed[i][1..] == changed[i + 1][1..])
            {
                i++;
                continue;
            }

            kept.Add(changed[i]);
        }

        return "diff, changed lines:\n" + string.Join('\n', kept);
    }

    [GeneratedRegex(@"(?m)^(\s*)managedFields:\n(\1[ -].*\n)*")]
    private static partial Regex ManagedFields();

    [GeneratedRegex(@"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex Uid();

    [GeneratedRegex(@"(resourceVersion""?:\s*""?)\d+(""?)")]
    private static partial Regex ResourceVersion();

    [GeneratedRegex(@"\b10\.96\.\d+\.\d+\b")]
    private static partial Regex ClusterIp();

    [GeneratedRegex(@":3\d{4}(?=/)")]
    private static partial Regex NodePort();

    [GeneratedRegex(@"(nodePort""?:\s*)3\d{4}")]
    private static partial Regex NodePortField();

    [GeneratedRegex(@"(\s)\d+(s|m\d*s?|h\d*m?|d\d*h?)(?=\s|$)", RegexOptions.Multiline)]
    private static partial Regex Age();

    [GeneratedRegex(@"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [+-]\d{4}")]
    private static partial Regex DiffHeaderTime();

    /// <summary>Column padding: tables align on their widest cell, and allocated IPs differ in width.</summary>
    [GeneratedRegex(@"(?<=\S)[ \t]{2,}(?=\S)")]
    private static partial Regex Padding();

    [GeneratedRegex(@"/tmp/[^\s""]+")]
    private static partial Regex TempPath();
}
