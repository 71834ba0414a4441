using System.Net;
using System.Net.Sockets;
using System.Text;
using Extip.Core.Concurrency;

namespace Extip.Kubernetes.Http;

/// <summary>What one GET answers: a status, a content type and a body.</summary>
public readonly record struct ProbeResponse(int Status, string ContentType, ReadOnlyMemory<byte> Body)
{
    public static ProbeResponse Text(string text, int status = 200) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    /// <summary>A Prometheus registry's metrics in the text exposition format.</summary>
    public static async ValueTask<ProbeResponse> MetricsAsync(Prometheus.CollectorRegistry registry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(registry);
        using var body = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(body, ct).ConfigureAwait(false);
        return new(200, "text/plain; version=0.0.4; charset=utf-8", body.GetBuffer().AsMemory(0, (int)body.Length));
    }
}

/// <summary>
/// The daemons' plain-HTTP endpoint for what kubelet's probes and Prometheus ask: GET (and HEAD)
/// of a few fixed paths, HTTP/1.1 with keep-alive. It replaces ASP.NET Core's Kestrel, hosting,
/// dependency injection and routing there, which an agent on every node paid for in memory (see
/// deploy/README.md, Footprint) to answer three paths. Anything else gets 404, 405, 400 or 431,
/// and a connection that sends nothing for <see cref="IdleTimeout"/> is closed.
/// </summary>
public sealed class ProbeServer : IAsyncDisposable
{
    private const int MaxHeaderBytes = 8192;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    private readonly Socket _listener;
    private readonly IReadOnlyDictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>> _routes;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeProvider _time;
    private readonly Task _accepting;

    private ProbeServer(Socket listener, IReadOnlyDictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>> routes, TimeProvider time)
    {
        _listener = listener;
        _routes = routes;
        _time = time;
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        Url = new Uri($"http://{bound}/");
        _accepting = AcceptAsync(_stop.Token);
    }

    /// <summary>Where it listens (the port it picked when asked for port 0).</summary>
    public Uri Url { get; }

    /// <summary>Listens on <paramref name="endpoint"/> and answers GET of <paramref name="routes"/>' paths.</summary>
    public static ProbeServer Start(IPEndPoint endpoint, IReadOnlyDictionary<string, Func<CancellationToken, ValueTask<ProbeResponse>>> routes, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                // [::]:PORT takes IPv4 too, as Kestrel's does: kubelet probes the pod's IPv4 address.
                listener.DualMode = true;
            }

            listener.Bind(endpoint);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"cannot listen on {endpoint}: {e.Message}", e);
        }

        return new ProbeServer(listener, routes, time ?? TimeProvider.System);
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && ct.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted: accept the next one.
                continue;
            }

            _ = ServeAsync(client, ct);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken stop)
    {
        using (client)
        {
            client.NoDelay = true;
            var buffer = new byte[MaxHeaderBytes];
            var filled = 0;
            try
            {
                while (true)
                {
                    // One request's head: up to the blank line.
                    int end;
                    using (var idle = new Deadline(_time, IdleTimeout, stop))
                    {
                        while ((end = HeadEnd(buffer.AsSpan(0, filled))) < 0)
                        {
                            if (filled == buffer.Length)
                            {
                                await SendAsync(client, ProbeResponse.Text("request header too large\n", 431), head: false, close: true, stop).ConfigureAwait(false);
                                await LingerAsync(client, buffer, _time, stop).ConfigureAwait(false);
                                return;
                            }

                            var n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token).ConfigureAwait(false);
                            if (n == 0)
                            {
                                return;
                            }

                            filled += n;
                        }
                    }

                    var (response, head, close) = await AnswerAsync(Encoding.ASCII.GetString(buffer, 0, end), stop).ConfigureAwait(false);
                    await SendAsync(client, response, head, close, stop).ConfigureAwait(false);
                    if (close)
                    {
                        await LingerAsync(client, buffer, _time, stop).ConfigureAwait(false);
                        return;
                    }

                    // Keep what followed the head (a pipelined request).
                    var rest = filled - (end + 4);
                    Buffer.BlockCopy(buffer, end + 4, buffer, 0, rest);
                    filled = rest;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Idle, reset by the peer, or the server stopping: the connection ends.
            }
        }
    }

    private async ValueTask<(ProbeResponse Response, bool Head, bool Close)> AnswerAsync(string requestHead, CancellationToken ct)
    {
        var lines = requestHead.Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || !parts[1].StartsWith('/'))
        {
            return (ProbeResponse.Text("malformed request line\n", 400), false, true);
        }

        var close = parts[2] == "HTTP/1.0";
        var hasBody = false;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return (ProbeResponse.Text("malformed header\n", 400), false, true);
            }

            var name = line.AsSpan(0, colon).Trim();
            var value = line.AsSpan(colon + 1).Trim();
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                close = value.Equals("close", StringComparison.OrdinalIgnoreCase) || (close && !value.Equals("keep-alive", StringComparison.OrdinalIgnoreCase));
            }
            else if ((name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && !value.SequenceEqual("0")) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                hasBody = true;
            }
        }

        var head = parts[0] == "HEAD";
        if (parts[0] != "GET" && !head)
        {
            return (ProbeResponse.Text($"method {parts[0]} not allowed: GET or HEAD\n", 405), false, true);
        }

        var path = parts[1];
        var query = path.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            path = path[..query];
        }

        if (!_routes.TryGetValue(path, out var route))
        {
            return (ProbeResponse.Text($"{path}: not found\n", 404), head, close || hasBody);
        }

        try
        {
            // A GET with a body is not read: the connection closes after the answer.
            return (await route(ct).ConfigureAwait(false), head, close || hasBody);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // A probe that fails answers so (a kubelet counts it as a failure), and the server goes on.
            return (ProbeResponse.Text($"{path} failed: {e.GetType().Name}: {e.Message}\n", 500), head, true);
        }
    }

    private static async Task SendAsync(Socket client, ProbeResponse response, bool head, bool close, CancellationToken ct)
    {
        var reason = response.Status switch
        {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        };
        var header = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {response.Status} {reason}\r\nContent-Type: {response.ContentType}\r\nContent-Length: {response.Body.Length}\r\n{(response.Status == 405 ? "Allow: GET, HEAD\r\n" : "")}{(close ? "Connection: close\r\n" : "")}\r\n");
        await client.SendAsync(header, SocketFlags.None, ct).ConfigureAwait(false);
        if (!head && response.Body.Length > 0)
        {
            await client.SendAsync(response.Body, SocketFlags.None, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the connection gracefully: the answer is followed by a FIN, and what the client still
    /// sends (the rest of a refused head or a body) is read and dropped for a moment, so that
    /// closing with unread data does not reset the connection before the client read the answer.
    /// </summary>
    private static async Task LingerAsync(Socket client, byte[] buffer, TimeProvider time, CancellationToken stop)
    {
        client.Shutdown(SocketShutdown.Send);
        using var linger = new Deadline(time, TimeSpan.FromSeconds(2), stop);
        var drained = 0;
        int n;
        while (drained < 1 << 20 && (n = await client.ReceiveAsync(buffer, SocketFlags.None, linger.Token).ConfigureAwait(false)) > 0)
        {
            drained += n;
        }
    }

    private static int HeadEnd(ReadOnlySpan<byte> data) => data.IndexOf("\r\n\r\n"u8);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
