using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Extip.Bgp.Wire;

namespace Extip.Bgp.Speaker;

/// <summary>
/// One TCP connection of a BGP session: whole messages in (a decode error is the peer's, as
/// <see cref="BgpProtocolException"/>), messages out, many UPDATEs in few writes.
/// </summary>
internal sealed class Connection(Socket socket, bool outgoing) : IDisposable
{
    private readonly byte[] _buffer = new byte[1 << 17];
    private int _start;
    private int _end;

    /// <summary>Whether we opened it (collision resolution keeps one of two by who opened it).</summary>
    public bool Outgoing { get; } = outgoing;

    public CodecContext Codec { get; set; }

    public TimeSpan Hold { get; set; }

    public OpenMessage? PeerOpen { get; set; }

    /// <summary>IPv6: our link-local address on the link shared with the peer (RFC 2545 §3), sent as the second next hop.</summary>
    public IPAddress? LinkLocal { get; set; }

    public IPEndPoint? LocalEndPoint { get; } = socket.LocalEndPoint as IPEndPoint;

    /// <summary>Our address on this connection: the next hop we announce ("next hop self").</summary>
    public IPAddress LocalAddress => LocalEndPoint?.Address is { IsIPv4MappedToIPv6: true } a ? a.MapToIPv4() : LocalEndPoint?.Address ?? throw new InvalidOperationException("a connection without a local address");

    public void Send(BgpMessage m) => socket.Send(BgpCodec.Encode(m, Codec));

    public async Task SendAsync(BgpMessage m, CancellationToken ct) => await socket.SendAsync(BgpCodec.Encode(m, Codec), ct).ConfigureAwait(false);

    /// <summary>Encodes the messages into 64 KiB writes.</summary>
    public async Task SendManyAsync(IReadOnlyList<BgpMessage> messages, CancellationToken ct)
    {
        const int Chunk = 1 << 16;
        var batch = ArrayPool<byte>.Shared.Rent(Chunk + BgpCodec.MaxMessageLength);
        try
        {
            var used = 0;
            foreach (var m in messages)
            {
                var bytes = BgpCodec.Encode(m, Codec);
                bytes.CopyTo(batch, used);
                used += bytes.Length;
                if (used >= Chunk)
                {
                    await socket.SendAsync(batch.AsMemory(0, used), ct).ConfigureAwait(false);
                    used = 0;
                }
            }

            if (used > 0)
            {
                await socket.SendAsync(batch.AsMemory(0, used), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch);
        }
    }

    /// <summary>The next message; nothing within <paramref name="timeout"/> is the hold timer expiring.</summary>
    public async Task<BgpMessage> ReadAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            limit.CancelAfter(timeout);
        }

        while (true)
        {
            var m = BgpCodec.TryDecode(_buffer.AsSpan(_start, _end - _start), Codec, out var used);
            if (m is not null)
            {
                _start += used;
                return m;
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            int n;
            try
            {
                n = await socket.ReceiveAsync(_buffer.AsMemory(_end), limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new BgpProtocolException(BgpError.HoldTimerExpired, 0, $"nothing from the peer for {timeout.TotalSeconds} s");
            }

            if (n == 0)
            {
                throw new IOException("the peer closed the connection");
            }

            _end += n;
        }
    }

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

    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    private const byte TcpStateClose = 7;
    private static readonly TimeSpan PeerCloseWait = TimeSpan.FromSeconds(2);
    private int _disposed;

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
