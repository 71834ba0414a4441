using System.Runtime.CompilerServices;
using k8s;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using YamlDotNet.RepresentationModel;

namespace Extip.Kubernetes.Client;

/// <summary>
/// Client configuration from a kubeconfig file. With the JIT, KubernetesClient reads the file; in
/// the Native AOT binary (the image's), whose reflection cannot run KubernetesClient's YAML reader,
/// extip reads the fields a kubeconfig of a cluster, of the lab or of a ServiceAccount uses
/// (server, certificate authority, TLS name, token, client certificate and key, basic auth,
/// namespace, impersonation) through YamlDotNet's node model and hands them to
/// <see cref="KubernetesClientConfiguration.BuildConfigFromConfigObject"/>. Exec and auth-provider
/// plugins are refused there with a message rather than ignored.
/// </summary>
public static class Kubeconfig
{
    public static KubernetesClientConfiguration Load(string? path = null, string? context = null) =>
        RuntimeFeature.IsDynamicCodeSupported
            ? KubernetesClientConfiguration.BuildConfigFromConfigFile(path, context)
            : KubernetesClientConfiguration.BuildConfigFromConfigObject(Read(path ?? KubernetesClientConfiguration.KubeConfigDefaultLocation), context);

    /// <summary>Reads a kubeconfig file without KubernetesClient's YAML reader.</summary>
    public static K8SConfiguration Read(string path)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(path))
        {
            stream.Load(reader);
        }

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new KubeConfigException($"{path}: not a kubeconfig (expected one YAML mapping)");
        }

        var config = new K8SConfiguration
        {
            ApiVersion = Text(root, "apiVersion"),
            Kind = Text(root, "kind"),
            CurrentContext = Text(root, "current-context"),
            Clusters = Named(root, "clusters", "cluster", (name, c) => new Cluster
            {
                Name = name,
                ClusterEndpoint = new ClusterEndpoint
                {
                    Server = Text(c, "server"),
                    CertificateAuthority = Text(c, "certificate-authority"),
                    CertificateAuthorityData = Text(c, "certificate-authority-data"),
                    TlsServerName = Text(c, "tls-server-name"),
                    SkipTlsVerify = Text(c, "insecure-skip-tls-verify") is "true" or "True",
                },
            }),
            Users = Named(root, "users", "user", (name, u) =>
            {
                foreach (var plugin in new[] { "exec", "auth-provider" })
                {
                    if (u?.Children.ContainsKey(plugin) == true)
                    {
                        throw new KubeConfigException($"{path}: user {name} authenticates with {plugin}, which the Native AOT binary does not run; use a token or a client certificate");
                    }
                }

                return new User
                {
                    Name = name,
                    UserCredentials = new UserCredentials
                    {
                        Token = Text(u, "token"),
                        ClientCertificate = Text(u, "client-certificate"),
                        ClientCertificateData = Text(u, "client-certificate-data"),
                        ClientKey = Text(u, "client-key"),
                        ClientKeyData = Text(u, "client-key-data"),
                        UserName = Text(u, "username"),
                        Password = Text(u, "password"),
                        Impersonate = Text(u, "as"),
                    },
                };
            }),
            Contexts = Named(root, "contexts", "context", (name, c) => new Context
            {
                Name = name,
                ContextDetails = new ContextDetails { Cluster = Text(c, "cluster"), User = Text(c, "user"), Namespace = Text(c, "namespace") },
            }),
        };
        config.FileName = path;
        return config;
    }

    private static List<T> Named<T>(YamlMappingNode root, string list, string body, Func<string, YamlMappingNode?, T> make)
    {
        if (!root.Children.TryGetValue(list, out var node) || node is not YamlSequenceNode items)
        {
            return [];
        }

        return items.Children.OfType<YamlMappingNode>()
            .Select(item => make(Text(item, "name") ?? string.Empty, item.Children.TryGetValue(body, out var b) ? b as YamlMappingNode : null))
            .ToList();
    }

    private static string? Text(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(key, out var v) && v is YamlScalarNode { Value: { } s } ? s : null;
}
