using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Extip.Netlink.Native;

namespace Extip.Netlink.L2;

/// <summary>A send-only AF_PACKET raw socket in one namespace: whole Ethernet frames out of a given interface.</summary>
public sealed unsafe class PacketSocket : IDisposable
{
    private int _fd;

    private PacketSocket(int fd) => _fd = fd;

    public static PacketSocket Open(string? netns = null)
    {
        // Protocol 0: the socket receives nothing, so it costs nothing on a busy link.
        var fd = NetNs.Run(netns, () => Libc.Socket(Libc.AfPacket, Libc.SockRaw | Libc.SockCloexec, 0));
        if (fd < 0)
        {
            throw new NetlinkException(Marshal.GetLastPInvokeError(), "open packet socket", null);
        }

        return new PacketSocket(fd);
    }

    public void Send(int interfaceIndex, ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14)
        {
            throw new ArgumentException("a frame has at least an Ethernet header", nameof(frame));
        }

        Span<byte> sll = stackalloc byte[20];
        sll.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(sll, Libc.AfPacket);
        frame.Slice(12, 2).CopyTo(sll[2..]); // protocol, network order, as in the frame
        BinaryPrimitives.WriteInt32LittleEndian(sll[4..], interfaceIndex);
        sll[11] = 6;
        frame[..6].CopyTo(sll[12..]);
        var fd = _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(PacketSocket));
        fixed (byte* p = frame)
        fixed (byte* a = sll)
        {
            if (Libc.SendTo(fd, p, frame.Length, 0, a, sll.Length) < 0)
            {
                throw new NetlinkException(Marshal.GetLastPInvokeError(), $"send frame on interface #{interfaceIndex}", null);
            }
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }
}
