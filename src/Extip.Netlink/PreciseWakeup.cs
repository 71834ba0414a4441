using System.Runtime.InteropServices;
using Extip.Netlink.Native;
using Microsoft.Win32.SafeHandles;

namespace Extip.Netlink;

/// <summary>
/// A wait that ends when another thread calls <see cref="Set"/> or when the timeout runs out,
/// to the microsecond (an eventfd and <c>ppoll</c>): <see cref="WaitHandle.WaitOne(TimeSpan)"/>
/// counts in whole milliseconds, too coarse for a timer thread that sends BFD packets every
/// 10 ms. Like an auto-reset event: a wait that sees the signal consumes it.
/// </summary>
public sealed unsafe class PreciseWakeup : IDisposable
{
    private readonly SafeFileHandle _fd;

    public PreciseWakeup()
    {
        var fd = Libc.EventFd(0, Libc.EfdCloexec | Libc.EfdNonblock);
        if (fd < 0)
        {
            throw new NetlinkException(Marshal.GetLastPInvokeError(), "eventfd", null);
        }

        _fd = new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Ends the current or the next wait. After <see cref="Dispose"/>, does nothing.</summary>
    public void Set()
    {
        var added = false;
        try
        {
            // Held while writing: the descriptor cannot be closed, and its number handed to
            // another file, under the write.
            _fd.DangerousAddRef(ref added);
            ulong one = 1;
            Libc.Write(_fd.DangerousGetHandle(), &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }

    /// <summary>Waits for <see cref="Set"/> at most <paramref name="timeout"/>; true when it was set (and is reset now).</summary>
    public bool Wait(TimeSpan timeout)
    {
        var added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            var fd = _fd.DangerousGetHandle();
            var ticks = Math.Max(0, timeout.Ticks);
            var spec = new Libc.Timespec { Seconds = ticks / TimeSpan.TicksPerSecond, Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100 };
            var pfd = new Libc.PollFd { Fd = (int)fd, Events = Libc.PollIn };

            // EINTR (a signal) ends the wait early: the caller looks at its timers again anyway.
            if (Libc.PPoll(&pfd, 1, &spec, null) <= 0 || (pfd.Revents & Libc.PollIn) == 0)
            {
                return false;
            }

            ulong count;
            Libc.Read(fd, &count, sizeof(ulong));
            return true;
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }

    public void Dispose() => _fd.Dispose();
}
