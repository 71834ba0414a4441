using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;

namespace Extip.Testing.Fixtures;

/// <summary>A running API server (embedded or real) with a kubeconfig, a KubernetesClient and the machine's kubectl.</summary>
public abstract class ClusterFixture : IAsyncLifetime
{
    private int _namespaces;

    public string Kubeconfig { get; protected set; } = string.Empty;

    public IKubernetes Client { get; private set; } = null!;

    public abstract bool IsReal { get; }

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    /// <summary>Makes every resourceVersion written so far too old to watch from.</summary>
    public abstract Task ExpireHistoryAsync(string ns);

    protected void Connect()
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig);
        Client = new Extip.Kubernetes.Client.ExtipKubernetes(config);
    }

    /// <summary>A fresh namespace for one test, so tests sharing a server do not see each other.</summary>
    public async Task<string> NewNamespaceAsync()
    {
        var name = $"t{Interlocked.Increment(ref _namespaces)}-{Guid.NewGuid().ToString("N")[..6]}";
        await Client.CoreV1.CreateNamespaceAsync(new k8s.Models.V1Namespace { Metadata = new() { Name = name } });
        return name;
    }

    /// <summary>
    /// Debian's kubectl 1.20 (package kubernetes-client), unpacked by scripts/kubectl-1.20.sh
    /// (which scripts/install-deps.sh runs) beside the machine's own.
    /// </summary>
    public static string Kubectl120 => Environment.GetEnvironmentVariable("EXTIP_KUBECTL_120") is { Length: > 0 } path ? path
        : File.Exists("/var/cache/extip-kubectl-1.20/usr/bin/kubectl") ? "/var/cache/extip-kubectl-1.20/usr/bin/kubectl"
        : throw new InvalidOperationException("Debian's kubectl 1.20 is not unpacked: run scripts/install-deps.sh (as root)");

    /// <summary>Runs the real kubectl (the machine's, or <paramref name="kubectl"/>) against this server.</summary>
    public async Task<(int Exit, string Out, string Err)> KubectlAsync(string args, string? stdin = null, TimeSpan? timeout = null, string kubectl = "kubectl",
        IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(kubectl)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in SplitArgs(args))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["KUBECONFIG"] = Kubeconfig;
        psi.Environment["HOME"] = Path.GetTempPath();
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
        }

        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(true);
            await p.WaitForExitAsync();
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts kubectl and returns the process, for <c>get --watch</c>.</summary>
    public Process StartKubectl(string args)
    {
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in SplitArgs(args))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["KUBECONFIG"] = Kubeconfig;
        psi.Environment["HOME"] = Path.GetTempPath();
        return Process.Start(psi)!;
    }

    private static IEnumerable<string> SplitArgs(string args)
    {
        var current = new System.Text.StringBuilder();
        var quote = '\0';
        foreach (var c in args)
        {
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == ' ')
            {
                if (current.Length > 0)
                {
                    yield return current.ToString();
                    current.Clear();
                }
            }
            else
            {
                current.Append(c);
            }
        }

        if (current.Length > 0)
        {
            yield return current.ToString();
        }
    }

    /// <summary>The repository root (the folder holding extip.slnx).</summary>
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "extip.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("extip.slnx not found above " + AppContext.BaseDirectory);
    }

    public static JsonObject ParseStatus(string content) => JsonNode.Parse(content)!.AsObject();
}
