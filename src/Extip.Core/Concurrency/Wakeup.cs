using System.Threading.Channels;

namespace Extip.Core.Concurrency;

/// <summary>
/// A wake-up call for a loop that sleeps between passes: any number of <see cref="Set"/> calls
/// before the loop next looks count as one, and none is lost between a pass and the next wait.
/// </summary>
public sealed class Wakeup(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Set() => _channel.Writer.TryWrite(true);

    /// <summary>Takes a pending wake-up, if there is one.</summary>
    public bool TryConsume() => _channel.Reader.TryRead(out _);

    /// <summary>Completes when a wake-up is pending (without taking it), for use beside other tasks.</summary>
    public Task<bool> WhenSetAsync(CancellationToken ct) => _channel.Reader.WaitToReadAsync(ct).AsTask();

    /// <summary>
    /// Sleeps until woken or until <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>
    /// for none) passes on the clock it was given, and takes the wake-up. Returns false only when <paramref name="ct"/> ends the wait.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) =>
        await NextAsync(timeout, ct).ConfigureAwait(false) != WakeReason.Stopped;

    /// <summary>
    /// Sleeps until woken or until <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>
    /// for none) passes on the clock it was given, takes the wake-up, and says which it was.
    /// </summary>
    public async Task<WakeReason> NextAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var timer = new Deadline(_time, timeout, ct);
        try
        {
            await _channel.Reader.ReadAsync(timer.Token).ConfigureAwait(false);
            return WakeReason.Woken;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return WakeReason.TimedOut;
        }
        catch (OperationCanceledException)
        {
            return WakeReason.Stopped;
        }
    }
}

/// <summary>Why <see cref="Wakeup.NextAsync"/> returned.</summary>
public enum WakeReason
{
    Woken,
    TimedOut,

    /// <summary>The caller's token was cancelled.</summary>
    Stopped,
}
