using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Extip.Bgp.Bfd;

/// <summary>
/// How to start the BFD transmit worker: a program and its arguments, to which the worker's own
/// options are added. The agent's is its own binary with <c>bfd-transmit</c>.
/// </summary>
public sealed record BfdTransmitCommand(string File, IReadOnlyList<string> Args)
{
    /// <summary>
    /// The running program started again with <paramref name="verb"/>: its apphost, or
    /// <c>dotnet</c> and <paramref name="dll"/> when it runs under the muxer.
    /// </summary>
    public static BfdTransmitCommand Self(string dll, string verb = "bfd-transmit")
    {
        var host = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(host) == "dotnet" ? new(host, [dll, verb]) : new(host, [verb]);
    }

    /// <summary>
    /// <paramref name="dll"/> (an extip CLI built beside a test or a tool) under the <c>dotnet</c>
    /// muxer: the one running this process, else the SDK's (<c>DOTNET_HOST_PATH</c>), else the one on PATH.
    /// </summary>
    public static BfdTransmitCommand UnderDotnet(string dll, string verb = "bfd-transmit")
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } sdk ? sdk
            : "dotnet";
        return new(host, [dll, verb]);
    }
}

/// <summary>
/// The frames an endpoint writes to its transmit worker's standard input, 64 bytes each:
/// an operation, a session (our discriminator), then the operation's fields.
/// </summary>
internal static class BfdTxFrame
{
    public const int Size = 64;

    /// <summary>A session's socket: family, peer, optional local address, the peer's port.</summary>
    public const byte Open = (byte)'O';

    /// <summary>The periodic packet and its interval (none: stop sending).</summary>
    public const byte Set = (byte)'S';

    /// <summary>One packet at once (the answer to a Poll).</summary>
    public const byte Once = (byte)'F';

    public const byte Close = (byte)'C';

    /// <summary>Nothing but "the endpoint is alive": the worker sends only while these come.</summary>
    public const byte Keep = (byte)'K';

    public static void WriteOpen(Span<byte> f, uint id, IPAddress peer, IPAddress? local, int port)
    {
        f.Clear();
        f[0] = Open;
        BinaryPrimitives.WriteUInt32LittleEndian(f[1..], id);
        f[5] = peer.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4;
        peer.TryWriteBytes(f.Slice(6, 16), out _);
        if (local is not null)
        {
            f[22] = 1;
            local.TryWriteBytes(f.Slice(23, 16), out _);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(f[39..], (ushort)port);
    }

    public static (uint Id, IPAddress Peer, IPAddress? Local, int Port) ReadOpen(ReadOnlySpan<byte> f)
    {
        var length = f[5] == 6 ? 16 : 4;
        var peer = new IPAddress(f.Slice(6, length));
        var local = f[22] == 1 ? new IPAddress(f.Slice(23, length)) : null;
        return (Id(f), peer, local, BinaryPrimitives.ReadUInt16LittleEndian(f[39..]));
    }

    public static void WriteSet(Span<byte> f, uint id, in BfdPacket? packet, TimeSpan interval, double jitterHigh)
    {
        f.Clear();
        f[0] = Set;
        BinaryPrimitives.WriteUInt32LittleEndian(f[1..], id);
        if (packet is { } p)
        {
            f[5] = 1;
            BinaryPrimitives.WriteUInt32LittleEndian(f[6..], (uint)Math.Clamp(interval.Ticks / 10, 1, uint.MaxValue));
            f[10] = (byte)Math.Round(jitterHigh * 100);
            p.Write(f.Slice(11, BfdPacket.Length));
        }
    }

    public static void WriteOnce(Span<byte> f, uint id, in BfdPacket packet)
    {
        f.Clear();
        f[0] = Once;
        BinaryPrimitives.WriteUInt32LittleEndian(f[1..], id);
        packet.Write(f.Slice(11, BfdPacket.Length));
    }

    public static void WriteBare(Span<byte> f, byte op, uint id)
    {
        f.Clear();
        f[0] = op;
        BinaryPrimitives.WriteUInt32LittleEndian(f[1..], id);
    }

    public static uint Id(ReadOnlySpan<byte> f) => BinaryPrimitives.ReadUInt32LittleEndian(f[1..]);

    public static bool Periodic(ReadOnlySpan<byte> f) => f[5] == 1;

    public static uint IntervalUs(ReadOnlySpan<byte> f) => BinaryPrimitives.ReadUInt32LittleEndian(f[6..]);

    public static byte JitterHighPercent(ReadOnlySpan<byte> f) => f[10];

    public static ReadOnlySpan<byte> Packet(ReadOnlySpan<byte> f) => f.Slice(11, BfdPacket.Length);
}
