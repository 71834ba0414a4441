using System.Runtime.InteropServices;
using Extip.Netlink.Native;

namespace Extip.Netlink;

/// <summary>An AF_NETLINK/NETLINK_ROUTE socket in one network namespace.</summary>
public sealed unsafe class NetlinkSocket : IDisposable
{
    private int _fd;

    private NetlinkSocket(int fd, string? netns)
    {
        _fd = fd;
        Namespace = netns;
    }

    public string? Namespace { get; }

    public int Handle => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(NetlinkSocket));

    /// <summary>Opens a socket in <paramref name="netns"/> (null: this process's namespace), joined to the given multicast groups.</summary>
    public static NetlinkSocket Open(string? netns = null, IEnumerable<int>? groups = null, int receiveBuffer = 0)
    {
        var groupList = groups?.ToList() ?? [];
        var fd = NetNs.Run(netns, () =>
        {
            var s = Libc.Socket(Libc.AfNetlink, Libc.SockRaw | Libc.SockCloexec, Libc.NetlinkRoute);
            if (s < 0)
            {
                throw new NetlinkException(Marshal.GetLastPInvokeError(), "open netlink socket", null);
            }

            return s;
        });
        var sock = new NetlinkSocket(fd, netns);
        try
        {
            Span<byte> addr = stackalloc byte[12];
            addr.Clear();
            addr[0] = Libc.AfNetlink;
            fixed (byte* p = addr)
            {
                Check(Libc.Bind(fd, p, addr.Length), "bind netlink socket");
            }

            // Errors carry the kernel's message and only the header of the request.
            Libc.SetInt(fd, Libc.SolNetlink, Libc.NetlinkExtAck, 1);
            Libc.SetInt(fd, Libc.SolNetlink, Libc.NetlinkCapAck, 1);
            if (receiveBuffer > 0)
            {
                if (Libc.SetInt(fd, Libc.SolSocket, Libc.SoRcvbufforce, receiveBuffer) != 0)
                {
                    Libc.SetInt(fd, Libc.SolSocket, Libc.SoRcvbuf, receiveBuffer);
                }
            }

            foreach (var g in groupList)
            {
                Check(Libc.SetInt(fd, Libc.SolNetlink, Libc.NetlinkAddMembership, g), $"join netlink group {g}");
            }

            return sock;
        }
        catch
        {
            sock.Dispose();
            throw;
        }
    }

    public void Send(ReadOnlySpan<byte> data)
    {
        Span<byte> kernel = stackalloc byte[12];
        kernel.Clear();
        kernel[0] = Libc.AfNetlink;
        fixed (byte* p = data)
        fixed (byte* a = kernel)
        {
            while (true)
            {
                var n = Libc.SendTo(Handle, p, data.Length, 0, a, kernel.Length);
                if (n >= 0)
                {
                    return;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.Eintr)
                {
                    throw new NetlinkException(errno, "send netlink request", null);
                }
            }
        }
    }

    /// <summary>Receives one datagram; waits up to <paramref name="timeoutMs"/> (-1: forever). Returns 0 on timeout.</summary>
    public int Receive(Span<byte> buffer, int timeoutMs)
    {
        var pfd = new Libc.PollFd { Fd = Handle, Events = Libc.PollIn };
        while (true)
        {
            var ready = Libc.Poll(&pfd, 1, timeoutMs);
            if (ready < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.Eintr)
                {
                    continue;
                }

                throw new NetlinkException(errno, "wait for netlink", null);
            }

            if (ready == 0)
            {
                return 0;
            }

            fixed (byte* p = buffer)
            {
                var n = Libc.Recv(Handle, p, buffer.Length, Libc.MsgDontwait);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno is Libc.Eintr or Libc.Eagain)
                {
                    continue;
                }

                throw new NetlinkException(errno, "receive from netlink", null);
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

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new NetlinkException(Marshal.GetLastPInvokeError(), what, null);
        }
    }
}
