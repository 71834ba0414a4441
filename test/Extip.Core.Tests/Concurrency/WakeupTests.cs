using Extip.Core.Concurrency;

namespace Extip.Core.Tests.Concurrency;

public sealed class WakeupTests
{
    [Fact]
    public async Task SetBeforeTheWait_IsNotLost_AndManySetsCountAsOne()
    {
        var w = new Wakeup();
        w.Set();
        w.Set();
        Assert.True(await w.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None));
        Assert.False(w.TryConsume());
    }

    [Fact]
    public async Task Timeout_EndsTheWait_Cancellation_SaysStop()
    {
        var w = new Wakeup();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await w.WaitAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None));
        Assert.True(sw.ElapsedMilliseconds >= 40);
        using var cts = new CancellationTokenSource(50);
        Assert.False(await w.WaitAsync(Timeout.InfiniteTimeSpan, cts.Token));
    }

    [Fact]
    public async Task WhenSet_CompletesWithoutTakingTheWakeup()
    {
        var w = new Wakeup();
        var pending = w.WhenSetAsync(CancellationToken.None);
        Assert.False(pending.IsCompleted);
        w.Set();
        Assert.True(await pending);
        Assert.True(w.TryConsume());
    }
}
