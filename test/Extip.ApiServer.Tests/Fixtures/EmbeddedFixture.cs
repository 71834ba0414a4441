using Extip.ApiServer.Http;

namespace Extip.ApiServer.Tests.Fixtures;

public sealed class EmbeddedFixture : ClusterFixture
{
    public EmbeddedApiServer Server { get; private set; } = null!;

    public override bool IsReal => false;

    public override async Task InitializeAsync()
    {
        Server = new EmbeddedApiServer(new ApiServerOptions { BookmarkInterval = TimeSpan.FromSeconds(1) });
        await Server.StartAsync();
        Kubeconfig = Server.WriteKubeconfig(Path.Combine(Path.GetTempPath(), $"extip-embedded-{Guid.NewGuid():N}.kubeconfig"));
        Connect();
    }

    public override async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        File.Delete(Kubeconfig);
    }
}
