using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Extip.ApiServer.Storage;
using Extip.Lab;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Extip.Cli.Lab;

/// <summary>
/// The lab runs its API server with RBAC on, as a cluster does: the controller and the agents
/// act as the ServiceAccounts of deploy/base/controller.yaml and deploy/base/agent.yaml, with exactly the
/// RBAC those manifests give them. Their tokens live in a kube-apiserver token file (both the
/// embedded server and tools/real-apiserver read that format).
/// </summary>
internal sealed partial class LabIdentities
{
    private const string Namespace = Extip.Kubernetes.Models.ExtipApi.DefaultNamespace;

    private LabIdentities(string tokenFile, string controllerToken, string agentToken)
    {
        TokenFile = tokenFile;
        ControllerToken = controllerToken;
        AgentToken = agentToken;
    }

    public string TokenFile { get; }

    public string ControllerToken { get; }

    public string AgentToken { get; }

    /// <summary>The identities of a lab in <paramref name="dir"/>: made once, read again on a restart.</summary>
    public static LabIdentities InDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "tokens.csv");
        if (!File.Exists(file))
        {
            var lines = new[]
            {
                Line(NewToken(), "extip-controller"),
                Line(NewToken(), "extip-agent"),
            };
            PrivateFiles.WriteAllText(file, string.Join('\n', lines) + "\n");
        }

        var tokens = File.ReadAllLines(file).Where(l => l.Length > 0).Select(l => l.Split(',')[0]).ToList();
        return new LabIdentities(file, tokens[0], tokens[1]);
    }

    /// <summary>A kubeconfig like <paramref name="adminKubeconfig"/>'s, acting with <paramref name="token"/>.</summary>
    public static string As(string adminKubeconfig, string token, string path)
    {
        var text = File.ReadAllText(adminKubeconfig);
        var admin = TokenLine().Match(text);
        if (!admin.Success)
        {
            throw new LabException($"{adminKubeconfig}: no token to replace");
        }

        PrivateFiles.WriteAllText(path, text.Replace(admin.Groups[1].Value, token, StringComparison.Ordinal));
        return path;
    }

    /// <summary>Applies the manifests' ServiceAccounts, Roles, ClusterRoles and bindings (not their workloads).</summary>
    public static async Task<int> ApplyRbacAsync(IKubernetes client, string deployDir, CancellationToken ct)
    {
        var applied = 0;
        foreach (var file in new[] { "controller.yaml", "agent.yaml" })
        {
            foreach (var doc in KubernetesYaml.LoadAllFromString(await File.ReadAllTextAsync(Path.Combine(deployDir, file), ct).ConfigureAwait(false)))
            {
                Func<Task>? create = doc switch
                {
                    V1ServiceAccount sa => () => client.CoreV1.CreateNamespacedServiceAccountAsync(sa, sa.Metadata.NamespaceProperty ?? Namespace, cancellationToken: ct),
                    V1ClusterRole cr => () => client.RbacAuthorizationV1.CreateClusterRoleAsync(cr, cancellationToken: ct),
                    V1ClusterRoleBinding crb => () => client.RbacAuthorizationV1.CreateClusterRoleBindingAsync(crb, cancellationToken: ct),
                    V1Role r => () => client.RbacAuthorizationV1.CreateNamespacedRoleAsync(r, r.Metadata.NamespaceProperty ?? Namespace, cancellationToken: ct),
                    V1RoleBinding rb => () => client.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(rb, rb.Metadata.NamespaceProperty ?? Namespace, cancellationToken: ct),
                    _ => null,
                };
                if (create is null)
                {
                    continue;
                }

                try
                {
                    await create().ConfigureAwait(false);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict)
                {
                    // Applied by an earlier start of this lab (a restarted API server keeps its objects).
                }

                applied++;
            }
        }

        return applied;
    }

    /// <summary>
    /// Each node's agent token, as the kubelet would mount it from the DaemonSet's projected
    /// volume: a stand-in Pod of the agent's on the node (never run: the lab starts the agent
    /// itself) and a TokenRequest bound to it. The API server then names that pod in every
    /// request's user, and extip's webhook holds the agent to its node's Lease and IPNode.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> AgentTokensAsync(IKubernetes client, IEnumerable<string> nodes, CancellationToken ct)
    {
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var name = "extip-agent-" + node;
            V1Pod pod;
            try
            {
                pod = await client.CoreV1.CreateNamespacedPodAsync(new V1Pod
                {
                    Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "extip-agent" } },
                    Spec = new V1PodSpec
                    {
                        NodeName = node,
                        ServiceAccountName = "extip-agent",
                        AutomountServiceAccountToken = false,
                        Containers = [new V1Container { Name = "agent", Image = "extip:lab", Args = ["agent"] }],
                    },
                }, Namespace, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict)
            {
                // A restarted API server keeps its objects.
                pod = await client.CoreV1.ReadNamespacedPodAsync(name, Namespace, cancellationToken: ct).ConfigureAwait(false);
            }

            var request = await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest
            {
                Spec = new V1TokenRequestSpec
                {
                    Audiences = [],
                    ExpirationSeconds = 30 * 24 * 3600,
                    BoundObjectRef = new V1BoundObjectReference { Kind = "Pod", ApiVersion = "v1", Name = name, Uid = pod.Metadata.Uid },
                },
            }, "extip-agent", Namespace, cancellationToken: ct).ConfigureAwait(false);
            tokens[node] = request.Status.Token;
        }

        return tokens;
    }

    private static string Line(string token, string serviceAccount) =>
        $"{token},system:serviceaccount:{Namespace}:{serviceAccount},{serviceAccount},\"system:serviceaccounts,system:serviceaccounts:{Namespace}\"";

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    [GeneratedRegex(@"token:\s*""?([A-Za-z0-9._\-]+)""?")]
    private static partial Regex TokenLine();
}
