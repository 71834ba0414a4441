using Extip.ApiServer;
using Extip.Kubernetes.Client;
using k8s;

namespace Extip.Kubernetes.Tests;

/// <summary>A test class with its own embedded API server, and extip's client to it (a fresh pair per test).</summary>
public abstract class EmbeddedServerTest : IAsyncLifetime
{
    protected EmbeddedApiServer Server { get; private set; } = null!;

    protected ExtipKubernetes Client { get; private set; } = null!;

    /// <summary>How a client reaches <see cref="Server"/>: its URL, token and certificate authority.</summary>
    protected KubernetesClientConfiguration Config() => new() { Host = Server.Url.ToString(), AccessToken = Server.Token, SslCaCerts = Server.Authority() };

    public async Task InitializeAsync()
    {
        Server = new EmbeddedApiServer();
        await Server.StartAsync();
        Client = new ExtipKubernetes(Config());
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
