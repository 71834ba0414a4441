using System.Net;
using System.Net.Sockets;
using System.Text;
using Extip.Netlink;

namespace Extip.Lab;

/// <summary>
/// A stand-in for a Service's pods on one lab node: listens on a TCP port of every address of
/// the node's namespace and answers each connection with one line naming the node, then closes.
/// A client that connects many times sees which node each connection reached.
/// </summary>
public sealed class Responder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly byte[] _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Responder(string netns, string node, int port)
    {
        _answer = Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{node}\n");
        _listener = NetNs.Run(netns, () => new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp));
        _listener.DualMode = true;
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
        _listener.Listen(128);
        _loop = Task.Run(() => AcceptAsync(_stop.Token));
    }

    public long Answered => Interlocked.Read(ref _answered);

    private long _answered;

    /// <summary>Connects from <paramref name="netns"/> to the address and returns the answering node's name, or null.</summary>
    public static Task<string?> AskAsync(string netns, IPAddress address, int port, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(address);
        return AskAsync(NetNs.Run(netns, () => new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp)), address, port, timeout);
    }

    /// <summary>Connects <paramref name="socket"/> (which it disposes) to the address and returns the answering node's name, or null.</summary>
    public static async Task<string?> AskAsync(Socket socket, IPAddress address, int port, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(address);
        using var s = socket;
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await s.ConnectAsync(new IPEndPoint(address, port), cts.Token).ConfigureAwait(false);
            var buffer = new byte[512];
            var got = 0;
            int n;
            while (got < buffer.Length && (n = await s.ReceiveAsync(buffer.AsMemory(got), cts.Token).ConfigureAwait(false)) > 0)
            {
                got += n;
            }

            var text = Encoding.ASCII.GetString(buffer, 0, got);
            var body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return body < 0 ? null : text[(body + 4)..].Trim();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>Answers, ends its side, and reads what the client sent until it closes too (no RST for an unread request).</summary>
    private async Task AnswerAsync(Socket c, CancellationToken ct)
    {
        using (c)
        {
            try
            {
                await c.SendAsync(_answer, ct).ConfigureAwait(false);
                c.Shutdown(SocketShutdown.Send);
                Interlocked.Increment(ref _answered);
                using var drain = CancellationTokenSource.CreateLinkedTokenSource(ct);
                drain.CancelAfter(TimeSpan.FromSeconds(1));
                var sink = new byte[1024];
                while (await c.ReceiveAsync(sink, drain.Token).ConfigureAwait(false) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
            }
        }
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket c;
            try
            {
                c = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (SocketException) when (!ct.IsCancellationRequested)
            {
                continue;
            }

            _ = Task.Run(() => AnswerAsync(c, ct), CancellationToken.None);
        }
    }
}
