using Extip.Kubernetes.Http;

namespace Extip.Agent;

/// <summary>The agent's /metrics, /healthz and /readyz (ready once the claims are known and the Lease is held).</summary>
internal sealed class AgentEndpoint : IAsyncDisposable
{
    private readonly ProbeServer _server;

    private AgentEndpoint(ProbeServer server) => _server = server;

    public Uri Url => _server.Url;

    public static Task<AgentEndpoint> StartAsync(string listen, ExtipAgent agent, AgentMetrics metrics, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var endpoint = Extip.Core.Addresses.ListenAddress.Parse(listen, "--metrics");
        return Task.FromResult(new AgentEndpoint(ProbeServer.Start(endpoint, new Dictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>>
        {
            ["/healthz"] = _ => ValueTask.FromResult(ProbeResponse.Text("ok")),
            ["/readyz"] = _ => ValueTask.FromResult(agent.IsReady ? ProbeResponse.Text("ok") : ProbeResponse.Text("claims not synced or Lease not held", 503)),
            ["/metrics"] = ct => ProbeResponse.MetricsAsync(metrics.Registry, ct),
        })));
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
