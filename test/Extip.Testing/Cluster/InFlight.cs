namespace Extip.Testing.Cluster;

/// <summary>
/// Counts the requests a client has sent and not yet had answered (a watch counts until its
/// headers arrive). A test on a virtual clock moves the clock only while nothing is in flight:
/// virtual time must not pass during a real round trip to the API server, or a deadline the code
/// under test armed around that call fires although the server answered at once.
/// </summary>
public sealed class InFlight : DelegatingHandler
{
    private readonly Lock _gate = new();
    private int _count;
    private TaskCompletionSource _idle = Done();

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Completes when no request is in flight (at once if none is).</summary>
    public Task IdleAsync(CancellationToken ct = default)
    {
        lock (_gate)
        {
            return _idle.Task.WaitAsync(ct);
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_count++ == 0)
            {
                _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            TaskCompletionSource? idle = null;
            lock (_gate)
            {
                if (--_count == 0)
                {
                    idle = _idle;
                }
            }

            idle?.TrySetResult();
        }
    }

    private static TaskCompletionSource Done()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }
}
