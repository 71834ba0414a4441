using System.Runtime.CompilerServices;
using Extip.Kubernetes.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Extip.Kubernetes.Tests.Runtime;

public class IdleTrimTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
    private long _allocated = 123_456_789;
    private int _trims;

    private IdleTrim Trim() => new(_time, NullLogger.Instance, () => _allocated, () =>
    {
        _trims++;
        return new TrimResult(64 << 20, 32 << 20, TimeSpan.FromMilliseconds(3));
    });

    private void Tick(long allocatedDuringIt)
    {
        _allocated += allocatedDuringIt;
        _time.Advance(IdleTrim.Interval);
    }

    [Fact]
    public void ABurstThenAQuietInterval_TrimsOnce_AndNotAgainUntilTheNextBurst()
    {
        using var trim = Trim();
        Tick(IdleTrim.BurstBytes);
        Assert.Equal(0, _trims); // still busy: the burst was this interval
        Tick(0);
        Assert.Equal(1, _trims);
        Assert.Equal(1, trim.Trims);

        for (var i = 0; i < 10; i++)
        {
            Tick(IdleTrim.QuietBytes / 2);
        }

        Assert.Equal(1, _trims);
    }

    [Fact]
    public void ADaemonThatStaysBusy_IsNeverPaused_ThenTrimmedOnceItQuietens()
    {
        using var trim = Trim();
        for (var i = 0; i < 30; i++)
        {
            Tick(IdleTrim.QuietBytes + 1);
        }

        Assert.Equal(0, _trims);
        Tick(IdleTrim.QuietBytes);
        Assert.Equal(1, _trims);
    }

    [Fact]
    public void AnIdleDaemon_IsTrimmedOncePerBurstOfSmallAllocations()
    {
        using var trim = Trim();
        var perTick = IdleTrim.QuietBytes / 4;
        var ticks = (int)(IdleTrim.BurstBytes / perTick);
        for (var i = 0; i < ticks - 1; i++)
        {
            Tick(perTick);
        }

        Assert.Equal(0, _trims);
        Tick(perTick);
        Assert.Equal(1, _trims);
        for (var i = 0; i < ticks - 1; i++)
        {
            Tick(perTick);
        }

        Assert.Equal(1, _trims);
    }

    [Fact]
    public void TheRealTrim_GivesBackTheHeapAGarbageBurstGrew()
    {
        using var trim = new IdleTrim(TimeProvider.System, NullLogger.Instance);
        var committed = Burst();

        // The burst (64 MB) is behind it and nothing was allocated since the last look.
        Assert.True(trim.Check() || trim.Check(), "no trim after a burst followed by quiet");
        var after = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        Assert.True(after < committed - (32L << 20), $"committed {committed >> 20} MB before the trim, {after >> 20} MB after");
    }

    /// <summary>64 MB of objects kept alive through the collections their allocation causes, then dropped; the heap's committed bytes at the last of those collections.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Burst()
    {
        var kept = new List<byte[]>();
        for (var i = 0; i < 1024; i++)
        {
            kept.Add(new byte[64 * 1024]);
        }

        var committed = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        GC.KeepAlive(kept);
        return committed;
    }
}
