using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Extip.Agent;

/// <summary>The agent's /metrics, /healthz and /readyz (ready once the claims are known and the Lease is held).</summary>
internal sealed class AgentEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AgentEndpoint(WebApplication app) => _app = app;

    public Uri Url => new(_app.Urls.First());

    public static async Task<AgentEndpoint> StartAsync(string listen, ExtipAgent agent, AgentMetrics metrics, CancellationToken ct)
    {
        var endpoint = Extip.Core.Addresses.ListenAddress.Parse(listen, "--metrics");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint));
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", () => agent.IsReady ? Results.Text("ok") : Results.Text("claims not synced or Lease not held", statusCode: 503));
        app.MapGet("/metrics", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4";
            await metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
        });
        await app.StartAsync(ct).ConfigureAwait(false);
        return new AgentEndpoint(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
