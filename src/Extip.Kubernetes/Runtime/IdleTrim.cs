using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Extip.Kubernetes.Runtime;

/// <summary>
/// Gives back the memory a burst of work left behind, once the daemon is quiet again. .NET's
/// collector keeps the heap a burst grew: an agent that put 1,000 addresses on its node and took
/// them off kept 6 to 9 MB more of it than before, most of it free space, for as long as it ran
/// (Go's runtime, the peers', returns such memory in the background). Every
/// <see cref="Interval"/> this looks at how much the process has allocated: when at least
/// <see cref="BurstBytes"/> since the last trim are followed by an interval of at most
/// <see cref="QuietBytes"/>, one compacting collection returns the free space to the system.
/// A daemon that stays busy is never paused for it, and an idle one once per
/// <see cref="BurstBytes"/> it allocates.
/// </summary>
public sealed class IdleTrim : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    public const long BurstBytes = 16L << 20;
    public const long QuietBytes = 1L << 20;

    private readonly Func<long> _allocated;
    private readonly Func<TrimResult> _trim;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private long _atTrim;
    private long _atCheck;

    /// <param name="allocated">Bytes the process has allocated so far; the collector's count when null.</param>
    /// <param name="trim">What a trim does; a blocking, compacting, aggressive collection when null.</param>
    public IdleTrim(TimeProvider time, ILogger logger, Func<long>? allocated = null, Func<TrimResult>? trim = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _allocated = allocated ?? (() => GC.GetTotalAllocatedBytes(precise: false));
        _trim = trim ?? Collect;
        _logger = logger;
        _atTrim = _atCheck = _allocated();
        _timer = time.CreateTimer(_ => Check(), null, Interval, Interval);
    }

    /// <summary>Trims done so far.</summary>
    public int Trims { get; private set; }

    /// <summary>Looks once (the timer calls it every <see cref="Interval"/>); true when it trimmed.</summary>
    public bool Check()
    {
        lock (_lock)
        {
            var now = _allocated();
            var sinceTrim = now - _atTrim;
            var sinceCheck = now - _atCheck;
            _atCheck = now;
            if (sinceTrim < BurstBytes || sinceCheck > QuietBytes)
            {
                return false;
            }

            var result = _trim();
            _atTrim = _atCheck = _allocated();
            Trims++;
            _logger.LogDebug(
                "memory trimmed after {AllocatedMb:F0} MB allocated: committed {BeforeMb:F1} -> {AfterMb:F1} MB, paused {PauseMs:F1} ms",
                sinceTrim / 1048576.0, result.CommittedBefore / 1048576.0, result.CommittedAfter / 1048576.0, result.Pause.TotalMilliseconds);
            return true;
        }
    }

    private static TrimResult Collect()
    {
        var before = GC.GetGCMemoryInfo().TotalCommittedBytes;
        var watch = Stopwatch.StartNew();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        watch.Stop();
        return new TrimResult(before, GC.GetGCMemoryInfo().TotalCommittedBytes, watch.Elapsed);
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>What a trim did: the collector's committed bytes before and after, and how long it took.</summary>
public readonly record struct TrimResult(long CommittedBefore, long CommittedAfter, TimeSpan Pause);
