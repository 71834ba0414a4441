using Microsoft.Extensions.Time.Testing;

namespace Extip.Testing.Time;

/// <summary>
/// A virtual clock that also says which timers the code under test has armed (and not yet
/// disposed), so a test advances it only once that code waits, and to exactly when it wakes.
/// </summary>
public sealed class VirtualClock : FakeTimeProvider
{
    /// <summary>Only so that broken code fails the test instead of hanging it; no test asserts on it.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly List<Armed> _armed = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Armed(DateTimeOffset due, ITimer inner, VirtualClock clock) : ITimer
    {
        public DateTimeOffset Due { get; set; } = due;

        public bool Live { get; set; } = true;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            clock.Rearm(this, dueTime);
            return inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            Live = false;
            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Live = false;
            return inner.DisposeAsync();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Armed(DateTimeOffset.MaxValue, base.CreateTimer(callback, state, dueTime, period), this);
        Rearm(timer, dueTime);
        return timer;
    }

    /// <summary>Completes once a timer due exactly <paramref name="after"/> from now is armed (already, or later).</summary>
    public Task ArmedAsync(TimeSpan after)
    {
        var due = GetUtcNow() + after;
        return UntilAsync(t => t.Due == due, $"a timer due at +{after}");
    }

    /// <summary>Completes once a timer due later than now and within <paramref name="limit"/> is armed.</summary>
    public Task ArmedWithinAsync(TimeSpan limit)
    {
        var now = GetUtcNow();
        return UntilAsync(t => t.Live && t.Due > now && t.Due <= now + limit, $"a timer due within {limit}");
    }

    /// <summary>Completes once a live timer whose due time satisfies <paramref name="due"/> is armed (already, or later).</summary>
    public Task ArmedWhereAsync(Func<DateTimeOffset, bool> due, string what) => UntilAsync(t => t.Live && due(t.Due), what);

    /// <summary>The earliest due time of the live timers due later than now and within <paramref name="limit"/>; null when none is armed.</summary>
    public DateTimeOffset? EarliestDue(TimeSpan limit)
    {
        var now = GetUtcNow();
        lock (_gate)
        {
            var due = _armed.Where(t => t.Live && t.Due > now && t.Due <= now + limit).Select(t => t.Due).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
            return due == DateTimeOffset.MaxValue ? null : due;
        }
    }

    private void Rearm(Armed timer, TimeSpan dueTime)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            timer.Due = dueTime == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : GetUtcNow() + dueTime;
            _armed.Add(timer);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private async Task UntilAsync(Func<Armed, bool> match, string what, CancellationToken ct = default)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(ct);
        guard.CancelAfter(Guard);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_armed.Any(match))
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(guard.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                List<string> armed;
                lock (_gate)
                {
                    armed = _armed.Select(d => (d.Due - Start).ToString()).ToList();
                }

                throw new TimeoutException($"nothing armed {what}; armed: {string.Join(", ", armed)}");
            }
        }
    }
}
