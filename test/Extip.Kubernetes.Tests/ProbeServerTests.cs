using System.Net;
using System.Net.Sockets;
using System.Text;
using Extip.Kubernetes.Http;

namespace Extip.Kubernetes.Tests;

public sealed class ProbeServerTests : IAsyncLifetime
{
    private volatile bool _ready;
    private int _metricsCalls;
    private ProbeServer _server = null!;

    public Task InitializeAsync()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        Prometheus.Metrics.WithCustomRegistry(registry).CreateCounter("extip_test_total", "A counter for the test.").Inc(3);
        _server = ProbeServer.Start(new IPEndPoint(IPAddress.Loopback, 0), new Dictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>>
        {
            ["/readyz"] = _ => ValueTask.FromResult(_ready ? ProbeResponse.Text("ok") : ProbeResponse.Text("not synced", 503)),
            ["/metrics"] = ct =>
            {
                Interlocked.Increment(ref _metricsCalls);
                return ProbeResponse.MetricsAsync(registry, ct);
            },
            ["/broken"] = _ => throw new InvalidOperationException("the status is not readable"),
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Get_AnswersItsPaths_KeepsTheConnection_AndSaysNotFoundForOthers()
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1 };
        var connections = 0;
        handler.ConnectCallback = async (ctx, ct) =>
        {
            Interlocked.Increment(ref connections);
            var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(ctx.DnsEndPoint, ct);
            return new NetworkStream(s, ownsSocket: true);
        };
        using var http = new HttpClient(handler) { BaseAddress = _server.Url };

        var notReady = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal("not synced", await notReady.Content.ReadAsStringAsync());
        _ready = true;
        Assert.Equal("ok", await http.GetStringAsync("/readyz?verbose"));

        var metrics = await http.GetAsync("/metrics");
        Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);
        Assert.Contains("extip_test_total 3", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var missing = await http.GetAsync("/nothing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(1, connections);
    }

    [Fact]
    public async Task Head_HasTheLengthWithoutTheBody_OtherMethodsAre405()
    {
        using var http = new HttpClient { BaseAddress = _server.Url };
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.True(head.Content.Headers.ContentLength > 0);
        using var post = await http.PostAsync("/metrics", new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Contains("GET", post.Content.Headers.Allow);
    }

    [Fact]
    public async Task ARouteThatThrows_Is500WithTheReason_AndTheServerGoesOn()
    {
        using var http = new HttpClient { BaseAddress = _server.Url };
        using var broken = await http.GetAsync("/broken");
        Assert.Equal(HttpStatusCode.InternalServerError, broken.StatusCode);
        Assert.Contains("InvalidOperationException: the status is not readable", await broken.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        _ready = true;
        Assert.Equal("ok", await http.GetStringAsync("/readyz"));
    }

    [Fact]
    public async Task PipelinedRequests_AreAnsweredInOrder()
    {
        var answer = await RawAsync("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var first = answer.IndexOf("HTTP/1.1 503", StringComparison.Ordinal);
        var second = answer.IndexOf("HTTP/1.1 404", StringComparison.Ordinal);
        Assert.True(first >= 0 && second > first, answer);
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", "HTTP/1.1 400")]
    [InlineData("GET /readyz HTTP/1.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400")]
    [InlineData("GET readyz HTTP/1.1\r\n\r\n", "HTTP/1.1 400")]
    public async Task MalformedRequests_Get400_AndTheServerGoesOn(string request, string status)
    {
        Assert.StartsWith(status, await RawAsync(request), StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = _server.Url };
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task AHeadLargerThan8KiB_Gets431_WithoutCallingAnything()
    {
        var answer = await RawAsync("GET /metrics HTTP/1.1\r\nX-Big: " + new string('a', 9000) + "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", answer, StringComparison.Ordinal);
        Assert.Equal(0, _metricsCalls);
    }

    [Fact]
    public async Task OnEveryIPv6Address_ItAnswersIPv4Too()
    {
        await using var any = ProbeServer.Start(new IPEndPoint(IPAddress.IPv6Any, 0), new Dictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>>
        {
            ["/healthz"] = _ => ValueTask.FromResult(ProbeResponse.Text("ok")),
        });
        using var http = new HttpClient();
        Assert.Equal("ok", await http.GetStringAsync(new Uri($"http://127.0.0.1:{any.Url.Port}/healthz")));
        Assert.Equal("ok", await http.GetStringAsync(new Uri($"http://[::1]:{any.Url.Port}/healthz")));
    }

    private async Task<string> RawAsync(string request)
    {
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, _server.Url.Port);
        await s.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        var all = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return Encoding.ASCII.GetString(all.ToArray());
    }
}
