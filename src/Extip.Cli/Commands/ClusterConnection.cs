using k8s;
using Microsoft.Extensions.Logging;

namespace Extip.Cli.Commands;

/// <summary>How commands reach the API server, and their logging.</summary>
internal static class ClusterConnection
{
    /// <summary>Where a running lab keeps its kubeconfig.</summary>
    public static readonly string LabKubeconfig = Path.Combine(Path.GetTempPath(), "extip-lab", "current", "kubeconfig");

    /// <summary>
    /// "kubectl extip" when run as a kubectl plugin (through a link named kubectl-extip, which the
    /// ./extip wrapper passes on in EXTIP_INVOKED_AS), else "extip": for messages.
    /// </summary>
    public static string CommandName =>
        Environment.GetEnvironmentVariable("EXTIP_INVOKED_AS") is { } name && Path.GetFileName(name).StartsWith("kubectl-", StringComparison.Ordinal)
            ? "kubectl " + Path.GetFileName(name)["kubectl-".Length..]
            : "extip";

    /// <summary>
    /// The given kubeconfig; else in-cluster config inside a Pod; else $KUBECONFIG; else (with
    /// <paramref name="labFallback"/>, for commands that only read) a running lab's; else ~/.kube/config.
    /// </summary>
    public static IKubernetes Connect(string? kubeconfig, bool labFallback = false)
    {
        KubernetesClientConfiguration config;
        if (kubeconfig is not null)
        {
            config = Extip.Kubernetes.Client.Kubeconfig.Load(kubeconfig);
        }
        else if (KubernetesClientConfiguration.IsInCluster())
        {
            config = KubernetesClientConfiguration.InClusterConfig();
        }
        else if (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } fromEnvironment)
        {
            config = Extip.Kubernetes.Client.Kubeconfig.Load(fromEnvironment);
        }
        else if (labFallback && File.Exists(LabKubeconfig))
        {
            config = Extip.Kubernetes.Client.Kubeconfig.Load(LabKubeconfig);
        }
        else
        {
            config = Extip.Kubernetes.Client.Kubeconfig.Load();
        }

        return new Extip.Kubernetes.Client.ExtipKubernetes(config);
    }

    public static ILoggerFactory Logs(string component, LogLevel level = LogLevel.Information) =>
        LoggerFactory.Create(b => b.SetMinimumLevel(level).AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.IncludeScopes = false;
        }));
}
