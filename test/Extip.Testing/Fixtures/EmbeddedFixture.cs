using k8s;
using Extip.ApiServer;
using Extip.ApiServer.Http;

namespace Extip.Testing.Fixtures;

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

    /// <summary>One more write, then the fault injector's compaction.</summary>
    public override async Task ExpireHistoryAsync(string ns)
    {
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new k8s.Models.V1ConfigMap { Metadata = new() { Name = "after" } }, ns);
        Server.Faults.Compact();
    }

    public override async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        File.Delete(Kubeconfig);
    }
}
