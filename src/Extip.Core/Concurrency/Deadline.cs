namespace Extip.Core.Concurrency;

/// <summary>
/// A cancellation token that fires when the caller's does, or when <c>timeout</c> has passed on
/// the given clock: <c>CancelAfter</c> on a <see cref="TimeProvider"/>, so that code waiting with
/// a timeout runs in virtual time under test.
/// </summary>
public sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource? _timer;
    private readonly CancellationTokenSource _linked;

    /// <param name="timeout"><see cref="Timeout.InfiniteTimeSpan"/> for none; a negative one is zero.</param>
    public Deadline(TimeProvider time, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            _linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
            return;
        }

        _timer = new CancellationTokenSource(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _timer.Token);
    }

    public CancellationToken Token => _linked.Token;

    /// <summary>Whether the time ran out (rather than the caller cancelling).</summary>
    public bool Expired => _timer?.IsCancellationRequested == true;

    public void Cancel() => _linked.Cancel();

    public void Dispose()
    {
        _linked.Dispose();
        _timer?.Dispose();
    }
}
