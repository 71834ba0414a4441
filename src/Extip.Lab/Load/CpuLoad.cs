using System.Diagnostics;
using Extip.Netlink;

namespace Extip.Lab.Load;

/// <summary>
/// A busy machine on purpose: processes that spin on every core, and this process given a low
/// share of the CPU (every thread niced). Disposing stops the spinners and gives the share back.
/// </summary>
public sealed class CpuLoad : IDisposable
{
    private readonly List<Process> _hogs = [];
    private readonly int _nice;

    private CpuLoad(int nice) => _nice = nice;

    /// <summary>
    /// Starts <paramref name="hogs"/> spinning processes (marked as the site's, so a sweep after a
    /// crash ends them), then nices this process to <paramref name="nice"/>: start what should
    /// not be niced (routers) before.
    /// </summary>
    public static CpuLoad Start(Site site, int hogs, int nice)
    {
        ArgumentNullException.ThrowIfNull(site);
        var load = new CpuLoad(nice);
        for (var i = 0; i < hogs; i++)
        {
            load._hogs.Add(site.Start(null, "sh", ["-c", "while :; do :; done"]));
        }

        if (nice != 0)
        {
            Scheduling.SetNiceAll(nice);
        }

        return load;
    }

    public int Hogs => _hogs.Count;

    public int Nice => _nice;

    public void Dispose()
    {
        if (_nice != 0)
        {
            Scheduling.SetNiceAll(0);
        }

        foreach (var p in _hogs.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }

        _hogs.Clear();
    }
}
