using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Extip.Netlink.Native;

namespace Extip.Netlink;

/// <summary>
/// UDP receives that .NET's <see cref="Socket"/> does not offer: without waiting (so that one
/// lock can cover taking a datagram off the socket and handling it), and with the time the
/// kernel received it (<c>SO_TIMESTAMPNS</c>), so that a datagram handled late still counts from
/// when it arrived.
/// </summary>
public static unsafe class Datagrams
{
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    /// <summary>Asks the kernel to stamp every datagram the socket receives.</summary>
    public static void EnableTimestamps(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        socket.SetRawSocketOption(Libc.SolSocket, Libc.SoTimestampns, BitConverter.GetBytes(1));
    }

    /// <summary>Waits until a datagram is waiting, at most <paramref name="timeoutMs"/>; false when none came.</summary>
    public static bool WaitReadable(Socket socket, int timeoutMs)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var fd = new Libc.PollFd { Fd = (int)socket.Handle, Events = Libc.PollIn };
        var n = Libc.Poll(&fd, 1, timeoutMs);
        return n > 0 && (fd.Revents & Libc.PollIn) != 0;
    }

    /// <summary>
    /// Takes the next waiting datagram, if any, without waiting: its length, its source and when
    /// the kernel received it (wall clock, as the kernel keeps it; null when unknown). False when
    /// none is waiting. An ICMP error queued for the socket is consumed and reported as such.
    /// </summary>
    public static bool TryReceive(Socket socket, Span<byte> buffer, out Received received)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var fd = socket.Handle;
        var address = stackalloc byte[128];
        while (true)
        {
            var addressLength = 128;
            nint n;
            fixed (byte* b = buffer)
            {
                n = Libc.RecvFrom(fd, b, buffer.Length, Libc.MsgDontwait, address, &addressLength);
            }

            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.Eintr)
                {
                    continue;
                }

                received = default;
                if (errno == Libc.Eagain)
                {
                    return false;
                }

                received = new Received(0, null, null, Libc.Describe(errno));
                return true;
            }

            long* stamp = stackalloc long[2];
            DateTimeOffset? at = Libc.Ioctl(fd, Libc.SiocgStampns, stamp) == 0 && stamp[0] > 0
                ? DateTimeOffset.FromUnixTimeSeconds(stamp[0]).AddTicks(stamp[1] / 100)
                : null;
            received = new Received((int)n, SourceOf(new ReadOnlySpan<byte>(address, addressLength)), at, null);
            return true;
        }
    }

    private static IPAddress? SourceOf(ReadOnlySpan<byte> sa)
    {
        if (sa.Length < 2)
        {
            return null;
        }

        return BinaryPrimitives.ReadUInt16LittleEndian(sa) switch
        {
            AfInet when sa.Length >= 8 => new IPAddress(sa.Slice(4, 4)),
            AfInet6 when sa.Length >= 28 => Mapped(new IPAddress(sa.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(sa.Slice(24)))),
            _ => null,
        };
    }

    private static IPAddress Mapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>One datagram taken off a socket; <see cref="Error"/> set when it was an ICMP error instead.</summary>
    public readonly record struct Received(int Length, IPAddress? From, DateTimeOffset? KernelTime, string? Error);
}
