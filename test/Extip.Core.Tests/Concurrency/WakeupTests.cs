using Extip.Core.Concurrency;
using Microsoft.Extensions.Time.Testing;

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

    [Fact]
    public async Task Next_SaysWhetherWokenTimedOutOrStopped_OnTheClockItWasGiven()
    {
        var time = new FakeTimeProvider();
        var w = new Wakeup(time);
        w.Set();
        Assert.Equal(WakeReason.Woken, await w.NextAsync(TimeSpan.FromSeconds(1), CancellationToken.None));

        // Nothing pending: only the virtual clock ends the wait.
        var waiting = w.NextAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(WakeReason.TimedOut, await waiting);

        using var stop = new CancellationTokenSource();
        var stopped = w.NextAsync(Timeout.InfiniteTimeSpan, stop.Token);
        await stop.CancelAsync();
        Assert.Equal(WakeReason.Stopped, await stopped);
    }

    [Fact]
    public void Deadline_ExpiresOnItsClock_AndSaysSo_ButNotWhenTheCallerCancels()
    {
        var time = new FakeTimeProvider();
        using var caller = new CancellationTokenSource();
        using (var d = new Deadline(time, TimeSpan.FromSeconds(3), caller.Token))
        {
            time.Advance(TimeSpan.FromSeconds(2));
            Assert.False(d.Token.IsCancellationRequested);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(d.Token.IsCancellationRequested);
            Assert.True(d.Expired);
        }

        using (var d = new Deadline(time, Timeout.InfiniteTimeSpan, caller.Token))
        {
            time.Advance(TimeSpan.FromDays(1));
            Assert.False(d.Token.IsCancellationRequested);
            caller.Cancel();
            Assert.True(d.Token.IsCancellationRequested);
            Assert.False(d.Expired);
        }

        using var zero = new Deadline(time, TimeSpan.FromSeconds(-1), CancellationToken.None);
        Assert.True(zero.Token.IsCancellationRequested);
    }
}
