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

    /// <summary>The calling thread's id in the kernel (its directory under /proc/self/task).</summary>
    public static int CurrentThreadId() => Libc.GetTid();

    /// <summary>
    /// How long the thread <paramref name="tid"/> of this process has run on a CPU, to the
    /// nanosecond (the scheduler's own account, /proc/self/task/TID/schedstat); null when it is gone.
    /// </summary>
    public static TimeSpan? ThreadCpuTime(int tid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/self/task/{tid.ToString(CultureInfo.InvariantCulture)}/schedstat");
            return TimeSpan.FromTicks(long.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture) / 100);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
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
