using k8s;
using Microsoft.Extensions.Logging;

namespace Extip.Cli.Commands;

/// <summary>How commands reach the API server, and their logging.</summary>
internal static class ClusterConnection
{
    /// <summary>The given kubeconfig; else in-cluster config inside a Pod; else $KUBECONFIG or ~/.kube/config.</summary>
    public static IKubernetes Connect(string? kubeconfig)
    {
        KubernetesClientConfiguration config;
        if (kubeconfig is not null)
        {
            config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
        }
        else if (KubernetesClientConfiguration.IsInCluster())
        {
            config = KubernetesClientConfiguration.InClusterConfig();
        }
        else
        {
            config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Environment.GetEnvironmentVariable("KUBECONFIG"));
        }

        return new k8s.Kubernetes(config);
    }

    public static ILoggerFactory Logs(string component, LogLevel level = LogLevel.Information) =>
        LoggerFactory.Create(b => b.SetMinimumLevel(level).AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.IncludeScopes = false;
        }));
}
