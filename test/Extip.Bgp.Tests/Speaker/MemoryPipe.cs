using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Extip.Bgp.Speaker;
using Extip.Bgp.Wire;

namespace Extip.Bgp.Tests.Speaker;

/// <summary>Two ends of an in-memory byte stream, as a TCP connection between two speakers would be.</summary>
internal static class MemoryPipe
{
    public static (End A, End B) Create(IPEndPoint a, IPEndPoint b)
    {
        var ab = Channel.CreateUnbounded<byte[]>();
        var ba = Channel.CreateUnbounded<byte[]>();
        return (new End(ba.Reader, ab.Writer, a, b), new End(ab.Reader, ba.Writer, b, a));
    }

    public sealed class End(ChannelReader<byte[]> input, ChannelWriter<byte[]> output, IPEndPoint local, IPEndPoint remote) : IBgpConnection
    {
        private byte[] _partial = [];
        private int _offset;

        public IPEndPoint? LocalEndPoint => local;

        public EndPoint? RemoteEndPoint => remote;

        public bool Closed { get; private set; }

        public ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct) =>
            output.TryWrite(bytes.ToArray()) ? ValueTask.CompletedTask : throw new IOException("the connection is closed");

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct)
        {
            if (_offset == _partial.Length)
            {
                if (!await input.WaitToReadAsync(ct).ConfigureAwait(false) || !input.TryRead(out var next))
                {
                    return 0;
                }

                (_partial, _offset) = (next, 0);
            }

            var n = Math.Min(buffer.Length, _partial.Length - _offset);
            _partial.AsMemory(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public void Shutdown() => output.TryComplete();

        public void Dispose()
        {
            Closed = true;
            output.TryComplete();
        }
    }
}

/// <summary>The test's side of a connection: whole BGP messages, as the peer would read and write them.</summary>
internal sealed class PeerWire(MemoryPipe.End end)
{
    /// <summary>Only so that a broken session fails the test instead of hanging it; no test asserts on it.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(1);
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _used;

    public MemoryPipe.End End => end;

    public Task SendAsync(BgpMessage m) => end.SendAsync(BgpCodec.Encode(m, CodecContext.Modern), CancellationToken.None).AsTask();

    /// <summary>The next message, or null when the session closed the connection.</summary>
    public async Task<BgpMessage?> ReadAsync()
    {
        using var guard = new CancellationTokenSource(Guard);
        while (true)
        {
            var m = BgpCodec.TryDecode(_buffer.AsSpan(0, _used), CodecContext.Modern, out var consumed);
            if (m is not null)
            {
                Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _used - consumed);
                _used -= consumed;
                return m;
            }

            var n = await end.ReceiveAsync(_buffer.AsMemory(_used), guard.Token);
            if (n == 0)
            {
                return null;
            }

            _used += n;
        }
    }

    public async Task<T> ExpectAsync<T>()
        where T : BgpMessage
    {
        var m = await ReadAsync();
        return m as T ?? throw new Xunit.Sdk.XunitException($"expected {typeof(T).Name}, got {m?.ToString() ?? "the end of the connection"}");
    }
}

/// <summary>
/// A session's way out: each connect attempt is counted and answered as the test says (a pipe
/// whose other end the test gets, a refusal, or no answer at all).
/// </summary>
internal sealed class MemoryConnector(IPEndPoint local, IPEndPoint remote) : IBgpConnector
{
    private readonly Channel<PeerWire> _accepted = Channel.CreateUnbounded<PeerWire>();
    private int _attempts;

    public enum Answer
    {
        Accept,
        Refuse,
        Silence,
    }

    public Answer Next { get; set; } = Answer.Accept;

    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>The peer's end of the next connection the session makes.</summary>
    public async Task<PeerWire> NextAsync()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            return await _accepted.Reader.ReadAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the session made no connection (attempts: {Attempts})");
        }
    }

    public async Task<IBgpConnection> ConnectAsync(PeerOptions peer, CancellationToken ct)
    {
        Interlocked.Increment(ref _attempts);
        switch (Next)
        {
            case Answer.Refuse:
                throw new SocketException((int)SocketError.ConnectionRefused);
            case Answer.Silence:
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                throw new OperationCanceledException(ct);
            default:
                var (ours, theirs) = MemoryPipe.Create(local, remote);
                _accepted.Writer.TryWrite(new PeerWire(theirs));
                return ours;
        }
    }
}
