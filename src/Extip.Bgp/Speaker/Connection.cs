using System.Buffers;
using System.Net;
using Extip.Bgp.Wire;
using Extip.Core.Concurrency;

namespace Extip.Bgp.Speaker;

/// <summary>
/// One transport connection of a BGP session: whole messages in (a decode error is the peer's, as
/// <see cref="BgpProtocolException"/>), messages out, many UPDATEs in few writes.
/// </summary>
internal sealed class Connection(IBgpConnection transport, bool outgoing, TimeProvider time) : IDisposable
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

    public IPEndPoint? LocalEndPoint => transport.LocalEndPoint;

    public EndPoint? RemoteEndPoint => transport.RemoteEndPoint;

    /// <summary>Our address on this connection: the next hop we announce ("next hop self").</summary>
    public IPAddress LocalAddress => LocalEndPoint?.Address is { IsIPv4MappedToIPv6: true } a ? a.MapToIPv4() : LocalEndPoint?.Address ?? throw new InvalidOperationException("a connection without a local address");

    public async Task SendAsync(BgpMessage m, CancellationToken ct) => await transport.SendAsync(BgpCodec.Encode(m, Codec), ct).ConfigureAwait(false);

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
                    await transport.SendAsync(batch.AsMemory(0, used), ct).ConfigureAwait(false);
                    used = 0;
                }
            }

            if (used > 0)
            {
                await transport.SendAsync(batch.AsMemory(0, used), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch);
        }
    }

    /// <summary>The next message; nothing within <paramref name="timeout"/> (on the session's clock) is the hold timer expiring.</summary>
    public async Task<BgpMessage> ReadAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var limit = new Deadline(time, timeout, ct);
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
                n = await transport.ReceiveAsync(_buffer.AsMemory(_end), limit.Token).ConfigureAwait(false);
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

    public void Shutdown() => transport.Shutdown();

    public void Dispose() => transport.Dispose();
}
