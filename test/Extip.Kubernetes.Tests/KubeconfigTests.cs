using System.Text.Json.Nodes;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Crds;
using k8s;
using k8s.Exceptions;

namespace Extip.Kubernetes.Tests;

/// <summary>
/// The kubeconfig and YAML readers of the Native AOT binary (no reflection) against
/// KubernetesClient's own, which the JIT build uses: the same configuration from the same file.
/// </summary>
public sealed class KubeconfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("extip-kubeconfig-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkakNDQVJ5Z0F3SUJBZ0lKQUlzVXJYT0RRbzFuTUFvR0NDcUdTTTQ5QkFNQ01CMHhHekFaQmdOVkJBTVQKRW1WNGRHbHdMV0Z3YVhObGNuWmxjaTFqWVRBZUZ3MHlOakV5TURReE9EQXlOVFZhRncwek5qRXlNREV4T0RBMwpOVFZhTUIweEd6QVpCZ05WQkFNVEVtVjRkR2x3TFdGd2FYTmxjblpsY2kxallUQlpNQk1HQnlxR1NNNDlBZ0VHCkNDcUdTTTQ5QXdFSEEwSUFCQU9vd2hoWmxEYjVhNGx4YTJqTDJnMHNXNHl0Ukw3TnBncHRiYWRtMkhveUl0bXEKNUtzMzdCNUNza0lmOFdpbWZzQzBhS1ZzS3BGU1h4ZUM5V1ZobUZlalJUQkRNQklHQTFVZEV3RUIvd1FJTUFZQgpBZjhDQVFBd0RnWURWUjBQQVFIL0JBUURBZ0VHTUIwR0ExVWREZ1FXQkJUWFlLSjNCU2s0aUpjUnM2KzJDb25jCjFsaXNVakFLQmdncWhrak9QUVFEQWdOSUFEQkZBaUVBbVVCSlNBK3djVFk2ODNjZnJhT2M0Q1VUemtNOXVFY0UKZ2xBR0g2aGx6N01DSUNSSnZWcWRyNTE2a1lIZVcvNW4xQlBQUkhtREVEV0ZLWldPbE1Qa1l5SncKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQ==";

    private string Write(string text)
    {
        var path = Path.Combine(_dir, $"kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("other")]
    public void OwnReader_GivesTheConfigurationKubernetesClientGives(string? context)
    {
        var path = Write($"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: extip
              cluster:
                server: https://127.0.0.1:40639
                certificate-authority-data: {Ca}
            - name: far
              cluster:
                server: "https://192.0.2.10:6443"
                insecure-skip-tls-verify: true
                tls-server-name: api.example
            users:
            - name: extip
              user:
                token: 0498a39bb4ea8d53837a291ccc0784f36ed5216bb6741d72
            - name: basic
              user:
                username: admin
                password: 's3cret'
            contexts:
            - name: extip
              context:
                cluster: extip
                user: extip
                namespace: default
            - name: other
              context: {"{"}cluster: far, user: basic, namespace: kube-system{"}"}
            current-context: extip
            """);

        var theirs = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, context);
        var ours = KubernetesClientConfiguration.BuildConfigFromConfigObject(Kubeconfig.Read(path), context);

        Assert.Equal(theirs.Host, ours.Host);
        Assert.Equal(theirs.Namespace, ours.Namespace);
        Assert.Equal(theirs.AccessToken, ours.AccessToken);
        Assert.Equal(theirs.Username, ours.Username);
        Assert.Equal(theirs.Password, ours.Password);
        Assert.Equal(theirs.SkipTlsVerify, ours.SkipTlsVerify);
        Assert.Equal(theirs.TlsServerName, ours.TlsServerName);
        Assert.Equal(theirs.CurrentContext, ours.CurrentContext);
        Assert.Equal(theirs.SslCaCerts?.Select(c => c.Thumbprint), ours.SslCaCerts?.Select(c => c.Thumbprint));
        Assert.Equal(context == "other" ? "https://192.0.2.10:6443/" : "https://127.0.0.1:40639/", ours.Host.TrimEnd('/') + "/");
        Assert.Equal(context == "other" ? "kube-system" : "default", ours.Namespace);
    }

    [Fact]
    public void ExecPlugin_IsRefusedWithItsName_NotIgnored()
    {
        var path = Write("""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://192.0.2.1"}}]
            users: [{name: eks, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}}}]
            contexts: [{name: c, context: {cluster: c, user: eks}}]
            current-context: c
            """);
        var e = Assert.Throws<KubeConfigException>(() => Kubeconfig.Read(path));
        Assert.Contains("user eks authenticates with exec", e.Message);
    }

    [Fact]
    public void Crds_ReadThroughJson_EqualWhatKubernetesYamlReads()
    {
        foreach (var crd in CrdInstaller.Definitions())
        {
            var name = crd.Metadata.Name;
            var file = Directory.GetFiles(Path.Combine(Repo(), "deploy", "crds"), "*.yaml").Single(f => File.ReadAllText(f).Contains($"name: {name}", StringComparison.Ordinal));
            var theirs = KubernetesYaml.Deserialize<k8s.Models.V1CustomResourceDefinition>(File.ReadAllText(file));
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(KubernetesJson.Serialize(theirs)), JsonNode.Parse(KubernetesJson.Serialize(crd))), $"{name} differs");
        }
    }

    [Fact]
    public void YamlScalars_FollowTheCoreSchema_QuotedOnesStayStrings()
    {
        var doc = Extip.Core.Yaml.YamlJson.Document("""
            a: 1
            b: "1"
            c: true
            d: 'false'
            e: ~
            f: 2.5
            g: 1.2.3
            h: [x, 3]
            """);
        Assert.Equal("""{"a":1,"b":"1","c":true,"d":"false","e":null,"f":2.5,"g":"1.2.3","h":["x",3]}""", doc.ToJsonString());
    }

    private static string Repo()
    {
        var dir = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(dir, "deploy", "crds")))
        {
            dir = Path.GetDirectoryName(dir) ?? throw new DirectoryNotFoundException("deploy/crds above " + AppContext.BaseDirectory);
        }

        return dir;
    }
}
