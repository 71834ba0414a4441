using System.Globalization;
using System.Runtime.InteropServices;
using Extip.Netlink.Native;

namespace Extip.Netlink;

/// <summary>
/// The scheduler's view of this process's threads: nice values (Linux keeps them per thread;
/// a new thread inherits its maker's), and real-time priority for the few threads whose timing
/// is the product (BFD).
/// </summary>
public static unsafe class Scheduling
{
    private const int SchedFifo = 1;
    private const int SchedResetOnFork = 0x40000000;
    private const int Esrch = 3;

    /// <summary>Sets the nice value of every thread the process has now; returns how many it set.</summary>
    public static int SetNiceAll(int nice)
    {
        var set = 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            if (int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out var tid))
            {
                if (Libc.SetPriority(Libc.PrioProcess, tid, nice) == 0)
                {
                    set++;
                }
                else if (Marshal.GetLastPInvokeError() is var errno && errno != Esrch)
                {
                    // ESRCH: the thread ended meanwhile.
                    throw new NetlinkException(errno, $"setpriority({tid}, {nice})", null);
                }
            }
        }

        return set;
    }

    /// <summary>
    /// Puts the calling thread in the real-time class (SCHED_FIFO at <paramref name="priority"/>;
    /// threads it makes start in the normal class): the CPU share of the process (nice, a busy
    /// machine) no longer delays it. Needs CAP_SYS_NICE; returns null when done, else why not.
    /// </summary>
    public static string? TryRealTime(int priority)
    {
        var param = priority;
        return Libc.SchedSetScheduler(0, SchedFifo | SchedResetOnFork, &param) == 0 ? null : Libc.Describe(Marshal.GetLastPInvokeError());
    }
}
