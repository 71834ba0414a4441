using System.Net;
using System.Net.Sockets;

namespace Extip.Bgp.Speaker;

/// <summary>
/// One transport connection to a BGP peer, as a session uses it: bytes in and out, a close after
/// what was sent. TCP in the daemon (<see cref="TcpBgpConnection"/>); in tests, anything that
/// carries bytes, so the session's state machine and timers run without sockets or root.
/// </summary>
public interface IBgpConnection : IDisposable
{
    /// <summary>Our end; its address is the next hop the session announces.</summary>
    IPEndPoint? LocalEndPoint { get; }

    EndPoint? RemoteEndPoint { get; }

    ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct);

    /// <summary>Bytes into <paramref name="buffer"/>; 0 when the peer closed.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct);

    /// <summary>Closes our side after what was sent (the peer reads the end).</summary>
    void Shutdown();
}

/// <summary>How a session opens its connection to the peer (RFC 4271 §8's Connect state).</summary>
public interface IBgpConnector
{
    /// <summary>
    /// Connects to <see cref="PeerOptions.PeerAddress"/> as the options say (namespace, source
    /// address, TTL, MD5). A refusal is a <see cref="SocketException"/>.
    /// </summary>
    Task<IBgpConnection> ConnectAsync(PeerOptions peer, CancellationToken ct);
}

/// <summary>TCP, in the options' network namespace, with their TTL, source address and MD5 key.</summary>
public sealed class TcpConnector : IBgpConnector
{
    public static TcpConnector Instance { get; } = new();

    private TcpConnector()
    {
    }

    public async Task<IBgpConnection> ConnectAsync(PeerOptions peer, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var socket = TcpOptions.Create(peer.Netns, peer.Family);
        try
        {
            TcpOptions.SetTtl(socket, peer.Ttl ?? (peer.IsInternal ? 64 : 1));
            if (peer.Password is { } password)
            {
                TcpOptions.SetMd5(socket, peer.PeerAddress, password);
            }

            if (peer.LocalAddress is { } local)
            {
                socket.Bind(new IPEndPoint(local, 0));
            }

            await socket.ConnectAsync(new IPEndPoint(peer.PeerAddress, peer.PeerPort), ct).ConfigureAwait(false);
            return new TcpBgpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>A BGP session's TCP socket.</summary>
public sealed class TcpBgpConnection(Socket socket) : IBgpConnection
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    private const byte TcpStateClose = 7;
    private static readonly TimeSpan PeerCloseWait = TimeSpan.FromSeconds(2);
    private int _disposed;

    public IPEndPoint? LocalEndPoint { get; } = socket.LocalEndPoint as IPEndPoint;

    public EndPoint? RemoteEndPoint { get; } = socket.RemoteEndPoint;

    public ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct) => Sent(socket.SendAsync(bytes, ct));

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct) => socket.ReceiveAsync(buffer, ct);

    public void Shutdown()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Closes with a FIN after what was sent (a NOTIFICATION arrives before the close), and keeps
    /// the socket until the peer has closed too (at most two seconds): Linux acknowledges the
    /// peer's FIN from a socket that is already closed with a time-wait stub that carries the
    /// system's default hop limit (64 on IPv6), not the session's (1 for single-hop eBGP; 255
    /// with GTSM). Kept open, the socket answers it itself, with its own.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Shutdown();
        _ = CloseWhenPeerClosedAsync(socket);
    }

    private static async ValueTask Sent(ValueTask<int> send) => await send.ConfigureAwait(false);

    private static async Task CloseWhenPeerClosedAsync(Socket socket)
    {
        try
        {
            var info = new byte[8];
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (waited.Elapsed < PeerCloseWait && socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info) > 0 && info[0] != TcpStateClose)
            {
                // The kernel's TCP state, polled on the real clock: nothing here to simulate.
                await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }
}
